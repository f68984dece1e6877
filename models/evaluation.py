"""Out-of-time evaluation: ranking and calibration metrics, and the backtest that also chooses the recipe.

The folds (:mod:`models.folds`) test on later snapshot dates than any label the
model trained on. The backtest trains one booster per fold and reads its test
scores at every candidate number of trees. Two choices are made from these
out-of-time scores, never from the test block they are reported on:

* the number of trees, by the mean ROC-AUC over folds. A ranking metric does
  not move when the churn rate drifts between periods, which log loss on the
  latest months (early stopping) does: young, growing worlds stop after a
  handful of trees;
* the calibration map from raw score to probability, fitted on the pooled
  out-of-time scores of earlier folds; ``auto`` picks the method forward in
  time (fitted on the folds before each fold, judged by Brier score on it:
  :func:`models.calibration.choose_forward`), so a map fitted on one season's
  churn rate is judged as it will be used, on a later period.

Fold k is reported with the choices the earlier folds make (the first fold with
the default tree count and the booster's own probabilities), so its metrics are
honest; the model that ships gets the choices of all folds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Protocol

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from models import calibration
from models.classifier import ChurnModel
from models.folds import Fold

ECE_BINS = 10


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
    """What one fold produced: its predictions on the test snapshots and their metrics.

    Attributes
    ----------
    auc_by_trees : dict
        Test ROC-AUC of the fold's booster at each candidate number of trees.
    trees, calibration : int, str
        What the fold was reported with (chosen on earlier folds only).
    """

    fold: Fold
    predictions: pd.DataFrame
    model: dict
    health: dict
    trees: int
    calibration: str
    seconds: float
    train_as_of: list[date] = field(default_factory=list)
    auc_by_trees: dict = field(default_factory=dict)


class Fitter(Protocol):
    """The training recipe: ``fit(rows, trees)`` returns a fitted ``ChurnModel`` of ``trees`` trees.

    Uncalibrated unless a ``calibrator`` is given (the final model); ``train_until`` is recorded with it.
    """

    def __call__(self, rows: pd.DataFrame, trees: int, calibrator: calibration.Calibrator | None = None,
                 train_until: date | None = None) -> ChurnModel: ...


@dataclass(frozen=True)
class Recipe:
    """How to train: the number of trees and the calibration chosen out of time.

    Attributes
    ----------
    trees : int
    calibrator : models.calibration.Calibrator
        Fitted on pooled out-of-time raw scores (``Calibrator("none")``: the booster's own probabilities).
    evidence : str
        Where the choice comes from, for the report and MLflow.
    """

    trees: int
    calibrator: calibration.Calibrator
    evidence: str


def choose_trees(aucs: list[dict], default: int) -> int:
    """The candidate tree count with the best mean ROC-AUC over ``aucs`` (fewer trees on ties)."""
    usable = [a for a in aucs if a and all(v == v for v in a.values())]
    if not usable:
        return default
    grid = sorted(usable[0])
    means = {t: float(np.mean([a[t] for a in usable])) for t in grid}
    return max(grid, key=lambda t: (round(means[t], 4), -t))


def choose_recipe(raw: list[dict], labels: list[np.ndarray], aucs: list[dict], default_trees: int,
                  method: str, seed: int) -> Recipe:
    """The recipe chosen on the out-of-time scores of the given folds.

    Parameters
    ----------
    raw : list of dict
        Per fold, the raw test scores at each candidate tree count.
    labels : list of numpy.ndarray
        Per fold, the 0/1 outcomes of the same rows.
    aucs : list of dict
        Per fold, the test ROC-AUC at each candidate tree count.
    method : {"auto", "none", "sigmoid", "isotonic"}
        ``training.calibration``; ``auto`` picks by forward Brier score over the folds
        (cross-validated within the fold when there is only one).
    """
    trees = choose_trees(aucs, default_trees)
    if not raw:
        return Recipe(trees, calibration.Calibrator("none"), "no earlier out-of-time fold: defaults")
    calibrator = calibration.choose_forward([r[trees] for r in raw], labels, method, seed)
    rows = sum(len(y) for y in labels)
    return Recipe(trees, calibrator, f"{len(raw)} out-of-time fold(s), {rows:,} test snapshots")


def backtest(panel: pd.DataFrame, folds: list[Fold], fit: Fitter, health, top_k: int, *, grid: list[int],
             default_trees: int, calibration_method: str = "auto", seed: int = 0,
             progress: Callable[[str], None] = lambda msg: None) -> tuple[Backtest, Recipe]:
    """Run every fold; return the backtest and the recipe all folds choose for the final model."""
    grid = sorted(set(grid) | {default_trees})  # the default is scored too: the first fold reports with it
    raws: list[dict[int, np.ndarray]] = []
    labels: list[np.ndarray] = []
    aucs: list[dict[int, float]] = []
    results: list[FoldResult] = []
    for fold in folds:
        progress(f"{fold.describe()} ...")
        started = time.perf_counter()
        train, test = (panel[panel["as_of"].isin(dates)] for dates in (fold.train_dates, fold.test_dates))
        booster = fit(train, max(grid))
        raw = {t: booster.raw_score(test, trees=t) for t in grid}
        y = test["churned"].to_numpy()
        both = 0 < y.sum() < len(y)
        auc = {t: roc_auc_score(y, raw[t]) if both else np.nan for t in grid}
        recipe = choose_recipe(raws, labels, aucs, default_trees, calibration_method, seed)  # earlier folds only
        res = _report_fold(fold, train, test, raw[recipe.trees], recipe, health, top_k,
                           time.perf_counter() - started)
        res.auc_by_trees = auc
        progress(f"  fold {fold.number}/{len(folds)}: ROC-AUC model {res.model['roc_auc']:.3f} vs health "
                 f"{res.health['roc_auc']:.3f}, {res.trees} trees, {res.calibration} calibration "
                 f"({res.seconds:.1f} s)")
        raws.append(raw)
        labels.append(y)
        aucs.append(auc)
        results.append(res)
    return Backtest(results, top_k), choose_recipe(raws, labels, aucs, default_trees, calibration_method, seed)


def screen(panel: pd.DataFrame, splits: list[tuple[np.ndarray, np.ndarray]],
           fit_without: Callable[[tuple[str, ...]], Fitter], candidates: list[str], trees: int
           ) -> dict[str, dict[str, float]]:
    """Mean ROC-AUC over ``splits`` with every feature, and without each of ``candidates``.

    Parameters
    ----------
    splits : list of (train, test) boolean masks over ``panel``'s rows
        The backtest's out-of-time folds (:func:`fold_splits`).
    fit_without : callable
        ``fit_without(names)`` -> a :class:`Fitter` that leaves the features ``names`` out.
    candidates : list of str
        Features that must earn their place (e.g. categoricals with many levels).
    trees : int
        Trees of every fit.

    Returns
    -------
    dict
        Candidate to ``{"with": auc, "without": auc}`` (NaN where no split had both classes).
    """
    def mean_auc(drop: tuple[str, ...]) -> float:
        fit, found = fit_without(drop), []
        for train_rows, test_rows in splits:
            train, test = panel[train_rows], panel[test_rows]
            y = test["churned"].to_numpy()
            if 0 < y.sum() < len(y):
                found.append(roc_auc_score(y, fit(train, trees).raw_score(test)))
        return float(np.mean(found)) if found else float("nan")

    full = mean_auc(())
    return {c: {"with": full, "without": mean_auc((c,))} for c in candidates}


def fold_splits(panel: pd.DataFrame, folds: list[Fold]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The rows each out-of-time fold trains and tests on."""
    as_of = panel["as_of"]
    return [(as_of.isin(f.train_dates).to_numpy(), as_of.isin(f.test_dates).to_numpy()) for f in folds]


def _report_fold(fold: Fold, train: pd.DataFrame, test: pd.DataFrame, raw: np.ndarray, recipe: Recipe, health,
                 top_k: int, seconds: float) -> FoldResult:
    """Predictions and metrics of one fold's test snapshots under ``recipe``.

    The health score's probability (for Brier and ECE) is an isotonic map from its risk
    to the churn rate of the fold's training snapshots: fitted where the model trained.
    """
    keep = [c for c in ("account_id", "as_of", "churned", "mrr") if c in test]
    pred = test[keep].assign(
        fold=fold.number,
        model_probability=recipe.calibrator.predict(raw),
        health_score=health.score(test).to_numpy(),
    )
    pred["health_risk"] = 100.0 - pred["health_score"]
    pred["health_probability"] = calibration.isotonic(health.risk(train).to_numpy(), train["churned"].to_numpy()).predict(
        pred["health_risk"].to_numpy())
    return FoldResult(
        fold, pred.reset_index(drop=True),
        metrics(pred, "model_probability", "model_probability", top_k),
        metrics(pred, "health_risk", "health_probability", top_k),
        recipe.trees, recipe.calibrator.method, seconds, list(fold.train_dates),
    )


#: Columns of the backtest predictions (``mrr`` too when the data has it).
PREDICTION_COLUMNS = ["account_id", "as_of", "churned", "fold", "model_probability", "health_score", "health_risk",
                      "health_probability"]


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
        """Every fold's test predictions (no rows for an unvalidated model)."""
        if not self.folds:
            return pd.DataFrame(columns=PREDICTION_COLUMNS)
        return pd.concat([f.predictions for f in self.folds], ignore_index=True)

    def pooled(self) -> dict[str, dict]:
        """Metrics of the model and the health score on every test snapshot of every fold (empty without folds)."""
        if not self.folds:
            return {"model": {}, "health": {}}
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
