"""Tests of ``benchmarks/calendar_lull_levels.py``: the per-date levels of a kept lull run."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks import quality_eval as qe
from benchmarks.calendar_lull_levels import date_levels


def test_each_date_gets_its_levels_and_the_generator_only_where_its_truth_covers_it():
    rows = pd.DataFrame({
        "as_of": pd.to_datetime(["2025-12-01"] * 3 + ["2025-12-31"] * 2),
        "account_id": [1, 2, 3, 1, 2],
        "churned": [1, 0, 0, 0, 1],
        "model": [0.5, 0.1, 0.3, 0.2, 0.4],
        "booster": [0.4, 0.1, 0.1, 0.1, 0.3],
    })
    truth = pd.DataFrame({"as_of_date": ["2025-12-01", "2025-12-01"], "account_id": ["1", "2"],
                          "true_churn_prob": [0.6, 0.2]})
    got = date_levels(rows, truth, lull=["2025-12-31"], normal=["2025-12-01"]).set_index("group")
    first, lull = got.loc["normal"], got.loc["lull"]
    assert (first["rows"], lull["rows"]) == (3, 2)
    assert np.isclose(first["churn_rate"], 1 / 3) and np.isclose(first["model_p"], 0.3)
    assert np.isclose(first["booster_p"], 0.2)
    assert np.isclose(first["generator_p"], 0.4)  # accounts 1 and 2 only: account 3 has no truth row
    assert np.isclose(first["generator_ece"], qe.ece(pd.Series([1, 0]), pd.Series([0.6, 0.2])))
    assert np.isclose(first["model_ece"], qe.ece(rows["churned"][:3], rows["model"][:3]))
    assert np.isnan(lull["generator_p"]) and np.isnan(lull["generator_ece"])  # no truth on Dec 31
