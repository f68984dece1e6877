"""Backtest plots: figures from frames, and cohort labels that stay readable."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models import plots


def test_cohort_labels_stay_distinct_when_decile_edges_are_close():
    assert plots.edge_labels([0.5, 1.4, 1.4004, 2.0]) == ["≤0.5", "≤1.4", "≤1.4004", "≤2"]
    values = np.r_[np.linspace(-1, 1.4, 90), np.linspace(1.40001, 1.40009, 110)]  # edges that agree to 3 digits
    panel = pd.DataFrame({"x": values, "churned": np.arange(len(values)) % 2})
    table = plots.cohorts(panel, "x")
    assert table["rows"].sum() == len(values) and len(table) >= 5
