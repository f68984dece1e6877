"""Scoring without I/O: check the model against the features, rank, tier and assemble the rows.

Everything here is a pure function of its arguments (:func:`curves_started` runs one on a
thread), tested without MLflow or a database; :mod:`pipeline.steps.score` does the reading and writing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import pandas as pd

from features.revenue import MONTH
from pipeline.config import Config, CONFIG_VERSION
from pipeline.engine.engines import timed
from pipeline.io.experiment_tables import entry_line
from pipeline.io.score_tables import CURVE_DAYS
from models.errors import ModelError
from models.tiers import TierRule
from models.hazard import anchor, check_curves, window_of

#: Average month length in days (the features' billing month): revenue at risk counts the months of the horizon.
MONTH_DAYS = MONTH
#: ``accounts`` columns copied into ``churn_scores`` (source name -> score table name).
ACCOUNT_COLUMNS = {"name": "account_name", "csm": "csm", "segment": "segment"}
#: ``score_runs.churn_probability_model`` in the run summary's words.
SERVED_WORDS = {"classifier": "classifier", "hazard": "hazard model (its time-to-churn curve at the label horizon)"}


def check_config_version(model, cfg: Config, uri: str) -> None:
    """Refuse a model trained under another config version than this code's and this config's.

    Raises
    ------
    ModelError
        Naming both versions (a model that records none is refused too).
    """
    trained = getattr(model, "config_version_", None)
    if trained != CONFIG_VERSION or trained != cfg.config_version:
        this = (f"version {CONFIG_VERSION}" if cfg.config_version == CONFIG_VERSION else
                f"version {CONFIG_VERSION} (the config file says {cfg.config_version})")
        raise ModelError(f"model {uri} was trained under config_version {trained}, this pipeline is "
                         f"{this}: retrain it (`churn train`)")


def check_features(model, features, uri: str) -> None:
    """Refuse to score when the model's features differ from the ones this config and data produce.

    Raises
    ------
    ModelError
        Naming the missing and the extra features, and those whose kind (numeric or
        categorical) differs. Unseen levels of a categorical feature are not an error:
        they score as missing (see :meth:`models.classifier.ChurnModel.prepare`).
    """
    produced, expected = [f.name for f in features], list(model.feature_names_)
    produced_categorical = {f.name for f in features if f.kind == "categorical"}
    missing = [f for f in expected if f not in produced]
    screened = getattr(model, "screened_out_", None) or {}  # left out by training on purpose
    extra = [f for f in produced if f not in expected and f not in screened]
    categorical = set(getattr(model, "categorical_", []))
    changed = [f"{f} ({'categorical' if f in categorical else 'numeric'} in the model)"
               for f in expected if f in produced and (f in categorical) != (f in produced_categorical)]
    if not (missing or extra or changed):
        return
    problems = [f"the data lacks {len(missing)} feature(s) the model was trained on: {', '.join(missing)}"] if missing else []
    problems += [f"it has {len(extra)} feature(s) the model does not know: {', '.join(extra)}"] if extra else []
    problems += [f"{len(changed)} feature(s) changed kind: {', '.join(changed)}"] if changed else []
    raise ModelError(f"model {uri} does not fit the features this config and data produce: {'; '.join(problems)}. "
                     "Score with the config (windows, attributes) and tables the model was trained with, "
                     "or retrain it (`churn train`).")


def tiers(probability: np.ndarray, rank: np.ndarray, cfg: Config, base_rate: float | None = None
          ) -> tuple[np.ndarray, str]:
    """``high`` / ``medium`` / ``low`` by ``scoring.tiers`` (see :mod:`models.tiers`), and the rule in words."""
    t = cfg.scoring.tiers
    return TierRule(t.rule, t.high, t.medium).assign(probability, rank, base_rate)


def ranks(probability: np.ndarray, revenue: np.ndarray, account_id: np.ndarray) -> np.ndarray:
    """1 = most at risk: by probability, then revenue at risk, then account id (stable)."""
    order = np.lexsort((account_id, -np.nan_to_num(revenue), -probability))
    out = np.empty(len(order), dtype=np.int64)
    out[order] = np.arange(1, len(order) + 1)
    return out


def expected_saved(probability: np.ndarray, mrr: np.ndarray, uplift: np.ndarray | None) -> np.ndarray:
    """MRR a call is expected to keep: ``uplift × mrr`` with an uplift, else ``probability × mrr``."""
    return (probability if uplift is None else np.asarray(uplift, dtype="float64")) * mrr


def curve_columns(model, frame: pd.DataFrame, horizon_days: int,
                  probability: np.ndarray | None = None) -> tuple[dict, np.ndarray | None]:
    """``churn_probability_<d>d`` and ``expected_churn_window`` from the model's time-to-churn curve.

    Returns the columns and the hazard model's curve at ``horizon_days`` (what ``churn_probability`` becomes
    when the hazard model serves it). When the classifier serves the horizon and its ``probability`` is given,
    the curve is anchored to it (:func:`models.hazard.anchor`): the hazard model gives the shape, the classifier
    the level at the horizon, so ``churn_probability`` is the curve's value there. All null, and ``None``, when
    the model carries no curve (``hazard_``: trained before curves existed). Every curve is checked
    non-decreasing and within [0, 1] (:func:`models.hazard.check_curves`).
    """
    hazard = getattr(model, "hazard_", None)
    if hazard is None:
        nulls = {f"churn_probability_{d}d": np.full(len(frame), np.nan) for d in CURVE_DAYS}
        return {**nulls, "expected_churn_window": pd.array([None] * len(frame), dtype="Int64")}, None
    curves = hazard.predict_curve(frame)
    at_horizon = hazard.at(curves, horizon_days)
    points = np.column_stack([hazard.at(curves, d) for d in CURVE_DAYS])
    if probability is not None and serving(model, at_horizon) == "classifier":
        points = anchor(points, CURVE_DAYS, at_horizon, probability, horizon_days)
        curves = anchor(curves, hazard.days, at_horizon, probability, horizon_days)
    check_curves(points)
    window = window_of(curves, hazard.period_days)
    columns = {**{f"churn_probability_{d}d": points[:, k] for k, d in enumerate(CURVE_DAYS)},
               "expected_churn_window": pd.array([None if np.isnan(w) else int(w) for w in window], dtype="Int64")}
    return columns, at_horizon


def curves_started(model, frame: pd.DataFrame, horizon_days: int, probability: np.ndarray,
                   timings: dict) -> Callable[[], dict]:
    """The columns of :func:`curve_columns` computed on a thread of its own; the function returned waits for them
    (``timings["curves"]``: the thread's seconds).

    For a model whose classifier serves ``churn_probability``, whose ranks then do not wait for the curves: the hazard
    model's passes are LightGBM's traversal, which runs without the GIL, beside the drift check and the reasons,
    which are mostly Python and left a core idle (10 M-event bench, 100,000 rows: 1.5-1.6 of 2 cores busy).
    """
    def compute() -> dict:
        with timed(timings, "curves"):
            return curve_columns(model, frame, horizon_days, probability)[0]

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="churn-curves")
    try:
        return pool.submit(compute).result
    finally:
        pool.shutdown(wait=False)  # the thread ends with its one task


def serving(model, at_horizon: np.ndarray | None) -> str:
    """Which model serves ``churn_probability`` (``score_runs.churn_probability_model``): ``classifier`` or ``hazard``.

    The hazard model serves only when training chose it (``serving_``) and this run has its curve.
    """
    return "hazard" if at_horizon is not None and getattr(model, "serving_", "classifier") == "hazard" else "classifier"


def served_probability(model, probability: np.ndarray, at_horizon: np.ndarray | None) -> np.ndarray:
    """``churn_probability``: the classifier's, or the curve's at the horizon when the hazard model serves it."""
    return probability if at_horizon is None or serving(model, at_horizon) == "classifier" else at_horizon


def renewal_dates(frame: pd.DataFrame, as_of) -> pd.Series:
    """Each row's next renewal (``churn_scores.renewal_date``): ``as_of`` + the ``days_to_renewal`` feature.

    Only where the renewal is known: the feature exists and the account's term is known
    (``billing_term_days`` not null, when the frame has it): without a term the feature assumes a year,
    which is no date to tell a CSM. Null elsewhere.
    """
    if "days_to_renewal" not in frame or as_of is None:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    days = frame["days_to_renewal"].astype("float64")
    if "billing_term_days" in frame:
        days = days.where(frame["billing_term_days"].notna())
    out = pd.Timestamp(as_of) + pd.to_timedelta(days.round(), unit="D")
    return out.dt.date.astype(object).where(out.notna(), None)  # dates, None where unknown (not NaT)


def assemble(cfg: Config, frame: pd.DataFrame, accounts: pd.DataFrame, probability: np.ndarray,
             explained, health: np.ndarray, record, base_rate: float | None = None,
             uplift: np.ndarray | None = None, curves: dict | Callable[[], dict] | None = None) -> pd.DataFrame:
    """The ``churn_scores`` rows (without ``probability_change`` and ``change_reasons``, which the warehouse fills).

    Parameters
    ----------
    cfg : pipeline.config.Config
        Tiers and the label horizon (revenue at risk counts its months).
    frame : pandas.DataFrame
        The scored feature rows (``account_id``, ``mrr``...).
    accounts : pandas.DataFrame
        ``account_id`` with the account columns (name, CSM, segment).
    probability : numpy.ndarray
        P(churn) of each row of ``frame``.
    explained : models.predict.Predictions or models.reasons.Explanations
        The rows' reasons: taken in rank order (``explained.take(order)``), so predictions build them in it.
    health : numpy.ndarray
        The health score of each row (the model's baseline).
    record : pipeline.io.warehouse.Run
        The run: as-of date, model name and version, run id, start time; its ``tier_rule`` is set here.
    base_rate : float, optional
        The model's training base rate (``ChurnModel.base_rate_``), for the ``relative`` tier rule.
    uplift : numpy.ndarray, optional
        The validated uplift model's estimate for each row (``None``: no validated model, ``uplift`` null).
    curves : dict or callable, optional
        The time-to-churn columns (:func:`curve_columns`), or a function returning them, called once the reasons are
        built (columns computed meanwhile on another thread); null columns without.
    """
    mrr = frame["mrr"].to_numpy(dtype="float64") if "mrr" in frame else np.full(len(frame), np.nan)
    revenue = probability * mrr * cfg.labels.horizon_days / MONTH_DAYS
    out = pd.DataFrame({"account_id": frame["account_id"].astype(str).to_numpy(), "as_of_date": record.as_of})
    out = out.merge(accounts, on="account_id", how="left")
    rank = ranks(probability, revenue, out["account_id"].to_numpy())
    order = np.argsort(rank, kind="stable")
    risk_tier, record.tier_rule = tiers(probability, rank, cfg, base_rate)
    out = out.assign(
        churn_probability=probability,
        **(curves if isinstance(curves, dict) else curve_columns(None, frame, cfg.labels.horizon_days)[0]),
        risk_rank=rank,
        risk_tier=risk_tier,
        mrr=mrr,
        revenue_at_risk=revenue,
        health_score=np.asarray(health, dtype="float64"),
        reasons=None,  # filled below, in rank order
        reason_summary=None,
        contributions=None,
        probability_change=np.nan,
        change_reasons=None,
        model_name=record.model_name,
        model_version=record.model_version,
        run_id=record.run_id,
        scored_at=record.started_at,
        uplift=np.nan if uplift is None else np.asarray(uplift, dtype="float64"),
        expected_saved_mrr=expected_saved(probability, mrr, uplift),
        renewal_date=renewal_dates(frame, record.as_of).to_numpy(),
    )
    out = out.iloc[order].reset_index(drop=True)
    ordered = explained.take(order)
    if callable(curves):
        for name, values in curves().items():
            out[name] = values[order]
    out["reasons"], out["reason_summary"] = ordered.reasons, ordered.summary
    if ordered.contributions is not None:
        out["contributions"] = ordered.contributions
    return out


def summary(result) -> str:
    """Plain-text summary of a run for the command line."""
    run_ = result.run
    counts = result.scores["risk_tier"].value_counts()
    tiers_text = ", ".join(f"{t}: {int(counts.get(t, 0)):,}" for t in ("high", "medium", "low"))
    at_risk = result.scores["revenue_at_risk"].sum()
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in run_.timings.items())
    served = getattr(run_, "churn_probability_model", None)
    lines = [
        f"scored {run_.rows:,} accounts as of {run_.as_of} with {run_.model_name} v{run_.model_version or '?'} "
        f"-> {result.warehouse} (run {run_.run_id})",
        *([f"churn_probability served by the {SERVED_WORDS.get(served, served)}"] if served else []),
        f"tiers: {tiers_text}{f' ({run_.tier_rule})' if getattr(run_, 'tier_rule', None) else ''}; "
        f"revenue at risk over the horizon: {at_risk:,.0f}",
        f"timings: {timing}",
    ]
    for rows in getattr(result, "assigned", []):
        if len(rows) or rows.attrs.get("assigned_before"):
            lines.append(entry_line(rows))
    lines += [f"WARNING: {w}" for w in run_.warnings]
    return "\n".join(lines)
