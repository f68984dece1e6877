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

:func:`book_risk` also gives *why* each assignment was at risk by that same model: each reason
group's share of its positive TreeSHAP contributions (columns ``SHARE + group``), which ``rr``
reads instead of the shares of a churn model fitted on the experiment's few hundred accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from models import folds as folds_
from models.classifier import ChurnModel

#: Column of the experiment frame holding the churn probability as of the assignment date.
BASE_RISK = "base_risk"
#: Prefix of the experiment frame's columns holding a reason group's share of the baseline risk.
SHARE = "base_share__"
#: Fewest closed panel rows (and churners) before a churn model is fitted for a refit date.
MIN_ROWS, MIN_CHURNED = 200, 20


@dataclass
class BookRisk:
    """The book's churn model as of each assignment date (:func:`book_risk`).

    Attributes
    ----------
    risk : ndarray
        Churn probability per row (``nan``: no model on or before its date).
    shares : pandas.DataFrame
        Columns ``SHARE + group``: each reason group's share of the row's positive contributions by
        that model (``nan`` rows: no model; all 0: no positive contribution). Empty without ``groups``.
    model : ChurnModel or None
        The latest refit's model: what scores the shares of accounts outside the experiment.
    """

    risk: np.ndarray
    shares: pd.DataFrame
    model: ChurnModel | None


def group_shares(model: ChurnModel, rows: pd.DataFrame, groups: dict[str, str]) -> pd.DataFrame:
    """Each reason group's share of each row's positive TreeSHAP contributions by ``model`` (columns
    ``SHARE + group``, a feature not in ``groups`` its own group; 0 where no contribution is positive)."""
    contrib = model.contributions(rows).drop(columns="base_value").clip(lower=0.0)
    by_group = contrib.T.groupby(lambda f: groups.get(f, f), sort=False).sum().T
    total = by_group.sum(axis=1)
    shares = by_group.div(total.where(total > 0), axis=0).fillna(0.0)
    return shares.add_prefix(SHARE).reset_index(drop=True)


def book_risk(panel: pd.DataFrame, rows: pd.DataFrame, features: list[str], categorical: list[str],
              window_days: int, refit_dates: list[date], seed: int = 0,
              groups: dict[str, str] | None = None) -> BookRisk:
    """Churn probability of each of ``rows`` from the churn model of its assignment date, and why.

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
    groups : dict, optional
        Feature name -> reason group; with it, :attr:`BookRisk.shares` (:func:`group_shares`).

    Returns
    -------
    BookRisk
    """
    out = np.full(len(rows), np.nan)
    shares: list[pd.DataFrame] = []
    latest = None
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
        latest = ChurnModel(seed=seed, calibration="none").fit(train, y, feature_names=features,
                                                              categorical=categorical, train_until=refit)
        subset = rows[these].reset_index(drop=True)
        out[these] = latest.predict_proba(subset)[:, 1]
        if groups is not None:
            shares.append(group_shares(latest, subset, groups).set_index(np.flatnonzero(these)))
    table = pd.concat(shares).reindex(range(len(rows))) if shares else pd.DataFrame(index=range(len(rows)))
    return BookRisk(out, table, latest)


def as_of_risk(panel: pd.DataFrame, rows: pd.DataFrame, features: list[str], categorical: list[str],
               window_days: int, refit_dates: list[date], seed: int = 0) -> np.ndarray:
    """Churn probability of each of ``rows`` from the churn model of its assignment date
    (:attr:`BookRisk.risk` of :func:`book_risk`; ``nan`` where no refit on or before its date had enough closed rows)."""
    return book_risk(panel, rows, features, categorical, window_days, refit_dates, seed).risk
