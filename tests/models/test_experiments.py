"""Experiment assignment and the comparison of the arms, as pure functions."""

from __future__ import annotations

import hashlib
import random
from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from statsmodels.stats.multitest import multipletests

from models.experiments import (HOLDOUT, OUTREACH, arms, assignments, by_tier, compare, cumulative_churn, holm,
                                in_population, minimum_detectable_effect, p_text, unit_draw)

IDS = [f"A{i:05d}" for i in range(20_000)]


def test_the_draw_is_sha256_of_experiment_and_account_read_as_a_fraction():
    expected = int.from_bytes(hashlib.sha256(b"q1:A00001").digest()[:8], "big") / 2**64
    assert unit_draw("q1", "A00001") == expected == pytest.approx(0.0714333755)
    assert arms("retention-2025", [f"A{i:05d}" for i in range(1, 11)], 0.2).tolist() == [
        OUTREACH, OUTREACH, HOLDOUT, OUTREACH, OUTREACH, HOLDOUT, OUTREACH, OUTREACH, OUTREACH, OUTREACH]


def test_the_arm_depends_on_experiment_and_account_only():
    first = dict(zip(IDS[:500], arms("q1", IDS[:500], 0.1)))
    shuffled = IDS[:500].copy()
    random.Random(3).shuffle(shuffled)
    assert dict(zip(shuffled, arms("q1", shuffled, 0.1))) == first  # order of the rows
    assert dict(zip(IDS[:500], arms("q1", np.array(IDS[:500], dtype=object), 0.1))) == first
    other = arms("q2", IDS[:500], 0.1)
    assert (other != np.array(list(first.values()))).any()  # another experiment, another split
    larger = arms("q1", IDS[:500], 0.3)  # a larger share only adds accounts to the holdout
    assert all(larger[i] == HOLDOUT for i, arm in enumerate(first.values()) if arm == HOLDOUT)


@pytest.mark.parametrize("share", [0.05, 0.1, 0.5])
def test_the_holdout_share_is_within_its_binomial_interval(share):
    held = int((arms("share-test", IDS, share) == HOLDOUT).sum())
    low, high = binom.interval(0.999, len(IDS), share)
    assert low <= held <= high


def scores(n=8):
    return pd.DataFrame({
        "as_of_date": date(2025, 3, 1), "account_id": [f"A{i}" for i in range(n)],
        "churn_probability": np.linspace(0.9, 0.02, n), "risk_tier": ["high"] * 3 + ["medium"] * 3 + ["low"] * (n - 6),
        "mrr": 100.0, "segment": ["SMB", "Enterprise"] * (n // 2), "run_id": "r1",
    })


def test_population_by_tiers_threshold_and_segments():
    s = scores()
    assert in_population(s, tiers=["high"]).tolist() == [True] * 3 + [False] * 5
    assert in_population(s, threshold=0.5).sum() == int((s["churn_probability"] >= 0.5).sum())
    assert in_population(s, tiers=["high", "medium"], segments=["smb"]).tolist() == [
        True, False, True, False, True, False, False, False]


def test_assignments_skip_accounts_already_in_and_keep_the_values_at_entry():
    rows = assignments(scores(), "q1", 0.5, {"A0"}, tiers=["high", "medium"])
    assert rows["account_id"].tolist() == ["A1", "A2", "A3", "A4", "A5"]
    assert rows["arm"].tolist() == arms("q1", rows["account_id"], 0.5).tolist()
    assert rows["tier"].tolist() == ["high", "high", "medium", "medium", "medium"]
    assert (rows["assigned_date"] == date(2025, 3, 1)).all() and (rows["mrr"] == 100).all()


def arm_rows(n, churned, mrr=100.0, tier="high"):
    return pd.DataFrame({"churned": [1] * churned + [0] * (n - churned), "mrr": mrr, "tier": tier})


def test_a_clear_reduction_is_reported_with_its_intervals():
    c = compare(arm_rows(2000, 200), arm_rows(500, 100))
    assert c.rate_outreach == 0.1 and c.rate_holdout == 0.2 and c.difference == pytest.approx(-0.1)
    assert c.difference_ci[0] < -0.1 < c.difference_ci[1] < 0
    assert c.reduction == pytest.approx(0.5) and 0 < c.reduction_ci[0] < 0.5 < c.reduction_ci[1] < 1
    assert c.p_value < 1e-6 and c.significant
    assert c.mrr_retained_per_100 == pytest.approx(100 * (0.2 * 100 - 0.1 * 100))
    assert c.verdict.startswith("outreach reduced churn by 10.0 points")


def test_without_evidence_it_says_so_and_how_large_an_effect_it_could_see():
    c = compare(arm_rows(300, 27), arm_rows(30, 3))
    assert not c.significant and c.p_value > 0.5
    assert c.verdict.startswith("not enough evidence yet") and "would be detected with 80% power" in c.verdict
    assert compare(arm_rows(10, 1), arm_rows(0, 0)).verdict == (
        "not enough evidence yet: no account of the holdout has a closed outcome window")
    nothing = compare(arm_rows(50, 0), arm_rows(10, 0))
    assert not nothing.significant and nothing.p_value == 1.0 and nothing.mde_points is None


def test_the_minimum_detectable_effect_has_the_stated_power_and_shrinks_with_size():
    points, relative = minimum_detectable_effect(0.2, 800, 200)
    h = proportion_effectsize(0.2, 0.2 - points)
    assert NormalIndPower().power(h, nobs1=800, alpha=0.05, ratio=200 / 800) == pytest.approx(0.8, abs=1e-6)
    assert relative == pytest.approx(points / 0.2)
    assert minimum_detectable_effect(0.2, 8000, 2000)[0] < points
    assert minimum_detectable_effect(0.0, 800, 200) == (None, None)


def test_by_tier_and_the_cumulative_curve():
    out = pd.concat([arm_rows(100, 20).assign(arm=OUTREACH), arm_rows(50, 5, tier="medium").assign(arm=OUTREACH),
                     arm_rows(20, 8).assign(arm=HOLDOUT), arm_rows(10, 2, tier="medium").assign(arm=HOLDOUT)])
    results = by_tier(out)
    assert list(results) == ["all", "high", "medium"]
    assert (results["all"].n_outreach, results["high"].n_holdout, results["medium"].churned_holdout) == (150, 20, 2)
    timed = pd.DataFrame({"arm": [OUTREACH] * 4 + [HOLDOUT] * 2, "days_to_churn": [5, 30, None, None, 10, None]})
    curve = cumulative_churn(timed, 90).set_index("day")
    assert curve.loc[4, OUTREACH] == 0 and curve.loc[5, OUTREACH] == 0.25 and curve.loc[90, OUTREACH] == 0.5
    assert curve.loc[9, HOLDOUT] == 0 and curve.loc[10, HOLDOUT] == 0.5


@pytest.mark.parametrize("p, text", [(0.054, "0.054"), (0.0496, "0.0496"), (0.0504, "0.0504"), (0.11, "0.11"),
                                     (0.0075, "0.0075"), (4.6e-06, "4.6e-06"), (0.00496, "0.005"), (1.0, "1"),
                                     (0.04999, "0.04999"), (None, "n/a")])
def test_a_p_value_reads_with_two_digits_and_never_onto_the_level(p, text):
    assert p_text(p) == text


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.01])
def test_no_p_value_is_rounded_onto_or_across_the_level(alpha):
    rng = np.random.default_rng(3)
    for p in [*rng.uniform(alpha * 0.9, alpha * 1.1, 2000), alpha * (1 - 1e-9), alpha * (1 + 1e-9)]:
        shown = float(p_text(p, alpha))
        assert shown != alpha and (shown < alpha) == (p < alpha), (p, p_text(p, alpha))
        assert abs(shown - p) <= 0.05 * p  # and it is still the value, to two significant digits or better
    assert p_text(alpha, alpha) == f"{alpha:g}"


