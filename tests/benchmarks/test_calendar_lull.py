"""Tests of ``benchmarks/calendar_lull.py``: its dates are what it says they are, and its report reads."""

from __future__ import annotations

import numpy as np

from benchmarks import calendar_lull as cl
from pipeline.synthetic.dates import Calendar
from pipeline.synthetic.presets import world_params


def lull_days(world: str, days: np.ndarray) -> np.ndarray:
    cal, p = Calendar(cl.START), world_params(world)
    return cal.holiday(days) | cal.in_ranges(days, p.extra_lulls)


def test_lull_dates_have_mostly_lull_days_behind_them_and_normal_dates_none():
    start = np.datetime64(cl.START, "D")
    for world, key in cl.WORLDS.items():
        lull, normal = cl.DATES[key]
        for day in lull + normal:
            offset = int((np.datetime64(day, "D") - start).astype(int))
            week = lull_days(world, np.arange(offset - 7, offset))
            assert week.sum() >= 4 if day in lull else not week.any(), (world, day)
            assert offset + 120 < cl.DAYS  # its label window closes inside the generated days


def test_report_writes_the_lull_against_normal_ratios():
    figures = {"dates": 4, "rows": 10, "mean_p": 0.06, "churn_rate": 0.05, "high_per_date": 12.0, "ece": 0.01,
               "auc": 0.8, "reasons_real": 0.9, "reasons_rows": 20}
    result = {"world": "demo", "lull": figures, "normal": {**figures, "mean_p": 0.05, "high_per_date": 10.0},
              "all_auc": 0.8}
    text = cl.markdown([result], {"command": "x", "git": "y", "when": "z", "accounts": 1, "seed": 1, "overlay": None})
    assert "| demo | **lull vs normal** | **+20.0%** | +0.0% | **+20.0%** |" in text


def test_high_tier_follows_the_configured_rule_per_date():
    """Relative (the default): at least 3x the model's base rate of 10 %; probability: the given threshold."""
    import pandas as pd

    class Model:
        base_rate_ = 0.10

    rows = pd.DataFrame({"as_of": ["d1"] * 3 + ["d2"] * 2, "model": [0.35, 0.29, 0.05, 0.31, 0.5]})
    assert cl.high_tier(rows, Model(), {}).tolist() == [True, False, False, True, True]
    fixed = {"scoring": {"tiers": {"rule": "probability", "high": 0.4, "medium": 0.2}}}
    assert cl.high_tier(rows, Model(), fixed).tolist() == [False, False, False, False, True]


def test_the_generator_s_probability_stands_beside_the_model_on_the_dates_its_truth_covers(tmp_path):
    import pandas as pd

    truth = pd.DataFrame({"account_id": ["a", "b", "a"], "as_of_date": ["2026-01-01", "2026-01-01", "2026-02-01"],
                          "true_churn_prob": [0.2, 0.4, 0.9]})
    truth.to_parquet(tmp_path / "truth.parquet")
    rows = pd.DataFrame({"account_id": ["a", "b", "a"], "as_of": pd.to_datetime(["2026-01-01", "2026-01-01",
                                                                                 "2025-12-28"]),
                         "model": [0.1, 0.3, 0.5], "churned": [False, True, True]})
    got = cl.oracle_figures(rows, str(tmp_path / "truth.parquet"))
    # Dec 28 has no truth; on Jan 1 the model's 0.1 and 0.3, the generator's 0.2 and 0.4, one churn of two
    assert (got["dates"], got["rows"]) == (1, 2)
    assert got["mean_p"] == 0.2 and abs(got["oracle_p"] - 0.3) < 1e-12 and got["churn_rate"] == 0.5
    figures = {"dates": 4, "rows": 10, "mean_p": 0.06, "churn_rate": 0.05, "high_per_date": 12.0, "ece": 0.01,
               "auc": 0.8, "reasons_real": 0.9, "reasons_rows": 20}
    result = {"world": "demo", "lull": figures, "normal": figures, "all_auc": 0.8, "oracle": {"lull": got}}
    text = cl.markdown([result], {"command": "x", "git": "y", "when": "z", "accounts": 1, "seed": 1, "overlay": None})
    assert "| demo | lull (1) | 2 | 0.2000 | 0.3000 | 0.5000 |" in text
