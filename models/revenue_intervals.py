"""Intervals of "MRR kept per 100 contacted" (:func:`models.experiments.mrr_retained`), without I/O.

Churned MRR per account is mostly 0 with a few large values: a skewed, heavy-tailed
quantity. Three intervals of the difference of the arms' means are here, measured on
A/A re-draws by ``benchmarks/impact_stats.py`` (``benchmarks/impact_stats.md``):

* :func:`mrr_interval_normal`: point ± z × standard error (what ``churn impact`` used before;
  its coverage fell to 90–93 %);
* :func:`mrr_interval_bootstrap`: BCa bootstrap per arm (worse still on small arms, 84 %);
* :func:`mrr_interval_permutation`: the shifts a permutation test of the Welch statistic does
  not reject (96 %): the one ``churn impact`` uses.

All resampling is seeded by the data, so the same rows give the same interval on every run.
"""

from __future__ import annotations

import hashlib
import math
import warnings

import numpy as np
import pandas as pd

#: Default re-draws of the MRR interval (``experiments[].mrr_resamples`` in the config).
RESAMPLES = 9999


def lost_mrr(arm: pd.DataFrame) -> np.ndarray:
    """Per account of an arm: its MRR at assignment if it churned, else 0 (a missing MRR counts 0)."""
    return (arm["churned"] * arm["mrr"].fillna(0)).to_numpy(dtype="float64")


def _kept_per_100(lost_h: np.ndarray, lost_o: np.ndarray, axis: int = -1) -> np.ndarray:
    return 100 * (np.mean(lost_h, axis=axis) - np.mean(lost_o, axis=axis))


