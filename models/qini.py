"""How well a ranking finds the accounts a call keeps: Qini curve and coefficient, against the true uplift too.

Pure measures of :mod:`models.uplift` (which re-exports them): from observed outcomes of the
two arms (:func:`qini_coefficient`, with a bootstrap lower bound) and, on generated worlds, from
the recorded true uplift (:func:`oracle_qini`).
"""

from __future__ import annotations

import numpy as np


def _tie_ends(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Descending order of ``score`` and the positions where a run of tied scores ends."""
    order = np.argsort(-score, kind="stable")
    s = score[order]
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
    return order, ends


def qini_curve(score, treated, churned) -> tuple[np.ndarray, np.ndarray]:
    """The Qini curve of a ranking on observed outcomes.

    Accounts are taken in decreasing ``score`` (tied scores enter together). At each
    step the curve is the number of accounts kept by outreach among those taken:
    ``R_t - R_c * N_t / N_c`` with ``R`` the accounts retained (not churned) and ``N``
    the accounts of each arm taken so far, divided by the number of accounts.

    Returns
    -------
    (share, gain)
        Share of the accounts taken (from 0 to 1) and the gain there.
    """
    score, t, y = np.asarray(score, float), np.asarray(treated, int), 1 - np.asarray(churned, int)
    order, ends = _tie_ends(score)
    t, y = t[order], y[order]
    n_t, n_c = np.cumsum(t)[ends], np.cumsum(1 - t)[ends]
    r_t, r_c = np.cumsum(y * t)[ends], np.cumsum(y * (1 - t))[ends]
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = r_t - np.where(n_c > 0, r_c * n_t / np.where(n_c > 0, n_c, 1), 0.0)
    n = score.size
    return np.r_[0.0, (ends + 1) / n], np.r_[0.0, gain / n]


def _area_over_random(share: np.ndarray, gain: np.ndarray) -> float:
    return float(np.trapezoid(gain, share) - gain[-1] / 2)


def qini_coefficient(score, treated, churned) -> float:
    """Area between the Qini curve (:func:`qini_curve`) and the random ranking's straight line.

    0 for a ranking no better than chance; larger is better. The ranking by the true
    uplift sets the reachable value on a generated world (:func:`oracle_qini` needs no outcomes).
    """
    return _area_over_random(*qini_curve(score, treated, churned))


def gain_curve(score, true_uplift) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative true uplift per account in decreasing ``score`` (ties enter together)."""
    score, u = np.asarray(score, float), np.asarray(true_uplift, float)
    order, ends = _tie_ends(score)
    return np.r_[0.0, (ends + 1) / score.size], np.r_[0.0, np.cumsum(u[order])[ends] / score.size]


def oracle_qini(score, true_uplift) -> float:
    """Area of :func:`gain_curve` over the random line, as a share of the ranking by the true uplift itself.

    1 is the best ranking there is, 0 chance, negative worse than chance; ``nan`` when the true uplift
    does not differ between the accounts (no ranking is better than another).
    """
    best = _area_over_random(*gain_curve(true_uplift, true_uplift))
    if best <= 1e-12:
        return float("nan")
    return _area_over_random(*gain_curve(score, true_uplift)) / best


def _bootstrap(score, treated, churned, draws: int = 200, seed: int = 0) -> np.ndarray:
    """:func:`qini_coefficient` on ``draws`` re-drawings of the rows."""
    score, treated, churned = (np.asarray(a) for a in (score, treated, churned))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        i = rng.integers(0, score.size, score.size)
        values.append(qini_coefficient(score[i], treated[i], churned[i]))
    return np.asarray(values)


def bootstrap_low(score, treated, churned, draws: int = 200, level: float = 0.9, seed: int = 0) -> float:
    """Lower end of the percentile bootstrap interval of :func:`qini_coefficient` (rows re-drawn)."""
    return float(np.quantile(_bootstrap(score, treated, churned, draws, seed), (1 - level) / 2))
