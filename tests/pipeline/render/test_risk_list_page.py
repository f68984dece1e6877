"""Rendering a risk list: text table, CSV and the sparkline, from a list already read."""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import pytest

from pipeline.render.risk_list_page import CSV_COLUMNS, RiskList, sparkline, to_csv, to_table


def test_sparkline_scales_to_the_largest_value():
    svg = sparkline([0.1, 0.2, 0.4])
    points = [tuple(map(float, p.split(","))) for p in re.search(r'points="([^"]+)"', svg).group(1).split()]
    assert points[-1][1] == pytest.approx(2.0) and points[0][1] > points[1][1] > points[2][1]
    assert sparkline([]) == ""


def rows() -> pd.DataFrame:
    return pd.DataFrame({
        "risk_rank": [1, 2], "account_id": ["A1", "A2"], "account_name": ["Acme", None], "csm": ["Ann", None],
        "segment": ["SMB", "SMB"], "churn_probability": [0.6, 0.05], "risk_tier": ["high", "low"],
        "revenue_at_risk": [1800.0, float("nan")], "mrr": [1000.0, 50.0], "probability_change": [0.1, float("nan")],
        "change_reasons": ["risk up 10 points", None], "health_score": [40.0, 80.0],
        "reason_summary": ["Only 2 active users", "No notable risk signals"], "model_name": "churn-model",
        "model_version": "3",
    })


def test_the_text_table_reads_ranks_probabilities_and_missing_values_plainly():
    text = to_table(RiskList(rows(), date(2025, 1, 1), total=2))
    assert "Accounts at risk as of 2025-01-01" in text and "model churn-model v3" in text
    first, second = text.splitlines()[4:6]
    assert "Acme (A1)" in first and "60.0%" in first and "+10.0 pts" in first and "1,800" in first
    assert "Unassigned" in second and "new" in second


def test_csv_keeps_the_documented_columns():
    frame = pd.read_csv(pd.io.common.StringIO(to_csv(RiskList(rows(), date(2025, 1, 1), total=2))))
    assert list(frame.columns) == CSV_COLUMNS
