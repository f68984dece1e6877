"""The score step: today's features -> calibrated probabilities and reasons -> the warehouse.

``churn score`` (and ``make score``) call :func:`run`: load the registered
model, build the point-in-time features of every account active on the as-of
date with the model's own vocabulary, check feature drift against the training
data, score, explain, rank and write everything in one transaction (see
:mod:`pipeline.io.warehouse`). A run that fails after it started is recorded as
``failed`` in ``score_runs``.
"""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from models import date_shift
from models.drift import DriftReport, check
from models.health_score import HealthScore
from models.uplift_baseline import BASE_RISK
from pipeline.engine.catalog import Vocabulary
from pipeline.engine.engines import get_engine, timed
from pipeline.engine.labels import data_end
from pipeline.engine.snapshot import open_snapshot
from models.errors import ChurnError, ModelError
from pipeline.io.experiment_tables import assigner
from pipeline.errors import mask_secrets
from pipeline.io.urls import mask_url
from pipeline.io.warehouse import Run, Warehouse, utc_now
from pipeline.steps.score_table import (ACCOUNT_COLUMNS, assemble, check_config_version, check_features, curve_columns,
                                       curves_started, served_probability, serving, summary)
from pipeline.config import Config
from pipeline.pause_points import pause_point

__all__ = ["ScoreResult", "run", "scored_rows", "load_model", "loading_model", "registry_version", "registry_entry", "check_drift",
           "summary"]

Progress = Callable[[str], None]


@dataclass
class ScoreResult:
    """What a scoring run wrote.

    Attributes
    ----------
    run : pipeline.io.warehouse.Run
        The ``score_runs`` record (status, timings, drift, warnings).
    scores : pandas.DataFrame
        The ``churn_scores`` rows as written.
    drift : models.drift.DriftReport
    warehouse : str
        Where they went (password masked).
    assigned : list of pandas.DataFrame
        Per experiment running on the date, the ``churn_experiments`` rows this run wrote.
    """

    run: Run
    scores: pd.DataFrame
    drift: DriftReport
    warehouse: str
    assigned: list = field(default_factory=list)


def run(cfg: Config, *, as_of: date | None = None, model_uri: str | None = None, model=None,
        warehouse: str | None = None, progress: Progress = lambda msg: None, uplift_model=None) -> ScoreResult:
    """Score every account active on ``as_of`` and write the rows and the run record.

    Parameters
    ----------
    cfg : pipeline.config.Config
        ``data`` is the source, ``warehouse`` the default destination.
    as_of : date, optional
        Default: the data end (the day after the last usage event).
    model_uri : str, optional
        MLflow model URI; default ``models:/<tracking.model_name>@<scoring.model_alias>``.
    model : ChurnModel, optional
        An already loaded model (tests, notebooks); ``model_uri`` then only labels it.
    warehouse : str, optional
        DuckDB file or PostgreSQL URL overriding ``cfg.warehouse``.
    progress : callable
        Receives one line per step (and the drift warning).
    uplift_model : models.uplift.UpliftModel, optional
        A validated uplift model (tests); by default the registry's validated champion
        (``tracking.uplift_model_name``) when scoring with the registry's churn model, else none.

    Raises
    ------
    ChurnError
        On a missing model, unusable data or a warehouse that cannot be written.
    """
    from_registry = model is None
    store = Warehouse.from_config(cfg, warehouse)
    record = Run(uuid.uuid4().hex, as_of, utc_now(), source=mask_url(str(cfg.data)))
    with _recorded(store, record), loading_model(cfg, model_uri, model, record.timings) as loaded:
        with open_snapshot(cfg, as_of=as_of, vocabulary=lambda: Vocabulary.from_dict(loaded()[0].vocabulary_ or {})
                           ) as snap:
            model, health, record.model_name, record.model_version, record.model_uri = loaded()
            pause_point("model_loaded")
            record.as_of = snap.as_of
            features = snap.features()
            check_features(model, features, record.model_uri)
            progress(f"scoring the accounts active on {record.as_of} on {snap.engine.name} with "
                     f"{record.model_name} v{record.model_version or '?'} ...")
            frame, probability, reasons = snap.engine.score(snap.source, snap.query(), features, model, cfg,
                                                              record.timings)
            pause_point("features_scored")
            accounts = snap.source.required("accounts").select("account_id", *ACCOUNT_COLUMNS).execute()
            if frame.empty:
                raise ChurnError(f"no account is active on {record.as_of} in {snap.source.label}: nothing to score")
        accounts = accounts.rename(columns=ACCOUNT_COLUMNS).astype({"account_id": str})

        def uplift(with_risk: pd.DataFrame):
            if from_registry and uplift_model is None:
                return estimate_uplift(cfg, with_risk, progress)
            return None if uplift_model is None else uplift_model.predict(with_risk)

        scores, drift = scored_rows(cfg, model, health, frame, probability, reasons, accounts, record, features,
                                    uplift)
        record.status, record.rows = "succeeded", len(scores)
        assigned: list = []
        scores = store.write(scores, record, also=assigner(cfg.experiments, record.as_of, assigned), features=features)
    return ScoreResult(record, scores, drift, store.label, assigned)


