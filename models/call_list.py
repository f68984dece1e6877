"""Whom to call this week, without I/O: the team's capacity and why an account is high or low on the list.

* :func:`within_capacity` marks the accounts of a ranked list that fit the team's calls
  (``scoring.weekly_calls`` for the team, ``scoring.calls_per_csm`` per CSM), in list order;
  :func:`capacity_rule` says the rule in words for the list's header.
* :func:`call_reasons` says in plain words why an account is high or low on a call list. Every
  sentence is in :data:`SENTENCES`; what decides between them is the account's risk tier (the
  configured tier rule: how likely it is to leave) and, with a validated uplift model, the share
  of its churn probability a call removes (``uplift / churn_probability``) against the two
  shares of ``scoring.call_words``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Every sentence a list or an account page uses to say why an account is where it is.
SENTENCES = {
    "usually": "likely to leave, and accounts like it usually stay when called",
    "sometimes": "likely to leave, and a call keeps some accounts like it",
    "whatever": "likely to leave whatever we do",
    "backfire": "likely to leave, and accounts like it tend to leave sooner when chased",
    "unlikely": "unlikely to leave",
    "no_model": "likely to leave (no validated uplift model yet: listed by {order})",
}
#: How the tiers read: an account in these tiers is "likely to leave".
LIKELY_TIERS = ("high", "medium")


def within_capacity(csm: pd.Series, callable_: np.ndarray, weekly_calls: int | None = None,
                    calls_per_csm: int | None = None) -> np.ndarray | None:
    """Which rows of a ranked list fit the team's calls this week, taken in list order.

    Parameters
    ----------
    csm : pandas.Series
        Each row's CSM (null: unassigned), the rows in the list's order.
    callable_ : numpy.ndarray of bool
        Rows that may be called (an experiment's holdout shown on the list may not): the others
        take no call and are never marked.
    weekly_calls : int, optional
        Calls the whole team makes a week: the first ``weekly_calls`` callable rows.
    calls_per_csm : int, optional
        Calls each CSM makes a week: each CSM's first ``calls_per_csm`` callable rows. Rows without
        a CSM are then not marked (nobody's week holds them). With both, a row must fit both.

    Returns
    -------
    numpy.ndarray of bool or None
        ``None`` when no capacity is configured.
    """
    if weekly_calls is None and calls_per_csm is None:
        return None
    marked = np.asarray(callable_, dtype=bool).copy()
    if calls_per_csm is not None:
        owner = csm.reset_index(drop=True)
        seen = owner.where(marked).groupby(owner.where(marked)).cumcount()  # position among the CSM's callable rows
        marked &= owner.notna().to_numpy() & (seen.reindex(owner.index).fillna(np.inf).to_numpy() < calls_per_csm)
    if weekly_calls is not None:
        marked &= np.cumsum(marked) <= weekly_calls
    return marked


def capacity_rule(weekly_calls: int | None = None, calls_per_csm: int | None = None) -> str | None:
    """The capacity rule in words, e.g. ``15 calls a week: the first 15 are marked`` (``None`` without one)."""
    if calls_per_csm is None and weekly_calls is None:
        return None
    if calls_per_csm is None:
        return f"{weekly_calls:,} calls a week: the first {weekly_calls:,} are marked"
    each = f"{calls_per_csm:,} calls a week per CSM: each CSM's first {calls_per_csm:,} are marked"
    return each if weekly_calls is None else f"{each}, up to {weekly_calls:,} for the team"


def call_reasons(tier: pd.Series, probability: pd.Series, uplift: pd.Series, *, usually: float, hardly: float,
                 order: str) -> np.ndarray:
    """Why each account is high or low on a call list, in plain words (one of :data:`SENTENCES`).

    Parameters
    ----------
    tier : pandas.Series
        ``risk_tier``: ``high`` and ``medium`` read "likely to leave", ``low`` "unlikely to leave".
    probability, uplift : pandas.Series
        ``churn_probability`` and ``uplift`` (null without a validated uplift model).
    usually : float
        Share of the churn probability a call removes from which accounts like it "usually stay when called".
    hardly : float
        Share below which the account is "likely to leave whatever we do" (a negative uplift: it
        tends to leave sooner when chased).
    order : str
        What orders the list in words, said when there is no uplift (e.g. ``churn probability``).
    """
    p = probability.astype("float64").to_numpy()
    u = uplift.astype("float64").to_numpy() if uplift is not None else np.full(len(p), np.nan)
    share = np.divide(u, p, out=np.full(len(p), np.nan), where=p > 0)
    likely = tier.isin(LIKELY_TIERS).to_numpy()
    choice = np.select(
        [~likely, np.isnan(u), u < 0, share >= usually, share < hardly],
        ["unlikely", "no_model", "backfire", "usually", "whatever"], default="sometimes")
    texts = {key: text.format(order=order) for key, text in SENTENCES.items()}
    return np.array([texts[c] for c in choice], dtype=object)
