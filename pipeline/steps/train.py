"""The train step: snapshot panel -> out-of-time backtest -> final model -> report -> MLflow.

``churn train`` (and ``make train``) call :func:`run`. With ``train_until`` the
step sees only what was known on that date: the panel is built with the data
cut there, and only snapshots whose label window closed before it are used.
"""

from __future__ import annotations

import hashlib
import time
from datetime import date
from pathlib import Path
from typing import Callable

import pandas as pd
from sklearn.metrics import roc_auc_score

from models import association, evaluation, survival_metrics
from models import folds as folds_
from models.classifier import ChurnModel
from models.errors import ModelError
from models.hazard import HazardModel, durations
from models.health_score import HealthScore
from pipeline.config import Config, Training
from pipeline.engine.featurize import FeatureTable
from pipeline.engine.snapshot import open_snapshot
from pipeline.io.urls import mask_url
from pipeline.publish import registry, report
from pipeline.publish.result import TrainResult

Progress = Callable[[str], None]


def build_panel(cfg: Config, train_until: date | None, progress: Progress) -> tuple[FeatureTable, date]:
    """Build the labelled snapshot panel from ``cfg.data`` as known on ``train_until``."""
    with open_snapshot(cfg, panel=True, until=train_until, progress=progress) as snap:
        until = snap.known_until
        progress(f"building the snapshot panel: {len(snap.dates)} snapshot dates up to {until} "
                 f"from {snap.source.label} ...")
        table = snap.build(with_labels=True)
    progress(f"  {len(table.frame):,} snapshots x {len(table.features)} features in {table.seconds:.1f} s")
    return table, until


def usable(frame: pd.DataFrame, until: date, window_days: int) -> pd.DataFrame:
    """Snapshots with an observed label whose label window closed before ``until``."""
    keep = frame["label_observed"].to_numpy() & folds_.closed_before(frame["as_of"], until, window_days)
    return frame[keep].reset_index(drop=True)


def recent_snapshots(frame: pd.DataFrame, until: date, days: int) -> pd.DataFrame:
    """Snapshots of the ``days`` up to ``until``, labelled or not: the population the model is trained at."""
    as_of = pd.to_datetime(frame["as_of"])
    return frame[(as_of <= pd.Timestamp(until)) & (as_of > pd.Timestamp(until) - pd.Timedelta(days=days))]


def fingerprint(panel: pd.DataFrame, columns: list[str]) -> str:
    """SHA-256 of the panel's keys, features and labels, independent of row order."""
    ordered = panel.sort_values(["account_id", "as_of"])[["account_id", "as_of", *columns, "churned"]]
    hashes = pd.util.hash_pandas_object(ordered.astype({"as_of": str}), index=False).to_numpy()
    return hashlib.sha256(hashes.tobytes() + ",".join(ordered.columns).encode()).hexdigest()


def make_fitter(cfg: Config, table: FeatureTable, drop: tuple[str, ...] | dict = ()) -> evaluation.Fitter:
    """The training recipe: ``fit(rows, trees, calibrator=None, train_until=None)`` -> a fitted ChurnModel.

    ``drop``: features left out (a dict says why, and the model keeps it as ``screened_out_``).
    """
    training = cfg.training
    monotone = {f.name: f.sign for f in table.features} if training.monotone else None
    names = [f for f in table.feature_names if f not in drop]

    def fit(rows: pd.DataFrame, trees: int, calibrator=None, train_until: date | None = None) -> ChurnModel:
        model = ChurnModel(params=dict(training.lightgbm), seed=training.seed, calibration="none")
        model.fit(
            rows, rows["churned"], trees=trees, calibrator=calibrator,
            feature_names=names, categorical=[c for c in table.categorical if c in names],
            vocabulary=table.vocabulary.to_dict(), config_version=cfg.config_version, train_until=train_until,
            monotone=monotone,
        )
        model.screened_out_ = dict(drop) if isinstance(drop, dict) else {name: "left out" for name in drop}
        return model

    return fit


