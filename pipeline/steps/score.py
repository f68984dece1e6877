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
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Callable

import numpy as np
import pandas as pd

from models.drift import DriftReport
from pipeline.errors import ChurnError, ModelError
from pipeline.io.urls import mask_secrets, mask_url
from pipeline.io.warehouse import Run, Warehouse, utc_now

Progress = Callable[[str], None]
#: Average month length in days: revenue at risk counts the months of the label horizon.
MONTH_DAYS = 365.25 / 12
ACCOUNT_COLUMNS = {"name": "account_name", "csm": "csm", "segment": "segment"}


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
    """

    run: Run
    scores: pd.DataFrame
    drift: DriftReport
    warehouse: str


def run(cfg, *, as_of: date | None = None, model_uri: str | None = None, model=None,
        warehouse: str | None = None, progress: Progress = lambda msg: None) -> ScoreResult:
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

    Raises
    ------
    ChurnError
        On a missing model, unusable data or a warehouse that cannot be written.
    """
    store = Warehouse.from_config(cfg, warehouse)
    record = Run(uuid.uuid4().hex, as_of, utc_now(), source=mask_url(str(cfg.data)))
    with _recorded(store, record):
        with _timed(record, "model"):
            model, record.model_name, record.model_version, record.model_uri = load_model(cfg, model_uri, model)
        if cfg.engine == "spark":  # features, predictions and reasons in one Spark job: pipeline.engine.spark_score
            from pipeline.engine.spark_score import score_on_spark

            progress(f"scoring the accounts active on {as_of or 'the data end'} on Spark with "
                     f"{record.model_name} v{record.model_version or '?'} ...")
            with _timed(record, "spark"):
                table, accounts, probability, explained = score_on_spark(cfg, model, as_of, record)
            with _timed(record, "drift"):  # on the collected features, as on the other engines
                drift, _ = check_drift(cfg, model, table.frame, record, progress)
        else:
            with _timed(record, "features"):
                table, accounts = read_features(cfg, model, as_of, record)
            check_features(model, table, record.model_uri)
            progress(f"scoring {len(table.frame):,} accounts active on {record.as_of} with "
                     f"{record.model_name} v{record.model_version or '?'} ...")
            with _timed(record, "predict"):
                drift, prepared = check_drift(cfg, model, table.frame, record, progress)
                probability = model.predict_risk(prepared)
            with _timed(record, "explain"):
                explained = explain_rows(cfg, model, table, prepared)
        scores = assemble(cfg, table.frame, accounts, probability, explained, record)
        record.status, record.rows = "succeeded", len(scores)
        scores = store.write(scores, record)
    return ScoreResult(record, scores, drift, store.label)


@contextmanager
def _timed(record: Run, step: str):
    """Add the wall time of the block to ``record.timings[step]``."""
    started = time.perf_counter()
    yield
    record.timings[step] = time.perf_counter() - started


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


def load_model(cfg, uri: str | None, model=None):
    """The model with its registry name, version and URI.

    An alias (``models:/name@champion``) is resolved to its version first and
    that version is loaded, so the recorded version is the one that scored.
    """
    uri = uri or f"models:/{cfg.tracking.model_name}@{cfg.scoring.model_alias}"
    if model is not None:
        check_config_version(model, cfg, uri)
        return model, uri, None, uri
    import mlflow

    from models.pyfunc import load_churn_model

    mlflow.set_tracking_uri(cfg.tracking.uri)
    name, version = registry_version(uri)
    loaded = load_churn_model(f"models:/{name}/{version}" if version else uri)
    check_config_version(loaded, cfg, uri)
    return loaded, name, version, uri


