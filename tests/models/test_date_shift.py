"""Tests of ``models/date_shift.py``: a holiday week is told apart from feature drift."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.base import REGISTRY, Feature
from models import date_shift

DEFINITIONS = {d.name: d for d in REGISTRY}


def usage_features(adjusted: bool = True) -> list[Feature]:
    names = ["events_{window}d_vs_baseline"] + (["events_{window}d_vs_all_accounts"] if adjusted else [])
    out = [Feature(n.format(window=w, baseline=90), DEFINITIONS[n], {"window": w, "baseline": 90})
           for n in names for w in (7, 30)]
    return out + [Feature("nps_last", DEFINITIONS["nps_last"], {})]


def frame(fell: float, n: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    down = rng.random(n) < fell
    return pd.DataFrame({"events_7d_vs_baseline": np.where(down, -0.4, 0.2),
                         "events_30d_vs_baseline": np.where(down, 0.1, -0.1), "nps_last": 8.0})


def test_usage_that_fell_for_most_accounts_is_a_date_wide_shift_explaining_usage_drift():
    drifted = {"events_7d_vs_baseline": 0.9, "events_7d_vs_all_accounts": 0.3, "nps_last": 0.4}
    shift = date_shift.detect(frame(0.8), usage_features(), drifted, 0.7)
    assert shift is not None and shift.window == 7 and shift.accounts == 100
    assert shift.explains == ("events_7d_vs_baseline", "events_7d_vs_all_accounts")  # NPS drift stays drift
    assert shift.warning.startswith(f"usage fell for {shift.share:.0%} of accounts in the last 7 days: "
                                    "a calendar effect? risk is adjusted for it")


def test_a_normal_date_is_no_shift_and_a_model_without_the_adjustment_says_so():
    assert date_shift.detect(frame(0.5), usage_features(), {}, 0.7) is None
    shift = date_shift.detect(frame(0.95), usage_features(adjusted=False), {}, 0.7)
    assert shift is not None and "NOT adjusted" in shift.warning and not shift.explains


def test_no_usage_ratio_no_shift():
    assert date_shift.detect(frame(0.9)[["nps_last"]], usage_features(), {}, 0.7) is None
