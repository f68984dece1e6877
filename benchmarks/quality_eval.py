"""Scoring for ``make quality``: metrics, the plain-LightGBM baseline and the two hooks into the project.

Everything here works on the output of ``churn features --panel`` (one row per
account and snapshot date, feature columns, ``churned`` and ``label_observed``).
Of the project it uses only the tie-sharing top-k of ``models.evaluation``, the
registered model (:func:`load_trained_model`) and the health scorecard
(:func:`health_risk`); everything it compares is computed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from models.evaluation import top_weights

#: Columns of a ``churn features --panel`` table that are not features.
NON_FEATURES = ("account_id", "as_of", "churned", "churn_date", "label_observed", "next_churn_date")
#: The plain baseline of the issue: 200 trees x 7 leaves, no early stopping, no calibration.
PLAIN_PARAMS = dict(n_estimators=200, num_leaves=7, learning_rate=0.05, n_jobs=1, verbose=-1,
                    deterministic=True, force_row_wise=True)
ECE_BINS = 10


# ------------------------------------------------------------------ metrics
def top_decile_lift(frame: pd.DataFrame, score: str) -> float:
    """Churn rate among the top 10 % of each snapshot (pooled over snapshots) over the overall rate."""
    hits = rows = 0.0
    for _, snap in frame.groupby("as_of", sort=True):
        w = top_weights(snap[score].to_numpy(), 0.1 * len(snap))
        hits += float(w @ snap["churned"].to_numpy(dtype="float64"))
        rows += float(w.sum())
    rate = frame["churned"].mean()
    return hits / rows / rate if rows and rate else float("nan")


def ece(y, p, bins: int = ECE_BINS) -> float:
    """Expected calibration error over equal-count bins of the predicted probability."""
    df = pd.DataFrame({"y": np.asarray(y, dtype="float64"), "p": np.asarray(p, dtype="float64")})
    rank = df["p"].rank(method="first")
    df["bin"] = np.minimum((rank - 1) * bins // len(df), bins - 1).astype(int)
    table = df.groupby("bin").agg(p=("p", "mean"), y=("y", "mean"), n=("y", "size"))
    return float(np.sum(table["n"] / table["n"].sum() * (table["p"] - table["y"]).abs()))


def scores(frame: pd.DataFrame, score: str, probability: bool) -> dict:
    """ROC-AUC, PR-AUC, top-decile lift (and ECE for probabilities) of column ``score``."""
    y = frame["churned"].to_numpy()
    if not 0 < y.sum() < len(y):
        return {"auc": None, "pr_auc": None, "lift10": None}
    out = {"auc": float(roc_auc_score(y, frame[score])), "pr_auc": float(average_precision_score(y, frame[score])),
           "lift10": float(top_decile_lift(frame, score))}
    if probability:
        out["ece"] = ece(y, frame[score])
        out["mean_p"] = float(frame[score].mean())
    return out


# ------------------------------------------------------------------ panel helpers
def read_panel(path) -> pd.DataFrame:
    """A ``churn features --panel`` file with ``as_of`` as datetime64."""
    panel = pd.read_parquet(path)
    panel["as_of"] = pd.to_datetime(panel["as_of"])
    return panel


def split(panel: pd.DataFrame, window_days: int, test_snapshots: int) -> tuple[pd.Timestamp, list, list]:
    """(cutoff, training dates, test dates) for an out-of-time evaluation.

    The test dates are the last ``test_snapshots`` snapshot dates whose label window
    closed before the data end; the cutoff (``--train-until``) is the first of them.
    Training dates are those whose label window closed before the cutoff: what was
    known on the first test date.
    """
    closed = sorted(panel.loc[panel["label_observed"], "as_of"].unique())
    if len(closed) < test_snapshots + 1:
        raise ValueError(f"only {len(closed)} labelled snapshot dates: too few for {test_snapshots} test dates")
    test = closed[-test_snapshots:]
    cutoff = pd.Timestamp(test[0])
    train = [d for d in closed if pd.Timestamp(d) + pd.Timedelta(days=window_days) < cutoff]
    return cutoff, train, test


def feature_columns(panel: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(features, categorical features) of a panel."""
    feats = [c for c in panel.columns if c not in NON_FEATURES]
    cats = [c for c in feats if not pd.api.types.is_numeric_dtype(panel[c])]
    return feats, cats


