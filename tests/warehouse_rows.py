"""Score rows and run records shaped like the scorer's, for the warehouse tests (``tests/pipeline/io``)."""

from __future__ import annotations

import json
from datetime import date, datetime

import numpy as np
import pandas as pd

from pipeline.io.score_tables import CURVE_DAYS
from pipeline.io.warehouse import Run, Warehouse

D1, D2, D3 = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)


def fake_scores(as_of: date, accounts: list[str], seed: int, run_id: str) -> pd.DataFrame:
    """Rows shaped like the scorer's output (probability_change is the warehouse's job)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, len(accounts))
    reasons = [json.dumps({"base_value": -2.0, "other": 0.0, "risk": [], "protective": [], "context": []})] * len(p)
    return pd.DataFrame({
        "as_of_date": as_of, "account_id": accounts, "account_name": [f"Name {a}" for a in accounts],
        "csm": ["Ann" if i % 2 else None for i in range(len(p))], "segment": "SMB",
        "churn_probability": p, "risk_rank": (-p).argsort().argsort() + 1, "risk_tier": np.where(p > 0.3, "high", "low"),
        "mrr": 100.0, "revenue_at_risk": p * 300.0, "health_score": 50.0, "reasons": reasons,
        "reason_summary": "No notable risk signals", "model_name": "churn-model", "model_version": "1",
        "run_id": run_id, "scored_at": datetime(2025, 1, 1, 3, 0),
        "contributions": [json.dumps({"usage": round(float(x), 4)}) for x in p],
        **{f"churn_probability_{d}d": p * d / 180 for d in CURVE_DAYS},
        "expected_churn_window": pd.array([90 if x > 0.75 else None for x in p], dtype="Int64"),
    })


def run_for(as_of: date, run_id: str, rows: int) -> Run:
    return Run(run_id, as_of, datetime(2025, 1, 1, 3, 0), "churn-model", "1", "models:/churn-model@champion",
               "data", "succeeded", rows, datetime(2025, 1, 1, 3, 1), {"write": 0.1}, {"events_30d": 0.01})


def write(store: Warehouse, as_of: date, accounts: list[str], seed: int, run_id: str) -> pd.DataFrame:
    return store.write(fake_scores(as_of, accounts, seed, run_id), run_for(as_of, run_id, len(accounts)))


ACCOUNTS = [f"A{i:03d}" for i in range(50)]
