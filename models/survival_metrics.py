"""Out-of-time measures of time-to-churn predictions under censoring.

``duration`` is the days observed until churn or censoring, ``event`` 1 when the
account churned then (see :func:`models.hazard.durations`).

* :func:`time_auc`: cumulative/dynamic ROC-AUC at t (Heagerty & Zheng 2005):
  cases churned by t, controls were still there at t (observed past it, or
  censored exactly at t, the end of the curve); rows censored before t
  are weighted out by the inverse probability of censoring (IPCW, Uno et al. 2007).
* :func:`brier`: the IPCW Brier score at t (Graf et al. 1999) and
  :func:`integrated_brier`, its trapezoidal mean over the times.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def censoring_survival(duration, event) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier of the censoring distribution: (times, G(t) just after each time)."""
    d = np.asarray(duration, dtype="float64")
    censored = 1 - np.asarray(event, dtype="int64")
    times = np.unique(d)
    at_risk = np.array([(d >= t).sum() for t in times], dtype="float64")
    lost = np.array([censored[d == t].sum() for t in times], dtype="float64")
    return times, np.cumprod(1.0 - np.divide(lost, at_risk, out=np.zeros_like(lost), where=at_risk > 0))


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
    control = (d > t) | ((d == t) & (e == 0))  # censored exactly at t: still there at t
    if not case.any() or not control.any():
        return None
    y = np.concatenate([np.ones(case.sum()), np.zeros(control.sum())])
    w = np.concatenate([1.0 / _g(times, surv, d[case], before=True), np.full(control.sum(), 1.0 / _g(times, surv, t, before=True))])
    return float(roc_auc_score(y, np.concatenate([r[case], r[control]]), sample_weight=w))


def brier(duration, event, probability, t: float) -> float:
    """IPCW Brier score at ``t`` of P(churn by t)."""
    d, e, p = (np.asarray(a, dtype="float64") for a in (duration, event, probability))
    times, surv = censoring_survival(d, e)
    case = (d <= t) & (e == 1)
    control = (d > t) | ((d == t) & (e == 0))  # censored exactly at t: still there at t
    loss = np.zeros(len(d))
    loss[case] = (1.0 - p[case]) ** 2 / _g(times, surv, d[case], before=True)
    loss[control] = p[control] ** 2 / _g(times, surv, t, before=True)
    return float(loss.mean())


def integrated_brier(duration, event, curves, days) -> float:
    """Trapezoidal mean over ``days`` of :func:`brier` of each curve column."""
    c = np.asarray(curves, dtype="float64")
    scores = np.array([brier(duration, event, c[:, k], t) for k, t in enumerate(days)])
    grid = np.asarray(days, dtype="float64")
    if len(grid) == 1:
        return float(scores[0])
    return float(np.trapezoid(scores, grid) / (grid[-1] - grid[0]))