def _matrix(rows: pd.DataFrame, feats: list[str], cats: dict) -> pd.DataFrame:
    def column(c: str) -> pd.Series:
        if c in cats:
            values = rows[c].astype("string").astype(object).where(rows[c].notna(), None)
            return pd.Series(pd.Categorical(values, categories=cats[c]), index=rows.index, name=c)
        return pd.to_numeric(rows[c], errors="coerce").astype("float64").rename(c)

    return pd.concat([column(c) for c in feats], axis=1) if feats else pd.DataFrame(index=rows.index)


def plain_lightgbm(train: pd.DataFrame, test: pd.DataFrame, seed: int = 42) -> np.ndarray:
    """Probabilities of the plain LightGBM (:data:`PLAIN_PARAMS`) fitted on ``train``, for ``test``."""
    import lightgbm as lgb

    feats, categorical = feature_columns(train)
    cats = {c: sorted(train[c].dropna().astype(str).unique()) for c in categorical}
    model = lgb.LGBMClassifier(random_state=seed, **PLAIN_PARAMS)
    model.fit(_matrix(train, feats, cats), train["churned"].to_numpy(), categorical_feature=categorical or "auto")
    return model.predict_proba(_matrix(test, feats, cats))[:, 1]


def attach_oracle(rows: pd.DataFrame, truth_path) -> pd.Series:
    """The world's recorded churn probability for each row (NaN where it has none)."""
    truth = pd.read_parquet(truth_path, columns=["account_id", "as_of_date", "true_churn_prob"])
    truth = truth.assign(as_of=pd.to_datetime(truth["as_of_date"]), account_id=truth["account_id"].astype(str))
    keyed = rows[["account_id", "as_of"]].assign(account_id=rows["account_id"].astype(str))
    merged = keyed.merge(truth[["account_id", "as_of", "true_churn_prob"]], on=["account_id", "as_of"], how="left")
    return pd.Series(merged["true_churn_prob"].to_numpy(), index=rows.index)


#: Panel columns of contract timing the driver ceiling may use beside the true pushes: when the renewals fall
#: is data any model sees, and the oracle's probability depends on it.
TIMING = ("days_to_renewal", "billing_term_days", "renewal_within_horizon", "tenure_days")
#: The truth's pushes an observer could in principle estimate: every driver but the unpredictable part.
OBSERVABLE_PUSHES = ("push_usage_decline", "push_onboarding_lag", "push_open_urgent_tickets",
                     "push_detractor_nps", "push_segment")


def driver_ceiling(known: pd.DataFrame, test: pd.DataFrame, truth_path, seed: int = 42) -> np.ndarray | None:
    """Probabilities of the plain LightGBM fitted on the world's *true* observable driver pushes.

    The same learner as :func:`plain_lightgbm`, on the same training rows, but its inputs are the
    generator's recorded pushes of every driver except the unpredictable one (the latent state the features
    estimate from noisy events, survey answers and tickets) plus the panel's contract timing. It bounds what
    a model learnt from these labels can reach if its features measured the drivers exactly; the gap between
    it and the oracle is the unpredictable part and the finite training set. ``None`` when the truth has no
    pushes.
    """
    import lightgbm as lgb

    truth = pd.read_parquet(truth_path)
    pushes = [c for c in OBSERVABLE_PUSHES if c in truth.columns]
    if not pushes:
        return None
    truth = truth.assign(as_of=pd.to_datetime(truth["as_of_date"]), account_id=truth["account_id"].astype(str))
    timing = [c for c in TIMING if c in known.columns]
    cols = pushes + timing

    def inputs(rows: pd.DataFrame) -> pd.DataFrame:
        keyed = rows[["account_id", "as_of", *timing]].assign(account_id=rows["account_id"].astype(str))
        merged = keyed.merge(truth[["account_id", "as_of", *pushes]], on=["account_id", "as_of"], how="left")
        return merged[cols].apply(pd.to_numeric, errors="coerce").astype("float64")

    model = lgb.LGBMClassifier(random_state=seed, **PLAIN_PARAMS)
    model.fit(inputs(known), known["churned"].to_numpy())
    return model.predict_proba(inputs(test))[:, 1]


# ------------------------------------------------------------------ the project's internals (isolated)
@dataclass
class TrainedModel:
    """What the harness needs of a registered model: its columns, its vocabulary, P(churn) per row."""

    feature_names: list[str]
    vocabulary: dict
    risk: Callable[[pd.DataFrame], np.ndarray]
    model: object = None


