"""The churn probability as of each assignment date: only labels closed before that date are fitted."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from models.uplift_baseline import as_of_risk

WINDOW = 60
START = date(2024, 1, 1)


def _panel(seed: int = 0) -> pd.DataFrame:
    """Monthly snapshots of 600 accounts; churn driven by ``signal``."""
    rng = np.random.default_rng(seed)
    rows = []
    for month in range(12):
        as_of = date(2024 + month // 12, month % 12 + 1, 1)
        signal = rng.normal(size=600)
        churned = rng.random(600) < 1 / (1 + np.exp(-(-2.0 + 1.5 * signal)))
        rows.append(pd.DataFrame({"account_id": [f"a{i}" for i in range(600)], "as_of": as_of, "signal": signal,
                                  "other": rng.normal(size=600), "churned": churned.astype(int),
                                  "label_observed": True}))
    return pd.concat(rows, ignore_index=True)


def _assigned(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 330, 400)
    return pd.DataFrame({"assigned_date": [START + timedelta(days=int(d)) for d in days],
                         "signal": rng.normal(size=400), "other": rng.normal(size=400)})


def test_each_assignment_is_scored_by_a_model_of_labels_closed_before_its_date():
    panel, rows = _panel(), _assigned()
    refits = sorted(panel["as_of"].unique())
    risk = as_of_risk(panel, rows, ["signal", "other"], [], WINDOW, refits)
    # nothing had closed before the first refits: no invented number
    early = pd.to_datetime(rows["assigned_date"]) < pd.Timestamp(2024, 4, 1)
    assert np.isnan(risk[early.to_numpy()]).all() and np.isfinite(risk[~early.to_numpy()]).all()
    later = ~early.to_numpy()
    assert np.corrcoef(risk[later], rows["signal"][later])[0, 1] > 0.8

    # a world where leaking would help: labels not yet closed on a refit date say exactly who churns by
    # ``other``; a model that saw them would rank by ``other``. The risks must not change at all.
    leaky = panel.copy()
    for refit in refits:
        open_then = (pd.to_datetime(leaky["as_of"]) + pd.Timedelta(days=WINDOW) >= pd.Timestamp(refit)).to_numpy()
        assert open_then.any()
    late = (pd.to_datetime(leaky["as_of"]) >= pd.Timestamp(2024, 8, 1)).to_numpy()
    leaky.loc[late, "churned"] = (leaky.loc[late, "other"] > 1).astype(int)
    again = as_of_risk(leaky, rows, ["signal", "other"], [], WINDOW, refits)
    # the 1 August labels close on 30 September: first fitted by the refit of 1 October
    before = (pd.to_datetime(rows["assigned_date"]) < pd.Timestamp(2024, 10, 1)).to_numpy()
    assert np.array_equal(np.isnan(again), np.isnan(risk))
    assert np.allclose(again[before & later], risk[before & later])
    # and after those labels closed, the model does learn from them (the test can see a leak)
    after = ~before
    assert after.any() and not np.allclose(again[after], risk[after])


def test_unobserved_labels_are_never_fitted():
    panel, rows = _panel(), _assigned()
    refits = sorted(panel["as_of"].unique())
    risk = as_of_risk(panel, rows, ["signal", "other"], [], WINDOW, refits)
    hidden = panel.assign(label_observed=False, churned=1)
    assert np.isnan(as_of_risk(hidden, rows, ["signal", "other"], [], WINDOW, refits)).all()
    assert np.isfinite(risk).any()
