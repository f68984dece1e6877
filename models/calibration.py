"""Calibration of raw model scores (log-odds) into probabilities that mean what they say.

Fitted on a held-out period the booster never trained on. ``auto`` keeps the
booster's own probabilities unless Platt scaling (sigmoid) or isotonic regression
lowers the cross-validated Brier score on that period (:func:`choose`) or, over
several periods, the Brier score of a map fitted on the earlier periods applied
to each later one (:func:`choose_forward`): a churn rate that drifts between
periods (seasons, cohorts) then counts against a map, as it will when scoring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

METHODS = ("none", "sigmoid", "isotonic")
#: Below this many rows or positives a calibrator would fit noise: keep the booster's probabilities.
MIN_ROWS, MIN_POSITIVES = 200, 20
#: Pseudo-rows at the base rate added to each isotonic block: 15 churners of 15 read 94 %, not 100 %.
PRIOR_ROWS = 1.0
#: Slope of the booster's own probability added to the isotonic map, so that no two raw scores tie:
#: far below what a probability shows (0.1 %), enough to keep the booster's order inside a block.
TIE_BREAK = 1e-6


def sigmoid(raw: np.ndarray) -> np.ndarray:
    """Logistic function of log-odds."""
    return 1.0 / (1.0 + np.exp(-np.asarray(raw, dtype="float64")))


@dataclass
class Calibrator:
    """A fitted mapping from raw log-odds to probability.

    Attributes
    ----------
    method : {"none", "sigmoid", "isotonic"}
        The mapping actually used.
    scores : dict
        Cross-validated Brier score of each candidate (``auto`` only).
    """

    method: str = "none"
    scores: dict[str, float] = field(default_factory=dict)
    _mapping: Any = None

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probability for each raw score."""
        raw = np.asarray(raw, dtype="float64")
        if self.method == "sigmoid":
            return self._mapping.predict_proba(raw.reshape(-1, 1))[:, 1]
        if self.method == "isotonic":  # a model saved before centred isotonic holds sklearn's step function
            return self._mapping.predict(raw)
        return sigmoid(raw)


@dataclass(frozen=True)
class CenteredIsotonic:
    """Centered isotonic regression (Oron & Flournoy 2017) with shrunk block rates.

    Isotonic regression gives a step function: every account in a block reads the same
    probability, and a block of churners only reads 100 %. Here each block's rate is
    shrunk toward the base rate by :data:`PRIOR_ROWS` pseudo-rows (then pooled again to
    stay monotone), and the map interpolates linearly between the blocks' centres
    (mean raw score), flat beyond the outer ones; :data:`TIE_BREAK` times the booster's
    own probability makes it strictly increasing, so the ranking keeps the booster's order.

    Attributes
    ----------
    x, y : numpy.ndarray
        Knots: block centres (raw log-odds, increasing) and their shrunk rates (non-decreasing).
    """

    x: np.ndarray
    y: np.ndarray

    @classmethod
    def fit(cls, raw: np.ndarray, y: np.ndarray) -> CenteredIsotonic:
        """Fit on raw log-odds and 0/1 outcomes."""
        order = np.argsort(raw, kind="stable")
        raw, y = raw[order], y[order].astype("float64")
        steps = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y).predict(raw)
        block = np.r_[0, np.cumsum(np.diff(steps) != 0)]  # steps are non-decreasing in raw: blocks are runs
        rows = np.bincount(block).astype("float64")
        centres = np.bincount(block, weights=raw) / rows
        base = float(y.mean())
        shrunk = (np.bincount(block, weights=y) + PRIOR_ROWS * base) / (rows + PRIOR_ROWS)
        pooled = IsotonicRegression().fit(centres, shrunk, sample_weight=rows + PRIOR_ROWS).predict(centres)
        return cls(centres, pooled)

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probability of each raw score: strictly increasing in it, never 0 or 1."""
        p = np.interp(raw, self.x, self.y)
        return p + TIE_BREAK * (sigmoid(raw) - 0.5) * np.minimum(p, 1.0 - p)  # stays inside (0, 1)


def _fit_mapping(method: str, raw: np.ndarray, y: np.ndarray):
    if method == "sigmoid":
        return LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y)
    if method == "isotonic":
        return CenteredIsotonic.fit(raw, y)
    return None


def isotonic(score, y) -> Calibrator:
    """Isotonic map from any risk score to an observed rate, whatever the sample size."""
    score, y = np.asarray(score, dtype="float64"), np.asarray(y, dtype="int64")
    return Calibrator("isotonic", {}, _fit_mapping("isotonic", score, y))


def fit(method: str, raw, y) -> Calibrator:
    """Fit one calibration ``method`` on raw scores and 0/1 outcomes."""
    raw, y = np.asarray(raw, dtype="float64"), np.asarray(y, dtype="int64")
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; use one of {METHODS} or auto")
    if method != "none" and not _enough(y):
        method = "none"
    return Calibrator(method, {}, _fit_mapping(method, raw, y))


def cross_validated_brier(method: str, raw: np.ndarray, y: np.ndarray, seed: int, folds: int = 5) -> float:
    """Out-of-fold Brier score of ``method`` on (raw, y)."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    pred = np.empty(len(y))
    for fit_idx, test_idx in splitter.split(raw.reshape(-1, 1), y):
        pred[test_idx] = fit(method, raw[fit_idx], y[fit_idx]).predict(raw[test_idx])
    return float(np.mean((pred - y) ** 2))


