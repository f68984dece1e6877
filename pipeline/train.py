"""The train step: snapshot panel -> out-of-time backtest -> final model -> report -> MLflow.

``churn train`` (and ``make train``) call :func:`run`. With ``train_until`` the
step sees only what was known on that date: the panel is built with the data
cut there, and only snapshots whose label window closed before it are used.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

import pandas as pd

from models import evaluation
from models.classifier import ChurnModel
from models.health_score import HealthScore
from pipeline.featurize import FeatureTable

Progress = Callable[[str], None]


@dataclass
class TrainResult:
    """Everything a training run produced (the CLI prints it, MLflow stores it).

    Attributes
    ----------
    model : ChurnModel
        The final model: trained on every usable snapshot but the last validation months.
    backtest : models.evaluation.Backtest
    panel : pandas.DataFrame
        The usable (labelled, label window closed) snapshots.
    table : FeatureTable
        The feature build (feature definitions, vocabulary).
    train_until : date
        Nothing known after this date was used.
    fingerprint : str
        SHA-256 of the usable panel (keys, features, labels).
    importance : pandas.Series
        Mean absolute contribution per feature of the final model on its validation period.
    """

    cfg: object
    model: ChurnModel
    backtest: evaluation.Backtest
    panel: pd.DataFrame
    table: FeatureTable
    train_until: date
    fingerprint: str
    importance: pd.Series
    seconds: dict[str, float] = field(default_factory=dict)
    decision: object = None
    run_id: str | None = None
    version: str | None = None
    report: Path | None = None


def build_panel(cfg, train_until: date | None, progress: Progress) -> tuple[FeatureTable, date]:
    """Build the labelled snapshot panel from ``cfg.data`` as known on ``train_until``."""
    from pipeline.featurize import build_features
    from pipeline.labels import data_end, snapshot_dates
    from pipeline.sources import open_source

    with open_source(cfg.data) as source:
        end = data_end(source)
        until = min(train_until or end, end)
        if train_until and train_until > end:
            progress(f"--train-until {train_until} is after the data's end; using the data end {end}")
        dates = snapshot_dates(source, cfg, until)
        progress(f"building the snapshot panel: {len(dates)} snapshot dates up to {until} from {source.label} ...")
        table = build_features(source, cfg, dates, end=until)
    progress(f"  {len(table.frame):,} snapshots x {len(table.features)} features in {table.seconds:.1f} s")
    return table, until


def usable(frame: pd.DataFrame, until: date, window_days: int) -> pd.DataFrame:
    """Snapshots with an observed label whose label window closed before ``until``."""
    keep = frame["label_observed"].to_numpy() & evaluation.closed_before(frame["as_of"], until, window_days)
    return frame[keep].reset_index(drop=True)


def fingerprint(panel: pd.DataFrame, columns: list[str]) -> str:
    """SHA-256 of the panel's keys, features and labels, independent of row order."""
    ordered = panel.sort_values(["account_id", "as_of"])[["account_id", "as_of", *columns, "churned"]]
    hashes = pd.util.hash_pandas_object(ordered.astype({"as_of": str}), index=False).to_numpy()
    return hashlib.sha256(hashes.tobytes() + ",".join(ordered.columns).encode()).hexdigest()


def make_fitter(cfg, table: FeatureTable) -> evaluation.Fitter:
    """The training recipe: booster on the fit rows, early stopping and calibration on the validation rows."""
    training = cfg.training

    def fit(fit_rows: pd.DataFrame, valid_rows: pd.DataFrame) -> ChurnModel:
        model = ChurnModel(params=dict(training.lightgbm), seed=training.seed, calibration=training.calibration)
        model.fit(
            fit_rows, fit_rows["churned"],
            X_valid=valid_rows, y_valid=valid_rows["churned"],
            X_calib=valid_rows, y_calib=valid_rows["churned"],
            feature_names=table.feature_names, categorical=table.categorical,
        )
        model.vocabulary = table.vocabulary.to_dict()
        model.config_version = cfg.config_version
        return model

    return fit


def fit_final(panel: pd.DataFrame, fit: evaluation.Fitter, validation_months: int, until: date) -> ChurnModel:
    """Train the model to ship on every usable snapshot, the last months held out to calibrate."""
    fit_dates, valid_dates = evaluation.split_validation(sorted(set(panel["as_of"])), validation_months)
    model = fit(panel[panel["as_of"].isin(fit_dates)], panel[panel["as_of"].isin(valid_dates)])
    model.train_until = until
    model.validation_dates = valid_dates
    return model


