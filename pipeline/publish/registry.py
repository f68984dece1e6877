"""MLflow tracking, registration and the promotion gate.

One run per training: parameters, data fingerprint, feature list, git commit,
backtest metrics and the report as artifacts. The model is logged as a pyfunc
and registered under ``tracking.model_name``. The new version gets the alias
``champion`` only if, on the latest out-of-time fold, it beats both the health
score and the current champion by the configured ROC-AUC margins; otherwise it
gets ``challenger`` and the decision says why. Aliases, never stages.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from models import evaluation, folds
from models.errors import ModelError
from pipeline.config import TRACKING_URI_ENV, Tracking
from pipeline.publish import pyfunc
from pipeline.publish.registry_file import where  # noqa: F401 (re-exported: it imports no MLflow)
from pipeline.publish.gate import CHAMPION, ChampionScore, Decision, decide, unvalidated_decision
from pipeline.publish.result import TrainResult

#: A champion comparison on fewer unseen rows or positives than this would be noise.
MIN_ROWS, MIN_POSITIVES = 200, 10


# ---------------------------------------------------------------- tracking set-up
def artifact_location(tracking: Tracking) -> str | None:
    """Configured artifact root, or ``mlruns/`` beside a SQLite store (MLflow's default otherwise)."""
    if tracking.artifact_location:
        return Path(tracking.artifact_location).resolve().as_uri()
    parts = urlsplit(tracking.uri)
    if parts.scheme == "sqlite":
        return (Path(tracking.uri.removeprefix("sqlite:///")).resolve().parent / "mlruns").as_uri()
    return None


def point_at(tracking: Tracking) -> None:
    """Point MLflow at ``tracking.uri``, leaving ``MLFLOW_TRACKING_URI`` as the user set it.

    ``mlflow.set_tracking_uri`` also writes that variable (for child processes). The pipeline reads it
    as the user's choice (:func:`pipeline.config.load_config`), so a later config in this process, or a
    ``churn`` it starts, must not find one the pipeline set.
    """
    before = os.environ.get(TRACKING_URI_ENV)
    mlflow.set_tracking_uri(tracking.uri)
    if before is None:
        os.environ.pop(TRACKING_URI_ENV, None)
    else:
        os.environ[TRACKING_URI_ENV] = before


def configure(tracking: Tracking) -> MlflowClient:
    """Point MLflow at ``tracking.uri`` and the experiment (created on first use)."""
    point_at(tracking)
    if mlflow.get_experiment_by_name(tracking.experiment) is None:
        mlflow.create_experiment(tracking.experiment, artifact_location=artifact_location(tracking))
    mlflow.set_experiment(tracking.experiment)
    return MlflowClient()


def git_commit() -> tuple[str, bool]:
    """(commit, has uncommitted changes) of the checkout this code runs from; ("unknown", False) outside git."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=here, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False
    return commit.stdout.strip(), bool(status.stdout.strip())


# ------------------------------------------------------------------- what is logged
def run_params(result: TrainResult) -> dict:
    """Parameters of the run: training and label settings, LightGBM parameters, data shape."""
    cfg, model = result.cfg, result.model
    params = {f"training.{k}": v for k, v in cfg.training.model_dump().items() if k != "lightgbm"}
    params.update({f"lgb.{k}": v for k, v in model.lightgbm_params().items()})
    params.update({
        "labels.horizon_days": cfg.labels.horizon_days, "labels.grace_days": cfg.labels.grace_days,
        "snapshots.frequency": cfg.snapshots.frequency, "config_version": cfg.config_version,
        "train_until": str(result.train_until), "rows": len(result.panel),
        "snapshot_dates": result.panel["as_of"].nunique(), "features": len(model.feature_names_),
        "trees": model.best_iteration_, "calibration_method": model.calibrator_.method,
        "validated": result.validated, "recipe_evidence": result.recipe.evidence if result.recipe else "",
    })
    return params


def run_metrics(backtest: evaluation.Backtest) -> dict[str, float]:
    """``<scorer>_<metric>`` pooled over all folds, ``fold<N>_...`` per fold and ``latest_...`` (none unvalidated)."""
    if not backtest.folds:
        return {}
    out = {f"{scorer}_{k}": v for scorer, m in backtest.pooled().items() for k, v in m.items()}
    for f in backtest.folds:
        for prefix in [f"fold{f.fold.number}"] + (["latest"] if f is backtest.latest else []):
            out.update({f"{prefix}_model_{k}": v for k, v in f.model.items()})
            out.update({f"{prefix}_health_{k}": v for k, v in f.health.items()})
    return {k: v for k, v in out.items() if v == v}


def version_tags(result: TrainResult, run_id: str) -> dict[str, str]:
    """What the scorer and the next gate need to know about a model version."""
    tags = {
        "features": json.dumps(result.model.feature_names_),
        "config_version": str(result.model.config_version_),
        "run_id": run_id,
        "train_until": str(result.train_until),
        "data_fingerprint": result.fingerprint,
        "validated": str(result.validated).lower(),
        # which model's probability `churn score` writes as churn_probability (the other one, if any, rides along)
        "churn_probability_model": getattr(result.model, "serving_", "classifier"),
    }
    if getattr(result.model, "hazard_latest_auc_", None) is not None:
        tags["hazard_latest_fold_auc"] = f"{result.model.hazard_latest_auc_:.6f}"
    if result.validated:
        latest = result.backtest.latest
        tags["latest_fold_test"] = f"{min(latest.fold.test_dates)}..{max(latest.fold.test_dates)}"
        tags["latest_fold_auc"] = f"{latest.model['roc_auc']:.6f}"
    return tags


# ----------------------------------------------------------------------- the gate
def champion_score(client: MlflowClient, name: str, result: TrainResult) -> ChampionScore | None:
    """Score the current champion on the latest fold's test snapshots it never trained on.

    When it trained on all of them (same data as now), fall back to the out-of-time
    ROC-AUC it had on its own latest fold, recorded when it was trained.
    """
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None
    latest = result.backtest.latest
    rows = result.panel[result.panel["as_of"].isin(latest.fold.test_dates)]
    until = current.tags.get("train_until")
    window = folds.label_window_days(result.cfg.labels)
    if until:
        rows = rows[~folds.closed_before(rows["as_of"], date.fromisoformat(until), window)]
    if len(rows) >= MIN_ROWS and MIN_POSITIVES <= rows["churned"].sum() < len(rows):
        return _rescore(str(current.version), name, rows, latest)
    recorded = current.tags.get("latest_fold_auc")
    how = ("it trained on the latest fold's snapshots, so its out-of-time ROC-AUC recorded at training "
           f"({current.tags.get('latest_fold_test', 'its latest fold')}) is compared")
    return ChampionScore(str(current.version), float(recorded) if recorded else None, latest.model["roc_auc"], how)


def _rescore(version: str, name: str, rows, latest) -> ChampionScore:
    from sklearn.metrics import roc_auc_score

    try:
        champion = pyfunc.load_churn_model(f"models:/{name}/{version}")
        champion_p = champion.predict_risk(rows)
    except ModelError as exc:
        return ChampionScore(version, None, None, f"champion v{version} cannot score today's features: {exc}")
    new = rows[["account_id", "as_of"]].merge(latest.predictions, on=["account_id", "as_of"], how="left")
    return ChampionScore(version, roc_auc_score(rows["churned"], champion_p),
                         roc_auc_score(rows["churned"], new["model_probability"]),
                         f"both scored on {len(rows):,} latest-fold snapshots the champion never trained on")


def apply(client: MlflowClient, name: str, version: str, decision: Decision, tags: dict) -> None:
    """Tag the version and move the alias the decision names to it."""
    for key, value in {**tags, "promotion": decision.alias, "promotion_reason": decision.reason}.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, decision.alias, version)


# --------------------------------------------------------------------- one run
def track(result: TrainResult, progress: Callable[[str], None], write_report: Callable[[], Path],
          promote: bool = False) -> None:
    """Log the run, register the model, run the gate, then write and log the report.

    ``write_report`` is called once the decision is known and returns the report folder.
    ``promote`` lets an unvalidated model (no out-of-time fold) become the champion.
    """
    cfg = result.cfg
    client = configure(cfg.tracking)
    with mlflow.start_run(run_name=f"train-until-{result.train_until}") as run:
        _log_inputs(result)
        progress("registering the model ...")
        info = pyfunc.log_model(result.model, result.panel.head(100), registered_model_name=cfg.tracking.model_name,
                                scorecard=result.health.to_dict() if result.health is not None else None)
        version = str(info.registered_model_version)
        if not result.validated:
            decision = unvalidated_decision(promote)
        else:
            decision = decide(result.backtest.latest.model["roc_auc"], result.backtest.latest.health["roc_auc"],
                              champion_score(client, cfg.tracking.model_name, result),
                              cfg.training.promotion_min_auc_gain_vs_health,
                              cfg.training.promotion_min_auc_gain_vs_champion)
        apply(client, cfg.tracking.model_name, version, decision, version_tags(result, run.info.run_id))
        mlflow.set_tags({"promotion": decision.alias, "promotion_reason": decision.reason[:5000]})
        result.run_id, result.version, result.decision = run.info.run_id, version, decision
        _log_report(write_report())


def _log_inputs(result: TrainResult) -> None:
    """Tags (git commit, data source and fingerprint), parameters, backtest metrics, feature list."""
    commit, dirty = git_commit()
    mlflow.set_tags({"git_commit": commit, "git_dirty": str(dirty), "data_source": result.data_label,
                     "data_fingerprint": result.fingerprint, "data_end": str(result.table.data_end)})
    mlflow.log_params(run_params(result))
    mlflow.log_metrics(run_metrics(result.backtest))
    mlflow.log_dict({"features": [_describe(f) for f in result.table.features]}, "features.json")


def _log_report(folder: Path) -> None:
    """Log the files of the training report (not whatever else shares the folder)."""
    from pipeline.publish.report import OUTPUTS

    for name in OUTPUTS:
        path = Path(folder) / name
        if path.is_dir():
            mlflow.log_artifacts(str(path), f"report/{name}")
        elif path.is_file():
            mlflow.log_artifact(str(path), "report")


def _describe(feature) -> dict:
    return {"name": feature.name, "kind": feature.kind, "family": feature.family,
            "group": feature.group, "description": feature.description}