def scored_rows(cfg: Config, model, health: HealthScore, frame: pd.DataFrame, probability, reasons,
                accounts: pd.DataFrame, record: Run, features: list,
                uplift: Callable[[pd.DataFrame], np.ndarray | None] = lambda with_risk: None) -> tuple[pd.DataFrame, DriftReport]:
    """The ``churn_scores`` rows of scored feature rows, and the drift report: everything :func:`run` does between
    the prediction and the write (the drift check, the time-to-churn curves, the probability served, the uplift,
    the reasons, ranks and tiers).

    ``probability`` and ``reasons`` are the engine's (:meth:`pipeline.engine.engines.Engine.score`), ``accounts``
    the score table's account columns (``account_id``, ``account_name``, ``csm``, ``segment``), ``uplift(rows)``
    the uplift estimate of the rows with their baseline risk (``None``: left null). ``record`` gets the drift,
    the warnings, the model served and the step timings.
    """
    horizon = cfg.labels.horizon_days
    curve_first = getattr(model, "serving_", "classifier") == "hazard"  # the curve sets the probability and the ranks
    curves: dict | Callable[[], dict] | None = (None if curve_first else
                                                curves_started(model, frame, horizon, probability, record.timings))
    with timed(record.timings, "drift"):
        drift = check_drift(cfg, model, frame, record, features)
    at_horizon = None  # the curve's value at the horizon: read only when the hazard model serves
    if curve_first:
        with timed(record.timings, "curves"):
            curves, at_horizon = curve_columns(model, frame, horizon, probability)
    probability = served_probability(model, probability, at_horizon)
    record.churn_probability_model = serving(model, at_horizon)
    # the uplift learners' baseline risk is the pipeline's churn probability of the day, added to a shallow copy:
    # assign() would copy every feature column (0.15-0.25 s at 100,000 rows) for an estimate most runs do not make
    with_risk = frame.copy(deep=False)
    with_risk[BASE_RISK] = probability
    estimated = uplift(with_risk)
    with timed(record.timings, "reasons"):
        scores = assemble(cfg, frame, accounts, probability, reasons, health.score(frame).to_numpy(), record,
                          getattr(model, "base_rate_", None), estimated, curves)
    return scores, drift


def estimate_uplift(cfg: Config, frame: pd.DataFrame, progress: Progress):
    """The validated uplift champion's estimate per row of ``frame``; ``None`` (and why) without one."""
    from models.errors import ModelError

    try:
        found = None
        if _registered(cfg, cfg.tracking.uplift_model_name):
            from pipeline.publish.uplift import load_validated  # MLflow: imported only when there is one

            found = load_validated(cfg)
    except ModelError as exc:
        progress(f"uplift left null: {exc}")
        return None
    if found is None:
        return None
    missing = [f for f in found.features_ if f not in frame]
    if missing:
        progress(f"uplift left null: the uplift model needs features today's data lacks ({', '.join(missing[:5])})")
        return None
    return found.predict(frame)