def load_trained_model(tracking_uri: str, model_name: str, version: str) -> TrainedModel:
    """The model ``churn train`` registered, as a :class:`TrainedModel`."""
    from pipeline.config import Tracking
    from pipeline.publish.pyfunc import load_churn_model
    from pipeline.publish.registry import point_at

    point_at(Tracking(uri=tracking_uri))  # not mlflow.set_tracking_uri: it would set MLFLOW_TRACKING_URI for later runs
    model = load_churn_model(f"models:/{model_name}/{version}")

    def risk(rows: pd.DataFrame) -> np.ndarray:
        return np.asarray(model.predict_risk(rows), dtype="float64")

    return TrainedModel(list(model.feature_names_), dict(model.vocabulary_), risk, model)


def health_risk(rows: pd.DataFrame, scorecard_path: str) -> np.ndarray:
    """``100 - health score`` of the project's hand-tuned scorecard (higher = riskier)."""
    from models.health_score import HealthScore

    return HealthScore.from_config(scorecard_path).risk(rows).to_numpy()


# ------------------------------------------------------------------ reasons against the world's true drivers
#: Reason family -> the generator's driver it can name. Segment and the unpredictable part are no reasons
#: (a segment is context, never a reason), so they are left out of "real drivers".
FAMILY_DRIVER = {"usage": "usage_decline", "milestones": "onboarding_lag", "tickets": "open_urgent_tickets",
                 "nps": "detractor_nps"}
#: A driver is one of an account's *real* drivers when it pushes its monthly churn logit by at least this much.
REAL_PUSH = 0.25


def first_reason_families(model, rows: pd.DataFrame, config_path) -> np.ndarray:
    """The signal family (usage, tickets, ...) of each row's first risk reason, as ``churn score`` writes it."""
    from models.predict import predict_and_explain
    from pipeline.config import load_config
    from pipeline.contract.tables import TABLES
    from pipeline.engine.catalog import Vocabulary, catalog

    cfg = load_config(config_path)
    features = [f for f in catalog(cfg, Vocabulary.from_dict(model.vocabulary_), set(TABLES))
                if f.name in set(model.feature_names_)]
    _, explained = predict_and_explain(model, rows, features, cfg.scoring.top_reasons, cfg.scoring.context_groups,
                                       cfg.scoring.causes)
    family = {f.group: f.family for f in features}
    return np.array([family.get(g) if g else None for g in explained.first], dtype=object)


def reason_grounding(test: pd.DataFrame, families: np.ndarray, truth_path) -> dict | None:
    """How often the first reason of a top-decile row names one of its real drivers, and its largest one.

    Top decile per snapshot date by the model's probability (column ``model``). Real drivers: those of
    :data:`FAMILY_DRIVER` pushing the logit by at least :data:`REAL_PUSH` (the world's truth records each
    driver's push). ``None`` when the truth has no pushes (an older world or fight-churn).
    """
    pushes = [f"push_{d}" for d in FAMILY_DRIVER.values()]
    truth = pd.read_parquet(truth_path)
    if not set(pushes) <= set(truth.columns):
        return None
    truth = truth.assign(as_of=pd.to_datetime(truth["as_of_date"]), account_id=truth["account_id"].astype(str))
    rows = test[["account_id", "as_of", "model"]].assign(account_id=test["account_id"].astype(str), family=families)
    rows = rows.merge(truth[["account_id", "as_of", *pushes]], on=["account_id", "as_of"], how="inner")
    rank = rows.groupby("as_of")["model"].rank(ascending=False, method="first")
    top = rows[rank <= np.ceil(0.1 * rows.groupby("as_of")["model"].transform("size"))]
    push = top[pushes].to_numpy()
    named = np.array([list(FAMILY_DRIVER).index(f) if f in FAMILY_DRIVER else -1 for f in top["family"]])
    real = push >= REAL_PUSH
    has_real = real.any(axis=1)
    hit = (named >= 0) & real[np.arange(len(top)), np.maximum(named, 0)]
    largest = (named >= 0) & (named == push.argmax(axis=1)) & has_real
    n = int(has_real.sum())
    return {"top_rows": len(top), "with_real_driver": n, "no_reason": int((top["family"].isna()).sum()),
            "names_a_real_driver": float(hit[has_real].mean()) if n else None,
            "names_the_largest": float(largest[has_real].mean()) if n else None,
            "by_family": {k: int(v) for k, v in top["family"].fillna("none").value_counts().items()}}