def test_the_verdict_writes_the_p_value_as_the_table_does():
    clear = compare(arm_rows(2000, 200), arm_rows(500, 100))
    assert clear.p_value < 1e-6 and f"(p = {p_text(clear.p_value)})" in clear.verdict
    weak = compare(arm_rows(400, 60), arm_rows(100, 22))
    assert 0.05 < weak.p_value < 0.2 and f"(p = {p_text(weak.p_value)})" in weak.verdict


def test_more_churn_in_the_outreach_arm_names_chance_as_a_cause():
    worse = compare(arm_rows(800, 200), arm_rows(200, 30))
    assert worse.significant and worse.difference > 0
    assert worse.verdict.startswith("outreach accounts churned MORE")
    assert f"about 1 in {1 / worse.p_value:,.0f} experiments where outreach does nothing" in worse.verdict
    assert "either chance" in worse.verdict and "check what the CS team does" in worse.verdict


def test_holm_steps_down_like_the_textbook_and_statsmodels():
    p = [0.01, 0.04, 0.03, 0.2]
    # sorted: 0.01 x 4 = 0.04; 0.03 x 3 = 0.09; 0.04 x 2 = 0.08 -> 0.09 (monotone); 0.2 x 1 = 0.2
    assert holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1].tolist())
    assert holm([]) == [] and holm([0.7]) == [0.7]


def test_tier_rows_carry_the_holm_p_value_and_their_verdict_follows_it():
    rows = pd.concat([arm_rows(400, 40).assign(arm=OUTREACH), arm_rows(100, 17).assign(arm=HOLDOUT),
                      arm_rows(400, 40, tier="medium").assign(arm=OUTREACH),
                      arm_rows(100, 17, tier="medium").assign(arm=HOLDOUT)])
    results = by_tier(rows)
    assert results["all"].p_holm is None and results["all"].significant
    raw = [results[t].p_value for t in ("high", "medium")]
    assert all(p < 0.05 for p in raw)  # each tier alone would pass ...
    assert [results[t].p_holm for t in ("high", "medium")] == pytest.approx(holm(raw))
    medium = results["medium"]
    assert medium.p_holm > 0.05 and not medium.significant  # ... but not both, corrected
    assert medium.verdict.startswith("not enough evidence yet")
    assert f"{p_text(medium.p_holm)} after Holm's correction over the tiers" in medium.verdict