def screen_categoricals(cfg: Config, table: FeatureTable, panel: pd.DataFrame, folds: list,
                        progress: Progress) -> dict[str, str]:
    """Categorical features with many levels that do not raise the out-of-time ROC-AUC: feature to why.

    A 50-value attribute (a state, a country) gives a churn panel's repeated snapshots of the same
    accounts many ways to fit noise: one with no signal cost 0.02-0.03 ROC-AUC on fight-churn's world.
    Each categorical with more than ``training.screen_categorical_levels`` training levels is kept
    only if the backtest's folds score better with it than without it; with no fold, only if its levels
    go with churn at all (:func:`screen_without_folds`).
    """
    limit = cfg.training.screen_categorical_levels
    candidates = [c for c in table.categorical if c in panel and panel[c].nunique() > limit]
    if not candidates:
        return {}
    if not folds:
        return screen_without_folds(cfg, panel, candidates, progress)
    found = evaluation.screen(panel, evaluation.fold_splits(panel, folds), lambda drop: make_fitter(cfg, table, drop),
                              candidates, cfg.training.default_trees)
    out = {}
    for name, auc in found.items():
        verdict = "kept" if auc["with"] > auc["without"] else "left out"
        line = f"{panel[name].nunique()} levels; out-of-time ROC-AUC {auc['with']:.4f} with it, {auc['without']:.4f} without"
        progress(f"  {name}: {line}: {verdict}")
        if verdict == "left out":
            out[name] = line
    return out


def screen_without_folds(cfg: Config, panel: pd.DataFrame, candidates: list[str],
                         progress: Progress) -> dict[str, str]:
    """With no out-of-time fold: keep a many-level categorical only if its levels and churn are dependent.

    Measured on fight-churn's 5-month world (no fold): folds of held-out accounts said its 26-level country
    hurt (0.783 vs 0.797 ROC-AUC), yet out of time the model lost 0.023 without it; an account-level
    permutation test (:mod:`models.association`) tells that country from a random attribute.
    """
    alpha, out = cfg.training.screen_categorical_alpha, {}
    for name in candidates:
        p = association.permutation_pvalue(panel, name, seed=cfg.training.seed)
        verdict = "kept" if p < alpha else "left out"
        line = (f"{panel[name].nunique()} levels; no out-of-time fold: levels vs churn over accounts, "
                f"permutation p = {p:.3f} (kept below {alpha:g})")
        progress(f"  {name}: {line}: {verdict}")
        if verdict == "left out":
            out[name] = line
    return out


def tree_grid(training: Training) -> tuple[list[int], int]:
    """Candidate tree counts and the default; a fixed ``lightgbm.num_boost_round`` leaves no choice."""
    fixed = training.lightgbm.get("num_boost_round")
    return ([int(fixed)], int(fixed)) if fixed else (list(training.trees), training.default_trees)


