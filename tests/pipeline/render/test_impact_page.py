"""What `churn impact` prints and shows: one p-value format, the Holm column and its note, replaced rows."""

from __future__ import annotations

from datetime import date

import pandas as pd

from models.experiments import HOLDOUT, OUTREACH, by_tier, cumulative_churn, p_text
from pipeline.config import load_config
from pipeline.render.impact_page import HEADERS, Impact, cells, page, to_text


def rows(n, churned, tier, arm):
    return pd.DataFrame({"churned": [1] * churned + [0] * (n - churned), "mrr": 100.0, "tier": tier, "arm": arm,
                         "days_to_churn": [10.0] * churned + [None] * (n - churned)})


def impact(outcomes: pd.DataFrame, notes=()) -> Impact:
    spec = load_config(None, {"experiments": [{"name": "q1", "start": "2025-01-01", "tiers": ["high", "medium"],
                                               "holdout_share": 0.2}]}).experiments[0]
    return Impact(spec, date(2025, 12, 1), outcomes, outcomes, by_tier(outcomes, resamples=999),
                  cumulative_churn(outcomes, 90), None, 90, 30, notes=list(notes))


OUTCOMES = pd.concat([rows(800, 80, "high", OUTREACH), rows(200, 60, "high", HOLDOUT),
                      rows(400, 40, "medium", OUTREACH), rows(100, 17, "medium", HOLDOUT)])


def test_table_and_verdict_write_each_p_value_alike():
    result = impact(OUTCOMES)
    overall = result.results["all"]
    assert overall.p_value < 1e-6  # the table once printed 0.000 here, the verdict 4.6e-06
    assert cells("all", overall)["p"] == p_text(overall.p_value) != "0.000"
    assert f"p = {p_text(overall.p_value)}" in overall.verdict
    text = to_text(result)
    assert f"  {p_text(overall.p_value)}  " in text and f"verdict: {overall.verdict}" in text


def test_tier_rows_show_the_holm_p_value_with_a_plain_note():
    result = impact(OUTCOMES)
    text = to_text(result)
    assert HEADERS["p_holm"] == "p (Holm)" and "p (Holm)" in text.splitlines()[5]
    medium = result.results["medium"]
    assert cells("medium", medium)["p_holm"] == p_text(medium.p_holm) and cells("all", result.results["all"])[
        "p_holm"] == "—"
    assert "p (Holm): the 2 tier rows are 2 tests of one experiment, so their p-values are corrected" in text
    assert "The all row is the experiment's one pre-specified test and is not corrected." in text
    html = page(result, b"png")
    assert "<th>p (Holm)</th>" in html and "corrected for multiple comparisons (Holm)" in html


def test_replaced_rows_are_said_in_the_text_and_on_the_page():
    note = "replaced the stored results of q1 on 2025-12-01 (3 rows computed at 2025-12-01 06:00 UTC from a.duckdb, " \
           "model churn-model v1): they came from a different data source"
    result = impact(OUTCOMES, notes=[note])
    assert note + "\nverdict: " in to_text(result)
    assert note in page(result, b"png")