def run(cfg, *, train_until: date | None = None, table: FeatureTable | None = None,
        health: HealthScore | None = None, progress: Progress = lambda msg: None,
        track: bool = True) -> TrainResult:
    """Backtest, train the final model, write the report and (with ``track``) log and register it.

    Parameters
    ----------
    cfg : pipeline.config.Config
    train_until : date, optional
        Use only what was known on this date (default: the data end).
    table : FeatureTable, optional
        A prebuilt panel (tests); otherwise built from ``cfg.data``.
    health : HealthScore, optional
        Baseline scorecard; default from ``training.health_score``.
    progress : callable
        Receives one line per step.
    track : bool
        Log to MLflow, register the model and run the promotion gate.
    """
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    if table is None:
        table, until = build_panel(cfg, train_until, progress)
    else:
        until = min(train_until or table.data_end, table.data_end)
    seconds["features"] = time.perf_counter() - started
    health = health or HealthScore.from_config(cfg.training.health_score)
    window = evaluation.label_window_days(cfg.labels)
    panel = usable(table.frame, until, window)
    folds = evaluation.make_folds(
        panel["as_of"], folds=cfg.training.folds, fold_months=cfg.training.fold_months,
        validation_months=cfg.training.validation_months, window_days=window,
    )
    progress(f"backtest: {len(folds)} out-of-time folds on {len(panel):,} usable snapshots")
    fit = make_fitter(cfg, table)
    step = time.perf_counter()
    result_backtest = evaluation.backtest(panel, folds, fit, health, cfg.training.top_k, progress)
    seconds["backtest"] = time.perf_counter() - step
    progress("training the final model on every usable snapshot ...")
    step = time.perf_counter()
    model = fit_final(panel, fit, cfg.training.validation_months, until)
    held_out = panel[panel["as_of"].isin(model.validation_dates)]
    importance = model.importance(held_out)
    seconds["final"] = time.perf_counter() - step
    progress(f"  {model.best_iteration_} trees, {model.calibrator_.method} calibration ({seconds['final']:.1f} s)")
    result = TrainResult(cfg, model, result_backtest, panel, table, until,
                         fingerprint(panel, table.feature_names), importance, seconds)
    finish(result, track, progress)
    result.seconds["total"] = time.perf_counter() - started
    return result


def finish(result: TrainResult, track: bool, progress: Progress) -> None:
    """Write the HTML report and, with ``track``, log, register and gate the model in MLflow."""
    from models import registry, report

    out_dir = Path(result.cfg.training.report_dir)

    def write_report() -> Path:
        result.report = report.write(result, out_dir)
        progress(f"report: {result.report}")
        return out_dir

    if not track:
        write_report()
        return
    progress(f"logging to MLflow at {result.cfg.tracking.uri} ...")
    registry.track(result, progress, write_report)


def summary(result: TrainResult) -> str:
    """Plain-text summary: model vs health score on the test snapshots, and the promotion decision."""
    names = ["roc_auc", "pr_auc", "top_decile_lift", f"precision_at_{result.cfg.training.top_k}",
             f"recall_at_{result.cfg.training.top_k}", "brier", "ece", "churned_mrr_top_decile"]
    latest = result.backtest.latest
    pooled = result.backtest.pooled()
    rows = [(n, pooled["model"].get(n), pooled["health"].get(n), latest.model.get(n), latest.health.get(n))
            for n in names]
    fmt = lambda v: "" if v is None or v != v else f"{v:.4f}"  # noqa: E731
    lines = [f"{'metric':<26}{'model':>10}{'health':>10}   | latest fold {latest.fold.number}:"
             f"{'model':>8}{'health':>9}"]
    lines += [f"{n:<26}{fmt(a):>10}{fmt(b):>10}   | {'':12}{fmt(c):>8}{fmt(d):>9}" for n, a, b, c, d in rows]
    preds = result.backtest.predictions
    lines.insert(0, f"test snapshots: {len(preds):,} rows, {preds['as_of'].nunique()} snapshot dates, "
                    f"{len(result.backtest.folds)} folds ({min(preds['as_of'])}..{max(preds['as_of'])})")
    if result.decision is not None:
        lines.append(f"model version {result.version} -> {result.decision.alias}: {result.decision.reason}")
    lines.append(f"report: {result.report}")
    return "\n".join(lines)
