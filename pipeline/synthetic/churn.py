"""The churn hazard: driver contributions, decision probabilities and labels."""
from __future__ import annotations

import numpy as np

from .params import WorldParams

_BIG = 1 << 32


def onboarding_lag(due: np.ndarray, done: np.ndarray, day) -> np.ndarray:
    """Months by which milestones are overdue at ``day`` (a week's tolerance, 2 months cap each).

    Parameters
    ----------
    due, done : ndarray, shape (m, 4)
        Due and completion days; completion in the future counts as open.
    day : int or ndarray, shape (m,)

    Returns
    -------
    ndarray, shape (m,)
    """
    day = np.asarray(day)[..., None] if np.ndim(day) else day
    late = (np.minimum(day, done) - due - 7) / 30.0
    return np.clip(late, 0.0, 2.0).sum(axis=1)


def satisfaction(p: WorldParams, quality, mu, ema, sentiment, open_urgent) -> np.ndarray:
    """Latent expected NPS score (before response noise)."""
    return (p.nps_base + p.nps_sentiment * sentiment + p.nps_health * np.clip(ema - mu, -3, 1)
            - p.nps_urgent * np.minimum(open_urgent, 2) + 0.3 * quality)


def contributions(p: WorldParams, acc, lat, open_urgent, term, idx, day: int) -> np.ndarray:
    """Non-negative contribution of every driver to the monthly churn logit.

    Parameters
    ----------
    p : WorldParams
    acc : Accounts
    lat : object
        Latent state with arrays ``ema``, ``slow``, ``sentiment``, ``unpredictable``.
    open_urgent : ndarray
        Urgent tickets open for at least ``p.urgent_age_days`` per account.
    term : ndarray
        Current billing term per account (0 monthly, 1 annual).
    idx : ndarray of int
        Accounts to evaluate.
    day : int

    Returns
    -------
    ndarray, shape (len(idx), 6)
        Columns in the order of :data:`~pipeline.synthetic.params.DRIVERS`.
    """
    mu, ema = acc.mu[idx], lat.ema[idx]
    usage = (p.beta_usage_trend * np.maximum(0.0, lat.slow[idx] - ema)
             + p.beta_usage_drop * np.maximum(0.0, mu - ema)
             + p.beta_usage_level * np.maximum(0.0, p.usage_floor - ema))
    age = day - acc.created_day[idx]
    weight = np.exp(-np.maximum(0, age - 180) / 240.0)  # onboarding matters in the first year
    onboarding = p.beta_onboarding * onboarding_lag(acc.due[idx], acc.done[idx], day) * weight
    urgent = p.beta_urgent * np.minimum(open_urgent[idx], 3)
    sat = satisfaction(p, acc.quality[idx], mu, ema, lat.sentiment[idx], open_urgent[idx])
    detractor = p.beta_detractor * np.maximum(0.0, 7.0 - sat)
    segment = np.asarray(p.segment_effect)[acc.segment[idx]] + p.monthly_effect * (term[idx] == 0)
    noise = p.sigma_unpredictable * np.maximum(0.0, lat.unpredictable[idx])
    return np.stack([usage, onboarding, urgent, detractor, segment, noise], axis=1)


def monthly_risk(p: WorldParams, contrib: np.ndarray, shift=0.0) -> np.ndarray:
    """Monthly churn risk of the drivers; ``shift`` (seasonality) is added to the logit."""
    return 1.0 / (1.0 + np.exp(-(p.b0 + shift + contrib.sum(axis=1))))


def decision_prob(p: WorldParams, contrib: np.ndarray, term: np.ndarray, shift=0.0) -> np.ndarray:
    """Probability of not renewing at one renewal point (monthly or annual).

    The share ``p.anytime_share`` of the risk acts day by day instead (:func:`daily_hazard`).
    """
    pm = monthly_risk(p, contrib, shift) * (1.0 - p.anytime_share)
    return np.where(term == 1, 1.0 - (1.0 - pm) ** p.annual_exponent, pm)


def daily_hazard(p: WorldParams, contrib: np.ndarray, term: np.ndarray, shift=0.0) -> np.ndarray:
    """Probability of cancelling on one day, outside renewals (``p.anytime_share`` of the risk).

    Per year it compounds like the renewal decisions: twelve monthly ones, or one annual one.
    """
    pm = monthly_risk(p, contrib, shift) * p.anytime_share
    per_year = np.where(term == 1, p.annual_exponent, 12.0)
    return 1.0 - (1.0 - pm) ** (per_year / 365.25)


def horizon_prob(p: WorldParams, p_decision: np.ndarray, n_renewals: np.ndarray,
                 survive_days: np.ndarray | float = 1.0) -> np.ndarray:
    """Chance that coverage ends within the horizon and is not restored within the grace period.

    Holds the latent state fixed at its current value for the renewal points ahead.
    ``p_decision`` may be one probability per account (``n_renewals`` points alike) or,
    for seasonal worlds, one column per renewal point (``n_renewals`` then a 0/1 mask).
    ``survive_days`` is the chance of no lasting cancellation between renewals.
    """
    lapse = p_decision * (1.0 - p.return_prob * p.return_fast_share)
    if lapse.ndim == 2:
        return 1.0 - np.prod(np.where(n_renewals, 1.0 - lapse, 1.0), axis=1) * survive_days
    return 1.0 - (1.0 - lapse) ** n_renewals * survive_days


def dominant_driver(contrib: np.ndarray, floor: float = 0.05) -> np.ndarray:
    """Index of the largest contribution; baseline-only risk counts as unpredictable."""
    top = contrib.argmax(axis=1)
    return np.where(contrib.max(axis=1) > floor, top, contrib.shape[1] - 1)


def churn_events(acc, start, end, grace: int = 30):
    """Days on which an account's coverage ends without a restart within ``grace`` days.

    Parameters
    ----------
    acc, start, end : ndarray of int
        Subscription rows; ``end < 0`` marks a row still running. Rows of one
        account must not overlap.

    Returns
    -------
    (ndarray, ndarray)
        Account index and churn day of every churn event, sorted.
    """
    order = np.lexsort((start, acc))
    a, s, e = acc[order], start[order], end[order]
    nxt = np.full(a.shape[0], np.iinfo(np.int64).max // 4)
    same = a[1:] == a[:-1]
    nxt[:-1][same] = s[1:][same]
    hit = (e >= 0) & (nxt - e > grace)
    return a[hit], e[hit]


def horizon_labels(ev_acc, ev_day, acc, day, horizon: int = 90) -> np.ndarray:
    """True where account ``acc`` has a churn event in ``(day, day + horizon]``."""
    keys = np.sort(ev_acc.astype(np.int64) * _BIG + ev_day)
    base = acc.astype(np.int64) * _BIG + day
    return np.searchsorted(keys, base + horizon, "right") > np.searchsorted(keys, base, "right")