def _registered(cfg: Config, name: str) -> bool:
    """Whether ``name`` is a registered model of the tracking store (without creating anything)."""
    from pipeline.publish import registry_file

    if registry_file.registered(cfg.tracking.uri, name) is False:  # the store's file says so: no MLflow import
        return False
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from pipeline.publish.registry import point_at

    point_at(cfg.tracking)
    try:
        MlflowClient().get_registered_model(name)
    except MlflowException:
        return False
    return True


def earlier_dates(as_of: date, count: int, frequency: str) -> list[date]:
    """The ``count`` snapshot dates (month or week starts, as ``snapshots.frequency``) before ``as_of``, oldest first."""
    if count <= 0:
        return []
    step = "MS" if frequency == "monthly" else "W-MON"
    starts = pd.date_range(end=pd.Timestamp(as_of) - pd.Timedelta(days=1), periods=count, freq=step)
    return [d.date() for d in starts]


def run_with_history(cfg: Config, *, as_of: date | None = None, history: int = 0, model_uri: str | None = None,
                     warehouse: str | None = None, progress: Progress = lambda msg: None) -> list[ScoreResult]:
    """Score the ``history`` snapshot dates before ``as_of`` (default: the data end), oldest first, then ``as_of``.

    What a new deployment does once (``make score`` does it on the demo world), so that risk lists
    and account pages show each account's history from the first day.
    """
    if history <= 0:
        return [run(cfg, as_of=as_of, model_uri=model_uri, warehouse=warehouse, progress=progress)]
    if as_of is None:
        with get_engine(cfg.engine).source(cfg) as source:
            as_of = data_end(source)
    dates = [*earlier_dates(as_of, history, cfg.snapshots.frequency), as_of]
    results: list[ScoreResult] = []
    for day in dates:
        progress(f"-- as of {day} ({len(results) + 1} of {len(dates)})")
        results.append(run(cfg, as_of=day, model_uri=model_uri, warehouse=warehouse, progress=progress))
    return results


@contextmanager
def _recorded(store: Warehouse, record: Run):
    """Record the run as failed (in its own transaction) when anything in the block raises."""
    try:
        yield
    except BaseException as exc:  # Ctrl-C too: the run did not happen and says so
        record.status, record.finished_at, record.rows = "failed", utc_now(), 0
        record.error = mask_secrets(f"{type(exc).__name__}: {exc}")[:2000]
        store.record_failure(record)
        raise


@contextmanager
def loading_model(cfg: Config, uri: str | None, model=None,
                  timings: dict | None = None) -> Iterator[Callable[[], tuple]]:
    """:func:`load_model` on another thread while the block opens and checks the data; yields ``loaded()``,
    which waits for the model and returns (or raises) what :func:`load_model` does.

    The model's imports (LightGBM, scikit-learn, SciPy) and unpickling are Python work; opening and checking
    the data is mostly the engine's, which runs without the GIL. When the block raises a
    :class:`~models.errors.ChurnError` (bad data), a model that failed to load is said first, as when the
    model was loaded before the data was opened.
    """
    def load():
        with timed(timings if timings is not None else {}, "model"):
            return load_model(cfg, uri, model)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="churn-model") as pool:
        future = pool.submit(load)
        try:
            yield future.result
        except ChurnError:
            future.result()
            raise


def load_model(cfg: Config, uri: str | None, model=None):
    """The model, its health-score baseline, registry name, version and URI.

    An alias (``models:/name@champion``) is resolved to its version first and
    that version is loaded, so the recorded version is the one that scored. The
    baseline is the scorecard logged with the model (the one it was compared
    against); a model logged without one, or passed in, gets ``training.health_score``.
    """
    uri = uri or f"models:/{cfg.tracking.model_name}@{cfg.scoring.model_alias}"
    scorecard = None
    name, version = uri, None
    if model is None:
        model, scorecard, name, version = _load_registered(cfg, uri)
    check_config_version(model, cfg, uri)
    health = HealthScore.from_dict(scorecard) if scorecard else HealthScore.from_config(cfg.training.health_score)
    return model, health, name, version, uri