def registered_version(tracking_uri: str, model_name: str) -> dict | None:
    """The newest registered version with its promotion tags and training run parameters (public MLflow API)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        versions = client.search_model_versions(f"name='{model_name}'")
    except MlflowException:
        return None
    if not versions:
        return None
    v = max(versions, key=lambda m: int(m.version))
    params = client.get_run(v.run_id).data.params if v.run_id else {}
    return {"version": str(v.version), "promotion": v.tags.get("promotion"),
            "promotion_reason": v.tags.get("promotion_reason"), "trees": params.get("trees"),
            "calibration": params.get("calibration_method"), "backtest_latest_auc": v.tags.get("latest_fold_auc")}


#: The random attribute of ``--noise-attribute``: as many levels as a US state or a country column,
#: skewed (a few large levels, many small ones) and partly missing, carrying no signal at all.
NOISE_ATTRIBUTE, NOISE_LEVELS, NOISE_MISSING = "noise_attr", 50, 0.11


def with_noise_attribute(data: Path, out: Path, seed: int) -> None:
    """Copy the world in ``data`` to ``out`` (tables linked) with a random attribute added to ``accounts``."""
    out.mkdir(parents=True, exist_ok=True)
    for table in data.iterdir():
        if not table.name.startswith("accounts."):
            (out / table.name).symlink_to(table.resolve(), target_is_directory=table.is_dir())
            continue
        read, write = ((pd.read_csv, "to_csv") if table.suffix == ".csv" else (pd.read_parquet, "to_parquet"))
        accounts = read(table)
        rng = np.random.default_rng(seed + 7)
        weights = 1.0 / np.arange(1, NOISE_LEVELS + 1)
        levels = rng.choice(NOISE_LEVELS, size=len(accounts), p=weights / weights.sum())
        values = pd.Series([f"level_{k:02d}" for k in levels], dtype=object)
        accounts[NOISE_ATTRIBUTE] = values.where(rng.random(len(accounts)) >= NOISE_MISSING, None)
        getattr(accounts, write)(out / table.name, index=False)


def tiers_on_test_dates(model, test: pd.DataFrame, cfg: dict) -> dict:
    """Accounts in each tier per test date by the world's configured rule (the default: relative)."""
    from pipeline.config import Tiers
    from models.tiers import TierRule

    t = Tiers.model_validate(cfg.get("scoring", {}).get("tiers", {}))
    counts = {}
    for day, rows in test.groupby("as_of"):
        p = rows["model"].to_numpy()
        made, rule = TierRule(t.rule, t.high, t.medium).assign(p, (-p).argsort().argsort() + 1,
                                                                getattr(model, "base_rate_", None))
        counts[str(pd.Timestamp(day).date())] = {k: int((made == k).sum()) for k in ("high", "medium", "low")}
    return {"rule": rule, "by_date": counts, "empty_high_dates": sum(c["high"] == 0 for c in counts.values())}


def drift_on_test_dates(model, test: pd.DataFrame, cfg: dict) -> dict:
    """The scorer's drift check on every test date, and on the last one with a shift injected.

    The shift: the model's most important numeric feature moved by one standard deviation, as a
    broken load or a unit change would; the check should name it.
    """
    from models.drift import check

    threshold = float(cfg.get("scoring", {}).get("psi_threshold", 0.25))
    recent = getattr(model, "reference_recent_", None)
    warned: dict[str, list[str]] = {}
    for day, rows in test.groupby("as_of"):
        found = check(model.reference_, model.prepare(rows), threshold, recent, pd.Timestamp(day).date()).drifted
        warned[str(pd.Timestamp(day).date())] = list(found)
    last = test[test["as_of"] == test["as_of"].max()]
    numeric = [c for c in model.importance(last).index  # those the check compares (not date-relative ones)
               if c not in model.categorical_ and c in model.reference_]
    shifted = model.prepare(last)
    shifted[numeric[0]] = shifted[numeric[0]] + shifted[numeric[0]].std()
    caught = numeric[0] in check(model.reference_, shifted, threshold, recent,
                                 pd.Timestamp(last["as_of"].max()).date()).drifted
    return {"dates": len(warned), "warned_dates": sum(bool(v) for v in warned.values()), "by_date": warned,
            "injected": numeric[0], "injected_caught": caught}