def choose(raw, y, method: str = "auto", seed: int = 0) -> Calibrator:
    """Fit ``method``, or for ``auto`` the candidate with the lowest cross-validated Brier score.

    Parameters
    ----------
    raw : array-like
        Raw log-odds on the held-out calibration period.
    y : array-like
        0/1 outcomes of the same rows.
    method : {"auto", "none", "sigmoid", "isotonic"}
    seed : int
        Seed of the cross-validation split.
    """
    raw, y = np.asarray(raw, dtype="float64"), np.asarray(y, dtype="int64")
    if method != "auto":
        return fit(method, raw, y)
    if not _enough(y):
        return Calibrator("none")
    scores = {m: cross_validated_brier(m, raw, y, seed) for m in METHODS}
    best = min(METHODS, key=lambda m: (round(scores[m], 6), METHODS.index(m)))
    chosen = fit(best, raw, y)
    chosen.scores = scores
    return chosen


def forward_brier(method: str, raws: list, labels: list) -> float:
    """Brier score of ``method`` fitted on the periods before each period and applied to it.

    Period k (k >= 2) is scored with the map fitted on the pooled periods 1..k-1: what a
    calibrator fitted on the past does in the next period, base-rate drift included.
    The score is the mean over the scored periods, each weighted by its rows.
    """
    errors, rows = 0.0, 0
    for k in range(1, len(raws)):
        past_raw = np.concatenate([np.asarray(r, dtype="float64") for r in raws[:k]])
        past_y = np.concatenate([np.asarray(y, dtype="int64") for y in labels[:k]])
        y = np.asarray(labels[k], dtype="float64")
        errors += float(np.sum((fit(method, past_raw, past_y).predict(raws[k]) - y) ** 2))
        rows += len(y)
    return errors / rows if rows else float("nan")


def choose_forward(raws: list, labels: list, method: str = "auto", seed: int = 0) -> Calibrator:
    """Fit ``method`` on the pooled periods; for ``auto`` choose it out of time, forward in time.

    With two periods or more, ``auto`` takes the candidate with the lowest :func:`forward_brier`
    (``none`` first on ties): a map fitted on one period's base rate and applied to a later
    one is judged as it will be used. With one period it falls back to :func:`choose`
    (cross-validated within the period).

    Parameters
    ----------
    raws, labels : list of array-like
        Per period, oldest first: raw log-odds and 0/1 outcomes of the same rows.
    method : {"auto", "none", "sigmoid", "isotonic"}
    seed : int
        Seed of the cross-validation split (one period only).
    """
    raw = np.concatenate([np.asarray(r, dtype="float64") for r in raws])
    y = np.concatenate([np.asarray(v, dtype="int64") for v in labels])
    if method != "auto" or len(raws) < 2:
        return choose(raw, y, method, seed)
    if not _enough(y):
        return Calibrator("none")
    scores = {m: forward_brier(m, raws, labels) for m in METHODS}
    best = min(METHODS, key=lambda m: (round(scores[m], 6), METHODS.index(m)))
    chosen = fit(best, raw, y)
    chosen.scores = scores
    return chosen


def _enough(y: np.ndarray) -> bool:
    positives = int(y.sum())
    return len(y) >= MIN_ROWS and MIN_POSITIVES <= positives <= len(y) - MIN_POSITIVES
