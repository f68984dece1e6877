"""Out-of-time evaluation: rolling-origin folds, ranking and calibration metrics, the backtest.

A snapshot (account, T) is *usable* once its label window has closed: churn in
(T, T + horizon] plus the grace period in which a return would undo it. Each
fold tests on a block of later snapshots and trains only on snapshots whose
label window closed before the block starts, so nothing about the test period
leaks into training; early stopping and calibration use the last months of the
training range. Never a random split across time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from models.errors import ModelError

ECE_BINS = 10


# -------------------------------------------------------------------- periods
def label_window_days(labels_cfg) -> int:
    """Days from a snapshot until its label is final: horizon plus grace."""
    return labels_cfg.horizon_days + labels_cfg.grace_days


def closed_before(as_of, cutoff: date, window_days: int) -> np.ndarray:
    """Whether the label window of each snapshot date closed before ``cutoff``.

    The data known at ``cutoff`` covers the days before it, the same convention
    as ``label_observed`` relative to the data end.
    """
    as_of = pd.to_datetime(pd.Series(as_of)).to_numpy()
    return as_of + np.timedelta64(window_days, "D") < np.datetime64(cutoff)


def _months(d: date, n: int) -> date:
    return (pd.Timestamp(d) + pd.DateOffset(months=n)).date()


def _month_start(d: date) -> date:
    return d.replace(day=1)


def split_validation(dates: list[date], validation_months: int) -> tuple[list[date], list[date]]:
    """(fit dates, validation dates): the validation period is the last ``validation_months``."""
    if not dates:
        return [], []
    start = _months(_month_start(max(dates)), 1 - validation_months)
    return [d for d in dates if d < start], [d for d in dates if d >= start]


@dataclass(frozen=True)
class Fold:
    """One rolling-origin fold.

    Attributes
    ----------
    number : int
        1 = oldest; the last fold is the *latest out-of-time fold* of the promotion gate.
    test_start, test_end : date
        Test snapshots have ``test_start <= T < test_end``.
    fit_dates, valid_dates, test_dates : list of date
        Snapshot dates the booster trains on, early-stops and calibrates on, and is tested on.
    """

    number: int
    test_start: date
    test_end: date
    fit_dates: list[date]
    valid_dates: list[date]
    test_dates: list[date]

    @property
    def train_dates(self) -> list[date]:
        return [*self.fit_dates, *self.valid_dates]

    def describe(self) -> str:
        return (f"fold {self.number}: fit {_span(self.fit_dates)}, validate {_span(self.valid_dates)}, "
                f"test {_span(self.test_dates)}")


def _span(dates: list[date]) -> str:
    return f"{min(dates):%Y-%m}..{max(dates):%Y-%m}" if dates else "-"


def make_folds(dates, *, folds: int, fold_months: int, validation_months: int, window_days: int) -> list[Fold]:
    """Rolling-origin folds over the usable snapshot dates.

    The last ``folds`` blocks of ``fold_months`` months are test periods. Each
    fold trains on dates whose label window closed before its test period, the
    last ``validation_months`` of them held out for early stopping and calibration.

    Raises
    ------
    ModelError
        When the history is too short for even one fold.
    """
    dates = sorted(set(dates))
    if not dates:
        raise ModelError("no snapshot has an observed label yet: the data is too short to train on")
    anchor = _months(_month_start(dates[-1]), 1)
    out = []
    for i in range(folds, 0, -1):
        start, end = _months(anchor, -i * fold_months), _months(anchor, -(i - 1) * fold_months)
        test = [d for d in dates if start <= d < end]
        train = [d for d, closed in zip(dates, closed_before(dates, start, window_days)) if closed]
        fit, valid = split_validation(train, validation_months)
        if test and fit and valid:
            out.append(Fold(len(out) + 1, start, end, fit, valid, test))
    if not out:
        raise ModelError(
            f"not enough history for an out-of-time backtest: {len(dates)} usable snapshot dates "
            f"({dates[0]}..{dates[-1]}) cannot hold a test block of {fold_months} month(s) after "
            f"{validation_months + 1} training month(s) and a {window_days}-day label window. "
            "Lower training.folds, training.fold_months or training.validation_months, or use more data."
        )
    return out


# -------------------------------------------------------------------- metrics
def top_weights(score, n: float) -> np.ndarray:
    """Membership of each row in the top ``n`` by score, with ties shared fractionally.

    Rows tied at the cut get an equal share of the remaining places: the expected
    membership under random tie-breaking, so coarse scores (a health score with a
    few distinct values) are neither favoured nor penalised by row order.
    """
    s = np.asarray(score, dtype="float64")
    n = min(max(n, 0.0), len(s))
    if n == 0:
        return np.zeros(len(s))
    cut = np.sort(s)[::-1][int(np.ceil(n)) - 1]
    above, tied = s > cut, s == cut
    return np.where(above, 1.0, np.where(tied, (n - above.sum()) / tied.sum(), 0.0))


def ece(y, p, bins: int = ECE_BINS) -> float:
    """Expected calibration error over equal-count bins of predicted probability."""
    table = calibration_table(y, p, bins)
    return float(np.sum(table["rows"] / table["rows"].sum() * (table["predicted"] - table["observed"]).abs()))


def calibration_table(y, p, bins: int = ECE_BINS) -> pd.DataFrame:
    """Mean predicted vs observed churn rate in quantile bins of ``p`` (scikit-learn's ``calibration_curve``).

    ``rows`` counts each bin with scikit-learn's own quantile edges; bins that tied
    values leave empty are dropped, as ``calibration_curve`` drops them.
    """
    y, p = np.asarray(y, dtype="float64"), np.asarray(p, dtype="float64")
    observed, predicted = calibration_curve(y, p, n_bins=bins, strategy="quantile")
    edges = np.percentile(p, np.linspace(0, 100, bins + 1))
    counts = np.bincount(np.searchsorted(edges[1:-1], p), minlength=bins)
    return pd.DataFrame({"predicted": predicted, "observed": observed, "rows": counts[counts > 0]})


def gain_curve(y, score, points: int = 101) -> pd.DataFrame:
    """Share of churners (and of all rows) captured when contacting the top x % by score."""
    y = np.asarray(y, dtype="float64")
    share = np.linspace(0, 1, points)
    captured = [np.dot(top_weights(score, q * len(y)), y) / max(y.sum(), 1) for q in share]
    return pd.DataFrame({"contacted": share, "captured": captured})


def _top_metrics(frame: pd.DataFrame, score: str, top_k: int) -> dict:
    """Per-snapshot top-decile and top-k metrics, aggregated over snapshots (sums, then ratios)."""
    sums = dict(decile_rows=0.0, decile_hits=0.0, k_rows=0.0, k_hits=0.0, mrr_top=0.0)
    for _, snap in frame.groupby("as_of", sort=True):
        y = snap["churned"].to_numpy(dtype="float64")
        decile, top = top_weights(snap[score], 0.1 * len(snap)), top_weights(snap[score], top_k)
        sums["decile_rows"] += decile.sum()
        sums["decile_hits"] += decile @ y
        sums["k_rows"] += top.sum()
        sums["k_hits"] += top @ y
        if "mrr" in snap:
            sums["mrr_top"] += decile @ (y * snap["mrr"].fillna(0).to_numpy())
    rate, positives = frame["churned"].mean(), frame["churned"].sum()
    churned_mrr = (frame["churned"] * frame["mrr"].fillna(0)).sum() if "mrr" in frame else 0.0
    return {
        "top_decile_lift": sums["decile_hits"] / sums["decile_rows"] / rate if rate else np.nan,
        f"precision_at_{top_k}": sums["k_hits"] / sums["k_rows"] if sums["k_rows"] else np.nan,
        f"recall_at_{top_k}": sums["k_hits"] / positives if positives else np.nan,
        "churned_mrr_top_decile": sums["mrr_top"] / churned_mrr if churned_mrr else np.nan,
    }


def metrics(frame: pd.DataFrame, score: str, probability: str | None, top_k: int) -> dict:
    """Ranking and calibration metrics of one score on labelled snapshots.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``as_of``, ``churned``, the score columns and (optionally) ``mrr``.
    score : str
        Column ranking accounts by risk (higher = riskier).
    probability : str, optional
        Column with the probability for Brier and ECE.
    top_k : int
        Accounts a CSM team works per snapshot: precision and recall at k.
    """
    y = frame["churned"].to_numpy()
    both = 0 < y.sum() < len(y)
    out = {
        "roc_auc": roc_auc_score(y, frame[score]) if both else np.nan,
        "pr_auc": average_precision_score(y, frame[score]) if both else np.nan,
        **_top_metrics(frame, score, top_k),
    }
    if probability is not None:
        p = frame[probability].to_numpy()
        out["brier"] = brier_score_loss(y, p)
        out["ece"] = ece(y, p)
    return {k: float(v) for k, v in out.items()}


# ------------------------------------------------------------------- backtest
@dataclass
class FoldResult:
    """What one fold produced: its predictions on the test snapshots and their metrics."""

    fold: Fold
    predictions: pd.DataFrame
    model: dict
    health: dict
    trees: int
    calibration: str
    seconds: float
    train_as_of: list[date] = field(default_factory=list)


#: The training recipe: ``fit(fit_rows, valid_rows)`` returns a fitted ``ChurnModel``.
Fitter = Callable[[pd.DataFrame, pd.DataFrame], object]


def run_fold(panel: pd.DataFrame, fold: Fold, fit: Fitter, health, top_k: int) -> FoldResult:
    """Train on the fold's training dates, predict its test dates, score model and health score."""
    started = time.perf_counter()
    fit_rows, valid_rows, test = (panel[panel["as_of"].isin(dates)]
                                  for dates in (fold.fit_dates, fold.valid_dates, fold.test_dates))
    model = fit(fit_rows, valid_rows)
    health_cal = health_calibrator(health, valid_rows)
    keep = [c for c in ("account_id", "as_of", "churned", "mrr") if c in test]
    pred = test[keep].assign(
        fold=fold.number,
        model_probability=model.predict_risk(test),
        health_score=health.score(test).to_numpy(),
    )
    pred["health_risk"] = 100.0 - pred["health_score"]
    pred["health_probability"] = health_cal.predict(pred["health_risk"])
    return FoldResult(
        fold, pred.reset_index(drop=True),
        metrics(pred, "model_probability", "model_probability", top_k),
        metrics(pred, "health_risk", "health_probability", top_k),
        model.best_iteration_, model.calibrator_.method, time.perf_counter() - started,
        sorted(set(fit_rows["as_of"]) | set(valid_rows["as_of"])),
    )


def health_calibrator(health, rows: pd.DataFrame):
    """Isotonic map from health risk to churn rate on ``rows``, so Brier and ECE compare fairly."""
    from models import calibration

    return calibration.isotonic(health.risk(rows).to_numpy(), rows["churned"].to_numpy())


@dataclass
class Backtest:
    """All folds of a backtest."""

    folds: list[FoldResult]
    top_k: int

    @property
    def latest(self) -> FoldResult:
        return self.folds[-1]

    @property
    def predictions(self) -> pd.DataFrame:
        return pd.concat([f.predictions for f in self.folds], ignore_index=True)

    def pooled(self) -> dict[str, dict]:
        """Metrics of the model and the health score on every test snapshot of every fold."""
        pred = self.predictions
        return {
            "model": metrics(pred, "model_probability", "model_probability", self.top_k),
            "health": metrics(pred, "health_risk", "health_probability", self.top_k),
        }

    def table(self) -> pd.DataFrame:
        """One row per (scope, scorer): scope ``all`` = pooled, ``fold N`` = that fold."""
        rows = [{"scope": "all", "scorer": k, **v} for k, v in self.pooled().items()]
        for f in self.folds:
            rows += [{"scope": f"fold {f.fold.number}", "scorer": "model", **f.model},
                     {"scope": f"fold {f.fold.number}", "scorer": "health", **f.health}]
        return pd.DataFrame(rows)


def backtest(panel: pd.DataFrame, folds: list[Fold], fit: Fitter, health, top_k: int,
             progress: Callable[[str], None] = lambda msg: None) -> Backtest:
    """Run every fold in order, reporting progress after each."""
    results = []
    for fold in folds:
        progress(f"{fold.describe()} ...")
        res = run_fold(panel, fold, fit, health, top_k)
        progress(f"  fold {fold.number}/{len(folds)}: ROC-AUC model {res.model['roc_auc']:.3f} vs health "
                 f"{res.health['roc_auc']:.3f}, {res.trees} trees, {res.calibration} calibration "
                 f"({res.seconds:.1f} s)")
        results.append(res)
    return Backtest(results, top_k)
