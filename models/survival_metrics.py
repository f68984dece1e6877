"""Out-of-time measures of time-to-churn predictions under censoring.

``duration`` is the days observed until churn or censoring, ``event`` 1 when the
account churned then (see :func:`models.hazard.durations`).

* :func:`time_auc`: cumulative/dynamic ROC-AUC at t (Heagerty & Zheng 2005):
  cases churned by t, controls were still there at t (observed past it, or
  censored exactly at t, the end of the curve); rows censored before t
  are weighted out by the inverse probability of censoring (IPCW, Uno et al. 2007).
* :func:`brier`: the IPCW Brier score at t (Graf et al. 1999) and
  :func:`integrated_brier`, its trapezoidal mean over the times; :func:`ibs_difference`
  compares two models' integrated scores on the same rows, with a bootstrap interval over accounts.
* :func:`out_of_time_table`: both, for a curve and one-number risk scores side by side (the training report).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def censoring_survival(duration, event) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier of the censoring distribution: (times, G(t) just after each time)."""
    d = np.asarray(duration, dtype="float64")
    censored = 1 - np.asarray(event, dtype="int64")
    times = np.unique(d)
    at_risk = np.array([(d >= t).sum() for t in times], dtype="float64")
    lost = np.array([censored[d == t].sum() for t in times], dtype="float64")
    return times, np.cumprod(1.0 - np.divide(lost, at_risk, out=np.zeros_like(lost), where=at_risk > 0))


def still_there(duration: np.ndarray, event: np.ndarray, t: float) -> np.ndarray:
    """Rows still there at ``t`` (the controls at t): seen past it, or censored exactly at it (the end of the
    curve)."""
    return (duration > t) | ((duration == t) & (event == 0))


def _g(times: np.ndarray, surv: np.ndarray, at, before: bool = False) -> np.ndarray:
    """G evaluated at ``at`` (G(t-) with ``before``), floored to avoid huge weights.

    Controls at t are weighted by G(t-): a row censored exactly at t (the end of the curve) is still
    a control there, so the censoring at t must not shrink its weight's denominator.
    """
    at = np.asarray(at, dtype="float64")
    idx = np.searchsorted(times, at, side="left" if before else "right") - 1
    g = np.where(idx >= 0, surv[np.clip(idx, 0, None)], 1.0)
    return np.maximum(g, 0.05)


def time_auc(duration, event, risk, t: float) -> float | None:
    """IPCW cumulative/dynamic ROC-AUC at ``t`` of a risk score (None without cases or controls)."""
    d, e, r = (np.asarray(a, dtype="float64") for a in (duration, event, risk))
    times, surv = censoring_survival(d, e)
    case = (d <= t) & (e == 1)
    control = still_there(d, e, t)
    if not case.any() or not control.any():
        return None
    y = np.concatenate([np.ones(case.sum()), np.zeros(control.sum())])
    w = np.concatenate([1.0 / _g(times, surv, d[case], before=True), np.full(control.sum(), 1.0 / _g(times, surv, t, before=True))])
    return float(roc_auc_score(y, np.concatenate([r[case], r[control]]), sample_weight=w))


def brier(duration, event, probability, t: float) -> float:
    """IPCW Brier score at ``t`` of P(churn by t)."""
    return float(brier_losses(duration, event, probability, t).mean())


def brier_losses(duration, event, probability, t: float) -> np.ndarray:
    """Each row's IPCW-weighted squared error at ``t`` (:func:`brier` is their mean; rows censored before ``t``
    count 0, their weight carried by the others)."""
    d, e, p = (np.asarray(a, dtype="float64") for a in (duration, event, probability))
    times, surv = censoring_survival(d, e)
    case = (d <= t) & (e == 1)
    control = still_there(d, e, t)
    loss = np.zeros(len(d))
    loss[case] = (1.0 - p[case]) ** 2 / _g(times, surv, d[case], before=True)
    loss[control] = p[control] ** 2 / _g(times, surv, t, before=True)
    return loss


def integrated_brier(duration, event, curves, days) -> float:
    """Trapezoidal mean over ``days`` of :func:`brier` of each curve column."""
    return float(integrated_losses(duration, event, curves, days).mean())


def integrated_losses(duration, event, curves, days) -> np.ndarray:
    """Each row's trapezoidal mean over ``days`` of its :func:`brier_losses` (:func:`integrated_brier` is their mean)."""
    c = np.asarray(curves, dtype="float64")
    losses = np.stack([brier_losses(duration, event, c[:, k], t) for k, t in enumerate(days)], axis=1)
    grid = np.asarray(days, dtype="float64")
    if len(grid) == 1:
        return losses[:, 0]
    return np.trapezoid(losses, grid, axis=1) / (grid[-1] - grid[0])


def ibs_difference(duration, event, curves, reference, days, groups, level: float = 0.95,
                   resamples: int = 2000) -> tuple[float, float, float]:
    """Integrated Brier score of ``curves`` minus that of ``reference`` on the same rows, and its percentile
    bootstrap interval at ``level``.

    Whole ``groups`` (accounts, each with all its snapshot rows) are resampled, since rows of one account are
    not independent; the censoring weights stay those of the full sample. Seeded by the row count, so the same
    rows give the same interval.
    """
    from scipy.stats import bootstrap

    gap = integrated_losses(duration, event, curves, days) - integrated_losses(duration, event, reference, days)
    per_group = pd.DataFrame({"g": np.asarray(groups), "gap": gap}).groupby("g")["gap"].agg(["sum", "size"])
    total, rows = per_group["sum"].to_numpy(), per_group["size"].to_numpy(dtype="float64")

    def mean_gap(total, rows, axis=-1):
        return total.sum(axis=axis) / rows.sum(axis=axis)

    got = bootstrap((total, rows), mean_gap, paired=True, vectorized=True, method="percentile",
                    confidence_level=level, n_resamples=resamples, rng=np.random.default_rng(len(gap)))
    return float(gap.mean()), float(got.confidence_interval.low), float(got.confidence_interval.high)


def out_of_time_table(duration, event, curves, days, risks: dict, curve_name: str) -> pd.DataFrame:
    """One row per scorer: the time-dependent ROC-AUC at each of ``days`` and the integrated Brier score.

    ``curves`` (rows x days) is P(churn by each day) of ``curve_name``; each of ``risks`` (name -> one number per
    row) is ranked against every day too, and has no Brier score (one probability is not a curve). An AUC with no
    case or no control by that day is missing; the Brier score is integrated over the days some row is still
    seen at (a control), and its column names them (``IBS 30-90 d``): past them every row is censored and would
    count 0.
    """
    d, e, c = np.asarray(duration, dtype="float64"), np.asarray(event), np.asarray(curves, dtype="float64")

    def aucs(score_at) -> dict:
        found = {t: time_auc(d, e, score_at(k), t) for k, t in enumerate(days)}
        return {f"AUC {t} d": np.nan if v is None else v for t, v in found.items()}

    seen = [k for k, t in enumerate(days) if still_there(d, e, t).any()]
    ibs_name = f"IBS {days[seen[0]]}-{days[seen[-1]]} d" if seen else "IBS"
    ibs = integrated_brier(d, e, c[:, seen], [days[k] for k in seen]) if seen else np.nan
    rows = [{"scorer": curve_name, **aucs(lambda k: c[:, k]), ibs_name: ibs}]
    rows += [{"scorer": name, **aucs(lambda k, r=np.asarray(risk, dtype="float64"): r), ibs_name: np.nan}
             for name, risk in risks.items()]
    return pd.DataFrame(rows)