def _load_registered(cfg: Config, uri: str):
    """(model, scorecard, name, version) of the model the registry serves at ``uri``.

    The registry is asked every time. On a SQLite store whose file already says which version serves
    (:mod:`pipeline.publish.registry_file`) and a local copy holding that version of that run
    (:mod:`pipeline.publish.model_cache`), the copy is read without importing MLflow; otherwise MLflow
    resolves the URI and the copy is refreshed.
    """
    from pipeline.publish import model_cache
    from pipeline.publish.model_files import download, load_churn_model_and_scorecard

    cache = Path(cfg.scoring.model_cache_dir) if cfg.scoring.model_cache_dir else None
    entry = None if cache is None else _entry_from_file(cfg.tracking.uri, uri)
    local = None if cache is None or entry is None else model_cache.held(cache, cfg.tracking.uri, *entry)
    name: str
    version: str | None
    if local is not None and entry is not None:
        name, version, _ = entry
    else:
        from pipeline.publish.registry import point_at

        point_at(cfg.tracking)
        name, version, run_id = registry_entry(uri)
        if version and cache:
            local = model_cache.cached(cache, cfg.tracking.uri, name, version, run_id,
                                       lambda dst: download(f"models:/{name}/{version}", dst))
    model, scorecard = load_churn_model_and_scorecard(f"models:/{name}/{version}" if version else uri, local)
    return model, scorecard, name, version


def _registry_uri(uri: str) -> tuple[str, str | None, str | None] | None:
    """(name, alias, version) of a ``models:/`` URI (alias and version both ``None``: the bare name); else ``None``."""
    match = re.fullmatch(r"models:/([^/@]+)(?:@([^/]+)|/(\d+))?", uri)
    if match is None:
        return None
    name, alias, version = match.groups()
    return name, alias, version


def _entry_from_file(tracking_uri: str, uri: str) -> tuple[str, str, str] | None:
    """(name, version, run id) served at ``uri``, read from a SQLite store's file; ``None`` when MLflow must say."""
    from pipeline.publish import registry_file

    parts = _registry_uri(uri)
    if parts is None or not (parts[1] or parts[2]):
        return None
    name, alias, version = parts
    found = registry_file.served(tracking_uri, name, alias=alias, version=version)
    return None if found is None else (name, *found)


def registry_version(uri: str) -> tuple[str, str | None]:
    """(name, version) of a registry URI; ``(uri, None)`` for any other kind of URI."""
    return registry_entry(uri)[:2]


def registry_entry(uri: str) -> tuple[str, str | None, str]:
    """(name, version, run id) the registry serves for a registry URI; ``(uri, None, "")`` for any other URI.

    An alias is resolved to the version it points at now; the run id tells a re-created
    registry's version 1 from the one cached earlier.

    Raises
    ------
    ModelError
        When the registry has no such alias or version.
    """
    parts = _registry_uri(uri)
    if parts is None:
        return uri, None, ""
    name, alias, version = parts
    if not (alias or version):
        return name, None, ""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    try:
        found = (client.get_model_version_by_alias(name, alias) if alias else
                 client.get_model_version(name, str(version)))
    except MlflowException as exc:
        raise ModelError(f"no model version '{name}{'@' + alias if alias else '/' + str(version)}' in the registry: "
                         f"{exc.message}") from None
    return name, str(found.version), found.run_id or ""


def check_drift(cfg: Config, model, frame: pd.DataFrame, record: Run, features: list | None = None) -> DriftReport:
    """PSI of every model feature vs training; a warning is recorded (and :func:`summary` prints it), never fatal.

    With the model's ``features``, a date-wide shift (usage fell for most accounts at once: a holiday) is told
    apart (:mod:`models.date_shift`): its own warning, and the usage features it explains leave the drift warning.
    """
    drift = check(getattr(model, "reference_", None) or {}, model.prepare(frame), cfg.scoring.psi_threshold,
                  getattr(model, "reference_recent_", None), record.as_of)
    record.drift = drift.to_dict()
    shift = date_shift.detect(frame, features or [], drift.drifted, cfg.scoring.date_shift_share)
    if shift is not None:
        record.warnings.append(shift.warning)
        rest = DriftReport({k: v for k, v in drift.psi.items() if k not in shift.explains}, drift.threshold)
        if rest.warning:
            record.warnings.append(rest.warning)
    elif drift.warning:
        record.warnings.append(drift.warning)
    return drift