def mrr_interval_normal(lost_o: np.ndarray, lost_h: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """The normal (Wald) interval of MRR kept per 100: point ± z × the two means' standard error.

    Too narrow on skewed revenue (``benchmarks/impact_stats.md``): :func:`mrr_interval_permutation` uses
    it only for an arm of a single account and as the first step of its search.
    """
    from scipy.stats import norm

    point = float(_kept_per_100(lost_h, lost_o))
    se = 100 * math.sqrt((lost_h.var(ddof=1) if len(lost_h) > 1 else 0.0) / len(lost_h)
                         + (lost_o.var(ddof=1) if len(lost_o) > 1 else 0.0) / len(lost_o))
    z = float(norm.ppf(1 - alpha / 2))
    return point - z * se, point + z * se


def mrr_interval_bootstrap(lost_o: np.ndarray, lost_h: np.ndarray, alpha: float = 0.05,
                           resamples: int = RESAMPLES) -> tuple[float, float]:
    """The BCa bootstrap interval of MRR kept per 100, resampling each arm on its own (measured, not used).

    The draws are seeded by the data (the same rows give the same interval on every run). Where
    the bootstrap distribution is degenerate (e.g. no churned MRR in an arm of one account), the
    percentile interval is used instead; with no churned MRR in either arm the interval is ``(0, 0)``.
    """
    from scipy.stats import bootstrap

    if not lost_o.any() and not lost_h.any():
        return 0.0, 0.0
    if len(lost_o) < 2 or len(lost_h) < 2:
        return mrr_interval_normal(lost_o, lost_h, alpha)
    seed = _seed(lost_o, lost_h)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for method in ("BCa", "percentile"):
            got = bootstrap((lost_h, lost_o), _kept_per_100, n_resamples=resamples, confidence_level=1 - alpha,
                            method=method, vectorized=True, rng=np.random.default_rng(seed))
            low, high = float(got.confidence_interval.low), float(got.confidence_interval.high)
            if math.isfinite(low) and math.isfinite(high):
                return low, high
    return mrr_interval_normal(lost_o, lost_h, alpha)


def mrr_interval_permutation(lost_o: np.ndarray, lost_h: np.ndarray, alpha: float = 0.05,
                             resamples: int = RESAMPLES) -> tuple[float, float]:
    """The randomisation interval of MRR kept per 100: the shifts ``d`` a permutation test does not reject.

    Under the shift model (each holdout account loses ``d / 100`` more than it would in outreach), the
    holdout's values minus ``d / 100`` and the outreach's are exchangeable. ``d`` is in the interval when
    the two-sided permutation test of the Welch statistic (difference of means over its standard error)
    on ``resamples`` re-drawn arms (seeded by the data) gives p > ``alpha``. The reference distribution
    comes from re-drawing the arms, not from a normal curve, so skewed revenue does not make the interval
    too narrow; with ``d = 0`` it is the test of the randomisation itself (an A/A experiment's interval
    contains 0 with probability ``1 - alpha``), and the studentised statistic keeps it valid when the
    arms' spreads differ.
    """
    n_h, n_o = len(lost_h), len(lost_o)
    if not lost_o.any() and not lost_h.any():
        return 0.0, 0.0
    if n_o < 2 or n_h < 2:
        return mrr_interval_normal(lost_o, lost_h, alpha)
    y = 100 * np.concatenate([lost_h, lost_o])
    draws = _permuted_sums(y, n_h, resamples, np.random.default_rng(_seed(lost_o, lost_h)))
    whole = (float(y.sum()), float((y**2).sum()), float(y[:n_h].sum()))
    observed = _welch(np.array([y[:n_h].sum()]), np.array([(y[:n_h] ** 2).sum()]), np.array([y[:n_h].sum()]),
                      np.array([n_h]), whole, n_h, n_o)

    def rejected(d: float) -> bool:
        t_obs = abs(float(observed(d)[0]))
        extreme = np.abs(draws(d)) >= t_obs * (1 - 1e-12)
        return (1 + int(extreme.sum())) / (resamples + 1) <= alpha

    centre = float(y[:n_h].mean() - y[n_h:].mean())
    low, high = mrr_interval_normal(lost_o, lost_h, alpha)
    spread = max(high - low, 1e-9 * (1 + abs(centre)))
    ends = []
    for sign in (-1.0, 1.0):
        inside, step = centre, spread / 4
        while not rejected(inside + sign * step):
            inside, step = inside + sign * step, 2 * step
        outside = inside + sign * step
        while abs(outside - inside) > 1e-6 * spread:  # bisection: far below the Monte-Carlo error
            middle = (inside + outside) / 2
            if rejected(middle):
                outside = middle
            else:
                inside = middle
        ends.append(inside)
    return ends[0], ends[1]


def _permuted_sums(y: np.ndarray, n_h: int, resamples: int, rng: np.random.Generator):
    """Re-draw the holdout ``resamples`` times; the Welch statistic of the draws as a function of the shift."""
    sums, squares, real_sums, real = (np.empty(resamples) for _ in range(4))
    for start in range(0, resamples, 500):  # a (chunk x n) matrix at a time
        size = min(500, resamples - start)
        held = np.argpartition(rng.random((size, y.size)), n_h - 1, axis=1)[:, :n_h]
        values, is_real = y[held], held < n_h
        part = slice(start, start + size)
        sums[part], squares[part] = values.sum(axis=1), (values**2).sum(axis=1)
        real_sums[part], real[part] = (values * is_real).sum(axis=1), is_real.sum(axis=1)
    whole = (float(y.sum()), float((y**2).sum()), float(y[:n_h].sum()))
    return _welch(sums, squares, real_sums, real, whole, n_h, y.size - n_h)


def _welch(sums, squares, real_sums, real, whole, n_h: int, n_o: int):
    """``d ->`` Welch statistic of the drawn holdouts vs the rest once the real holdout's values are lowered by ``d``.

    ``sums``, ``squares``: of the values drawn into the holdout; ``real_sums``, ``real``: of those that
    are real holdout accounts, and how many; ``whole``: sum, sum of squares of every value and sum of
    the real holdout's.
    """
    total, total_sq, holdout_sum = whole

    def statistic(d: float) -> np.ndarray:
        s_h = sums - d * real
        q_h = squares - 2 * d * real_sums + d * d * real
        s_o = total - d * n_h - s_h
        q_o = total_sq - 2 * d * holdout_sum + d * d * n_h - q_h
        var_h = np.maximum(q_h - s_h**2 / n_h, 0) / (n_h - 1)
        var_o = np.maximum(q_o - s_o**2 / n_o, 0) / (n_o - 1)
        se = np.sqrt(var_h / n_h + var_o / n_o)
        return (s_h / n_h - s_o / n_o) / np.where(se > 0, se, np.inf)

    return statistic


def _seed(*arrays: np.ndarray) -> int:
    """A seed fixed by the data: the same rows give the same resamples on every run."""
    digest = hashlib.sha256(b"|".join(a.tobytes() for a in arrays)).digest()
    return int.from_bytes(digest[:8], "big")
