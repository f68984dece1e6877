"""The pipeline's churn probability as of each assignment date: the uplift learners' baseline risk.

An experiment holds a few hundred accounts; the churn model of the whole book holds thousands
of accounts over many snapshot dates and ranks risk far better. :func:`as_of_risk` gives each
assignment the churn probability a churn model (:class:`models.classifier.ChurnModel`) would have
given it on its assignment date: the model refitted on each refit date (the snapshot dates) on the
panel rows whose label window (horizon + grace) had closed *before* that date, applied to the
assignments from that date to the next refit. So no outcome unknown on an assignment date enters
its baseline risk: neither its own outcome nor any later one.

The uplift learners read it as the column :data:`BASE_RISK`: a feature of ``risk``, T, X and DR,
and the offset of ``rr`` (:mod:`models.uplift_relative`). Assignments before any churn model could
be fitted (no closed label yet) get ``nan``.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from models import folds as folds_

#: Column of the experiment frame holding the churn probability as of the assignment date.
BASE_RISK = "base_risk"
#: Fewest closed panel rows (and churners) before a churn model is fitted for a refit date.
MIN_ROWS, MIN_CHURNED = 200, 20


def as_of_risk(panel: pd.DataFrame, rows: pd.DataFrame, features: list[str], categorical: list[str],
               window_days: int, refit_dates: list[date], seed: int = 0) -> np.ndarray:
    """Churn probability of each of ``rows`` from the churn model of its assignment date.

    Parameters
    ----------
    panel : pandas.DataFrame
        Snapshots of every account: ``as_of``, ``churned``, ``label_observed`` and ``features``.
    rows : pandas.DataFrame
        Assignments: ``assigned_date`` and ``features`` (as of that date).
    window_days : int
        Label horizon plus grace: a panel row trains the model of date ``r`` only if
        ``as_of + window_days < r``.
    refit_dates : list of date
        When the churn model is refitted; an assignment uses the latest refit on or before its date.

    Returns
    -------
    ndarray
        One probability per row; ``nan`` where no refit on or before its date had enough closed rows.
    """
    out = np.full(len(rows), np.nan)
    assigned = pd.to_datetime(rows["assigned_date"]).dt.date.to_numpy()
    refits = sorted(set(refit_dates))
    observed = panel[panel["label_observed"].astype(bool)]
    for i, refit in enumerate(refits):
        nxt = refits[i + 1] if i + 1 < len(refits) else date.max
        these = (assigned >= refit) & (assigned < nxt)
        if not these.any():
            continue
        train = observed[folds_.closed_before(observed["as_of"], refit, window_days)]
        y = train["churned"].to_numpy(dtype=int)
        if len(train) < MIN_ROWS or y.sum() < MIN_CHURNED or y.sum() == len(y):
            continue
        from models.classifier import ChurnModel  # LightGBM: `churn score` reads only BASE_RISK from here

        model = ChurnModel(seed=seed, calibration="none").fit(train, y, feature_names=features,
                                                             categorical=categorical, train_until=refit)
        out[these] = model.predict_proba(rows[these].reset_index(drop=True))[:, 1]
    return out