def run(cfg: Config, *, train_until: date | None = None, table: FeatureTable | None = None,
        health: HealthScore | None = None, fit: evaluation.Fitter | None = None,
        progress: Progress = lambda msg: None, track: bool = True, promote: bool = False) -> TrainResult:
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
    fit : callable, optional
        Training recipe ``(rows, trees, calibrator=None, train_until=None) -> ChurnModel``; default :func:`make_fitter`.
    progress : callable
        Receives one line per step.
    track : bool
        Log to MLflow, register the model and run the promotion gate.
    promote : bool
        Let an unvalidated model (no out-of-time fold fits the history) become the champion.
    """
    started = time.perf_counter()
    if table is None:
        table, until = build_panel(cfg, train_until, progress)
    else:
        until = min(train_until or table.data_end, table.data_end)
    panel = usable(table.frame, until, folds_.label_window_days(cfg.labels))
    health = health or HealthScore.from_config(cfg.training.health_score)
    result = train_models(cfg, table, panel, until, fit, health, progress)
    result.health, result.data_label = health, mask_url(str(cfg.data))
    finish(result, track, progress, promote)
    result.seconds["total"] = time.perf_counter() - started
    return result


def train_models(cfg: Config, table: FeatureTable, panel: pd.DataFrame, until: date, fit: evaluation.Fitter | None,
                 health: HealthScore, progress: Progress) -> TrainResult:
    """The purged out-of-time backtest, which chooses the recipe, then the final model on every usable snapshot.

    Without a ``fit`` recipe, categoricals with many levels are screened first (:func:`screen_categoricals`).
    """
    started = time.perf_counter()
    training = cfg.training
    if panel.empty:
        raise ModelError("no snapshot has an observed label yet: the data is too short to train on")
    window = folds_.label_window_days(cfg.labels)
    folds = folds_.make_folds(panel["as_of"], folds=training.folds, test_days=training.test_days,
                              window_days=window, min_train_dates=training.min_train_dates)
    grid, default = tree_grid(training)
    progress(f"backtest: {len(folds)} out-of-time fold(s) on {len(panel):,} usable snapshots "
             f"({panel['as_of'].nunique()} dates), purge gap {window} days")
    if len(folds) < training.folds:
        progress(f"  only {len(folds)} of the {training.folds} configured folds fit in the usable history")
    screened = screen_categoricals(cfg, table, panel, folds, progress) if fit is None else {}
    fit = fit or make_fitter(cfg, table, screened)
    backtest, recipe = evaluation.backtest(panel, folds, fit, health, training.top_k, grid=grid,
                                           default_trees=default, calibration_method=training.calibration,
                                           seed=training.seed, progress=progress)
    if not folds:
        progress("WARNING: no out-of-time test block fits this history: the model is UNVALIDATED "
                 f"({default} trees, uncalibrated); it is promoted only with --promote")
    seconds = {"backtest": time.perf_counter() - started}
    progress(f"training the final model on all {len(panel):,} usable snapshots ...")
    model = fit(panel, recipe.trees, recipe.calibrator, until)
    model.set_drift_references(panel, recent_snapshots(table.frame, until, cfg.scoring.drift_recent_days),
                               ages=[f.name for f in table.features if f.definition.ages],
                               history={f.name: f.history_days for f in table.features if f.history_days},
                               skip=[f.name for f in table.features if f.definition.date_relative],
                               weekly=[f.name for f in table.features if f.definition.weekday])
    seconds["final"] = time.perf_counter() - started - seconds["backtest"]
    progress(f"  {model.best_iteration_} trees, {model.calibrator_.method} calibration "
             f"({recipe.evidence}; {seconds['final']:.1f} s)")
    hazard_model(cfg, table, until, backtest, model, progress)
    latest = panel[panel["as_of"] >= sorted(panel["as_of"].unique())[-min(3, panel["as_of"].nunique())]]
    result = TrainResult(cfg, model, backtest, panel, table, until, fingerprint(panel, table.feature_names),
                         model.importance(latest), seconds)
    result.recipe = recipe
    return result


def fit_hazard(cfg: Config, table: FeatureTable, end: date) -> HazardModel:
    """The time-to-churn model on every snapshot before ``end``, as known at ``end`` (censored ones too)."""
    frame = table.frame[pd.to_datetime(table.frame["as_of"]) < pd.Timestamp(end)]
    monotone = {f.name: f.sign for f in table.features} if cfg.training.monotone else None
    return HazardModel(cfg.labels.curve_period_days, cfg.labels.curve_periods, params=dict(cfg.training.lightgbm),
                       seed=cfg.training.seed).fit(
        frame, end, cfg.labels.grace_days, feature_names=table.feature_names, categorical=table.categorical,
        monotone=monotone)


def hazard_model(cfg: Config, table: FeatureTable, until: date, backtest: evaluation.Backtest, model: ChurnModel,
                 progress: Progress) -> None:
    """Fit the time-to-churn model beside ``model`` (``model.hazard_``) and say which serves ``churn_probability``.

    On the latest out-of-time fold, a hazard model fitted on what was known at its first test date
    is compared with the classifier at the label horizon (ROC-AUC on the same test snapshots); it
    serves (``model.serving_ = "hazard"``) only when it is better. On the same rows, its curve's time-dependent
    AUC at every period end and integrated Brier score, beside the classifier's and the health score's AUC
    (``model.curve_metrics_``, in the report). Nothing is fitted when the panel has no ``next_churn_date`` (a
    table built by an older version).
    """
    model.serving_ = "classifier"
    if "next_churn_date" not in table.frame:
        return
    started = time.perf_counter()
    if backtest.folds:
        latest = backtest.latest
        check = fit_hazard(cfg, table, latest.fold.test_start)
        preds = latest.predictions
        keyed = table.frame.assign(as_of=pd.to_datetime(table.frame["as_of"]).dt.date)
        rows = preds[["account_id", "as_of"]].assign(as_of=pd.to_datetime(preds["as_of"]).dt.date).merge(
            keyed, on=["account_id", "as_of"], how="left")
        curves = check.predict_curve(rows)
        at_horizon = check.at(curves, cfg.labels.horizon_days)
        duration, event = durations(rows, until, cfg.labels.grace_days, check.days[-1])
        model.curve_metrics_ = survival_metrics.out_of_time_table(
            duration, event, curves, check.days,
            {"classifier": preds["model_probability"], "health score": preds["health_risk"]}, "time-to-churn model")
        y = preds["churned"].to_numpy()
        model.hazard_latest_auc_ = float(roc_auc_score(y, at_horizon)) if 0 < y.sum() < len(y) else float("nan")
        classifier_auc = float(latest.model.get("roc_auc", float("nan")))
        if model.hazard_latest_auc_ > classifier_auc:
            model.serving_ = "hazard"
        progress(f"time-to-churn model on the latest fold: ROC-AUC {model.hazard_latest_auc_:.4f} at "
                 f"{cfg.labels.horizon_days} days vs the classifier's {classifier_auc:.4f}: "
                 f"the {model.serving_} serves churn_probability")
    model.hazard_ = fit_hazard(cfg, table, until)
    progress(f"  time-to-churn model: {model.hazard_.rows_:,} period rows, {model.hazard_.events_:,} churns "
             f"({time.perf_counter() - started:.1f} s)")


def finish(result: TrainResult, track: bool, progress: Progress, promote: bool = False) -> None:
    """Write the HTML report and, with ``track``, log, register and gate the model in MLflow."""
    out_dir = Path(result.cfg.training.report_dir)

    def write_report() -> Path:
        result.report = report.write(result, out_dir)
        progress(f"report: {result.report}")
        return out_dir

    if not track:
        write_report()
        return
    progress(f"logging to {registry.where(result.cfg.tracking)} ...")
    registry.track(result, progress, write_report, promote)


def summary(result: TrainResult) -> str:
    """Plain-text summary: model vs health score on the test snapshots, and the promotion decision."""
    lines = []
    if result.validated:
        k = result.cfg.training.top_k
        names = ["roc_auc", "pr_auc", "top_decile_lift", f"precision_at_{k}", f"recall_at_{k}", "brier", "ece",
                 "churned_mrr_top_decile"]
        latest, pooled = result.backtest.latest, result.backtest.pooled()
        scopes = {"all test snapshots": pooled, f"latest fold ({latest.fold.number})":
                  {"model": latest.model, "health": latest.health}}
        table = pd.DataFrame({(scope, scorer): [m[scorer].get(n) for n in names]
                              for scope, m in scopes.items() for scorer in ("model", "health")}, index=names)
        preds = result.backtest.predictions
        lines += [f"test snapshots: {len(preds):,} rows, {preds['as_of'].nunique()} snapshot dates, "
                  f"{len(result.backtest.folds)} fold(s) ({min(preds['as_of'])}..{max(preds['as_of'])})",
                  table.to_string(float_format=lambda v: f"{v:.4f}", na_rep="")]
    else:
        lines.append(f"UNVALIDATED: {result.panel['as_of'].nunique()} usable snapshot dates leave no out-of-time "
                     "test block after the purge gap; no metric could be measured")
    if result.recipe is not None:
        lines.append(f"final model: {result.model.best_iteration_} trees, {result.model.calibrator_.method} "
                     f"calibration, chosen on {result.recipe.evidence}")
    if result.decision is not None:
        lines.append(f"model version {result.version} -> {result.decision.alias}: {result.decision.reason}")
    lines.append(f"report: {result.report}")
    return "\n".join(lines)