def check_config_version(model, cfg, uri: str) -> None:
    """Refuse a model trained under another config version than this code's and this config's.

    Raises
    ------
    ModelError
        Naming both versions (a model that records none is refused too).
    """
    from pipeline.config import CONFIG_VERSION

    trained = getattr(model, "config_version_", None)
    if trained != CONFIG_VERSION or trained != cfg.config_version:
        this = (f"version {CONFIG_VERSION}" if cfg.config_version == CONFIG_VERSION else
                f"version {CONFIG_VERSION} (the config file says {cfg.config_version})")
        raise ModelError(f"model {uri} was trained under config_version {trained}, this pipeline is "
                         f"{this}: retrain it (`churn train`)")


def check_features(model, table, uri: str) -> None:
    """Refuse to score when the model's features differ from the ones this config and data produce.

    Raises
    ------
    ModelError
        Naming the missing and the extra features, and those whose kind (numeric or
        categorical) differs. Unseen levels of a categorical feature are not an error:
        they score as missing (see :meth:`models.classifier.ChurnModel.prepare`).
    """
    produced, expected = table.feature_names, list(model.feature_names_)
    missing = [f for f in expected if f not in produced]
    extra = [f for f in produced if f not in expected]
    categorical = set(getattr(model, "categorical_", []))
    changed = [f"{f} ({'categorical' if f in categorical else 'numeric'} in the model)"
               for f in expected if f in produced and (f in categorical) != (f in table.categorical)]
    if not (missing or extra or changed):
        return
    problems = [f"the data lacks {len(missing)} feature(s) the model was trained on: {', '.join(missing)}"] if missing else []
    problems += [f"it has {len(extra)} feature(s) the model does not know: {', '.join(extra)}"] if extra else []
    problems += [f"{len(changed)} feature(s) changed kind: {', '.join(changed)}"] if changed else []
    raise ModelError(f"model {uri} does not fit the features this config and data produce: {'; '.join(problems)}. "
                     "Score with the config (windows, attributes) and tables the model was trained with, "
                     "or retrain it (`churn train`).")


def registry_version(uri: str) -> tuple[str, str | None]:
    """(name, version) of a registry URI; ``(uri, None)`` for any other kind of URI."""
    match = re.fullmatch(r"models:/([^/@]+)(?:@([^/]+)|/(\d+))?", uri)
    if not match:
        return uri, None
    name, alias, version = match.groups()
    if alias:
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        try:
            version = MlflowClient().get_model_version_by_alias(name, alias).version
        except MlflowException as exc:
            raise ModelError(f"no model version '{name}@{alias}' in the registry: {exc.message}") from None
    return name, version


def checked_as_of(source, as_of: date | None, record: Run) -> tuple[date, date]:
    """Validate the source and settle the as-of date (default: the data end); returns (data end, as-of).

    Never score garbage: contract errors stop the run and yesterday's rows stay.
    """
    from pipeline.engine.labels import data_end
    from pipeline.contract.validate import ensure_valid

    ensure_valid(source)
    end = data_end(source)
    record.as_of = as_of = as_of or end
    if as_of > end:
        raise ChurnError(f"--as-of {as_of} is after the end of the data ({end}): "
                         "features would count days that are not in the data")
    return end, as_of


def read_features(cfg, model, as_of: date | None, record: Run):
    """Features and account details (name, CSM, segment) of the accounts active on the as-of date.

    The source is closed before returning: the default warehouse is the same
    DuckDB file, which one process cannot hold read-only and read-write at once.
    """
    from pipeline.engine.catalog import Vocabulary
    from pipeline.engine.featurize import build_features
    from pipeline.io.sources import open_data

    with open_data(cfg) as source:
        end, as_of = checked_as_of(source, as_of, record)
        table = build_features(source, cfg, [as_of], vocab=Vocabulary.from_dict(model.vocabulary_ or {}),
                               with_labels=False, end=end)
        accounts = source.table("accounts").select("account_id", *ACCOUNT_COLUMNS).execute()
    if table.frame.empty:
        raise ChurnError(f"no account is active on {as_of} in {source.label}: nothing to score")
    return table, accounts.rename(columns=ACCOUNT_COLUMNS).astype({"account_id": str})


def check_drift(cfg, model, frame: pd.DataFrame, record: Run, progress: Progress):
    """PSI of every model feature vs training; a warning is printed and recorded, never fatal."""
    from models.drift import check

    prepared = model.prepare(frame)
    drift = check(getattr(model, "reference_", None) or {}, prepared, cfg.scoring.psi_threshold)
    record.drift = drift.to_dict()
    if drift.warning:
        record.warnings.append(drift.warning)
        progress(f"WARNING: {drift.warning}")
    return drift, prepared


def explain_rows(cfg, model, table, prepared: pd.DataFrame):
    """Grouped reasons from the exact TreeSHAP contributions of every row."""
    from models.explain import contributions, explain

    contrib = contributions(model, prepared)
    return explain(contrib, table.frame, table.features, cfg.scoring.top_reasons, cfg.scoring.context_groups)


def health_scores(cfg, frame: pd.DataFrame) -> pd.Series:
    """The hand-tuned health score (0-100) of each row: the baseline shown next to the model."""
    from models.health_score import HealthScore

    return HealthScore.from_config(cfg.training.health_score).score(frame)


def tiers(probability: np.ndarray, cfg) -> np.ndarray:
    """``high`` / ``medium`` / ``low`` by the configured probability thresholds."""
    t = cfg.scoring.tiers
    return np.where(probability >= t.high, "high", np.where(probability >= t.medium, "medium", "low"))


def ranks(probability: np.ndarray, revenue: np.ndarray, account_id: np.ndarray) -> np.ndarray:
    """1 = most at risk: by probability, then revenue at risk, then account id (stable)."""
    order = np.lexsort((account_id, -np.nan_to_num(revenue), -probability))
    out = np.empty(len(order), dtype=np.int64)
    out[order] = np.arange(1, len(order) + 1)
    return out


def assemble(cfg, frame: pd.DataFrame, accounts: pd.DataFrame, probability: np.ndarray,
             explained, record: Run) -> pd.DataFrame:
    """The ``churn_scores`` rows (without ``probability_change``, which the warehouse fills)."""
    mrr = frame["mrr"].to_numpy(dtype="float64") if "mrr" in frame else np.full(len(frame), np.nan)
    revenue = probability * mrr * cfg.labels.horizon_days / MONTH_DAYS
    out = pd.DataFrame({"account_id": frame["account_id"].astype(str).to_numpy(), "as_of_date": record.as_of})
    out = out.merge(accounts, on="account_id", how="left")
    out = out.assign(
        churn_probability=probability,
        risk_rank=ranks(probability, revenue, out["account_id"].to_numpy()),
        risk_tier=tiers(probability, cfg),
        mrr=mrr,
        revenue_at_risk=revenue,
        health_score=health_scores(cfg, frame).to_numpy(),
        reasons=explained.reasons,
        reason_summary=explained.summary,
        probability_change=np.nan,
        model_name=record.model_name,
        model_version=record.model_version,
        run_id=record.run_id,
        scored_at=record.started_at,
    )
    return out.sort_values("risk_rank", kind="stable").reset_index(drop=True)


def summary(result: ScoreResult) -> str:
    """Plain-text summary of a run for the command line."""
    run_ = result.run
    counts = result.scores["risk_tier"].value_counts()
    tiers_text = ", ".join(f"{t}: {int(counts.get(t, 0)):,}" for t in ("high", "medium", "low"))
    at_risk = result.scores["revenue_at_risk"].sum()
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in run_.timings.items())
    lines = [
        f"scored {run_.rows:,} accounts as of {run_.as_of} with {run_.model_name} v{run_.model_version or '?'} "
        f"-> {result.warehouse} (run {run_.run_id})",
        f"tiers: {tiers_text}; revenue at risk over the horizon: {at_risk:,.0f}",
        f"timings: {timing}",
    ]
    lines += [f"WARNING: {w}" for w in run_.warnings]
    return "\n".join(lines)
