"""Tests of ``pipeline/steps/score_table.py``: the pure scoring functions, without MLflow or a database."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from features.base import REGISTRY, Feature
from pipeline.config import CONFIG_VERSION, load_config
from models.errors import ModelError
from models.reasons import Explanations
from pipeline.steps.score_table import (MONTH_DAYS, assemble, check_config_version, check_features, curve_columns,
                                        curves_started, ranks, renewal_dates, served_probability, serving, summary,
                                        tiers)

CFG = load_config(None, {"scoring.tiers": {"high": 0.3, "medium": 0.1}})


def feature(name: str) -> Feature:
    definition = next(d for d in REGISTRY if d.name == name)
    return Feature(name, definition, {})


def model(names, categorical=(), version=CONFIG_VERSION):
    return SimpleNamespace(feature_names_=list(names), categorical_=list(categorical), config_version_=version)


def test_config_version_must_match_the_code_and_the_config():
    check_config_version(model([]), CFG, "m")
    for version in (None, CONFIG_VERSION + 1):
        with pytest.raises(ModelError, match=f"model m was trained under config_version {version}, "
                                             f"this pipeline is version {CONFIG_VERSION}: retrain"):
            check_config_version(model([], version=version), CFG, "m")


def test_matching_features_pass_and_order_does_not_matter():
    produced = [feature("open_tickets"), feature("plan"), feature("nps_last")]
    check_features(model(["nps_last", "open_tickets", "plan"], categorical=["plan"]), produced, "m")


def test_feature_mismatch_names_missing_extra_and_changed_kind():
    produced = [feature("open_tickets"), feature("plan"), feature("nps_last")]
    with pytest.raises(ModelError) as info:
        check_features(model(["open_tickets", "plan", "tenure_days"], categorical=[]), produced, "m")
    message = str(info.value)
    assert "lacks 1 feature(s) the model was trained on: tenure_days" in message
    assert "has 1 feature(s) the model does not know: nps_last" in message
    assert "1 feature(s) changed kind: plan (numeric in the model)" in message


def test_tiers_are_inclusive_at_their_lower_threshold():
    p = np.array([0.0, 0.0999, 0.1, 0.2999, 0.3, 1.0])
    made, rule = tiers(p, np.arange(6, 0, -1), CFG)
    assert made.tolist() == ["low", "low", "medium", "medium", "high", "high"]
    assert rule == "tiers by probability: high ≥ 30%, medium ≥ 10%"


def test_default_tiers_are_relative_to_the_models_base_rate():
    p = np.array([0.01, 0.029, 0.03, 0.059, 0.06])
    made, rule = tiers(p, np.arange(5, 0, -1), load_config(None), base_rate=0.02)
    assert made.tolist() == ["low", "low", "medium", "medium", "high"]
    assert rule.startswith("tiers by base rate: high ≥ 3× the training base rate 2.0% (≥ 6.0%)")


def test_ranks_break_ties_by_revenue_then_account_id_and_ignore_missing_revenue():
    probability = np.array([0.2, 0.5, 0.2, 0.2, 0.2])
    revenue = np.array([10.0, 1.0, 30.0, np.nan, 10.0])
    ids = np.array(["b", "z", "c", "a", "a2"])
    got = ranks(probability, revenue, ids)
    assert got.tolist() == [4, 1, 2, 5, 3]  # z; then c (30); a2 and b (10) by id; a (no revenue) last
    assert sorted(got) == list(range(1, 6))


def test_assemble_builds_ranked_rows_with_revenue_over_the_horizon():
    frame = pd.DataFrame({"account_id": ["A1", "A2", "A3"], "mrr": [100.0, 1000.0, np.nan]})
    accounts = pd.DataFrame({"account_id": ["A1", "A2"], "account_name": ["Acme", "Bolt"],
                             "csm": ["Ann", None], "segment": ["SMB", "Enterprise"]})
    probability = np.array([0.4, 0.05, 0.2])
    explained = Explanations(np.array(["r1", "r2", "r3"], dtype=object), np.array(["s1", "s2", "s3"], dtype=object),
                             pd.DataFrame(index=range(3)), np.array([None] * 3), np.array(["{}"] * 3, dtype=object))
    record = SimpleNamespace(as_of=date(2024, 4, 1), model_name="churn", model_version="7", run_id="run-1",
                             started_at=datetime(2024, 4, 2, 3, 0))
    out = assemble(CFG, frame, accounts, probability, explained, np.array([80.0, 20.0, 50.0]), record)
    assert out["account_id"].tolist() == ["A1", "A3", "A2"] and out["risk_rank"].tolist() == [1, 2, 3]
    assert out["risk_tier"].tolist() == ["high", "medium", "low"]
    months = CFG.labels.horizon_days / MONTH_DAYS
    assert out["revenue_at_risk"].tolist()[::2] == pytest.approx([0.4 * 100 * months, 0.05 * 1000 * months])
    assert np.isnan(out.loc[1, "revenue_at_risk"]) and pd.isna(out.loc[1, "account_name"])  # unknown account
    assert out["reasons"].tolist() == ["r1", "r3", "r2"] and out["health_score"].tolist() == [80.0, 50.0, 20.0]
    assert out["probability_change"].isna().all()
    assert set(out["run_id"]) == {"run-1"} and set(out["as_of_date"]) == {date(2024, 4, 1)}


def test_summary_counts_tiers_and_revenue_and_repeats_warnings():
    scores = pd.DataFrame({"risk_tier": ["high", "low", "low"], "revenue_at_risk": [1200.0, 30.4, np.nan]})
    run = SimpleNamespace(rows=3, as_of=date(2024, 4, 1), model_name="churn", model_version=None, run_id="r9",
                          timings={"model": 1.0, "write": 0.5}, warnings=["feature drift: events_30d"])
    lines = summary(SimpleNamespace(run=run, scores=scores, warehouse="wh.duckdb")).splitlines()
    assert lines == ["scored 3 accounts as of 2024-04-01 with churn v? -> wh.duckdb (run r9)",
                     "tiers: high: 1, medium: 0, low: 2; revenue at risk over the horizon: 1,230",
                     "timings: model 1.0 s, write 0.5 s",
                     "WARNING: feature drift: events_30d"]


def fitted_hazard():
    """A hazard model fitted on 4,000 snapshots whose churn hazard rises with ``x``, and 200 of them to score."""
    from models.hazard import HazardModel

    rng = np.random.default_rng(3)
    x = rng.normal(size=4000)
    as_of = pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, 4000), unit="D")
    life = rng.exponential(60 / (0.2 + np.exp(x)))
    churn = np.where(life <= 180, as_of + pd.to_timedelta(np.ceil(life), unit="D"), pd.NaT)
    frame = pd.DataFrame({"account_id": [f"a{i}" for i in range(4000)], "as_of": as_of.date, "x": x,
                          "next_churn_date": pd.to_datetime(churn).date})
    return HazardModel().fit(frame, date(2025, 6, 1), 30, trees=30, feature_names=["x"]), frame.head(200)


def test_curve_columns_are_non_decreasing_and_serve_the_horizon_only_when_the_hazard_won():
    hazard, scored = fitted_hazard()
    columns, at_90 = curve_columns(SimpleNamespace(hazard_=hazard), scored, 90)
    curve = np.column_stack([columns[f"churn_probability_{d}d"] for d in (30, 60, 90, 180)])
    assert (np.diff(curve, axis=1) >= 0).all() and (curve >= 0).all() and (curve <= 1).all()
    assert np.allclose(at_90, columns["churn_probability_90d"])
    window = columns["expected_churn_window"]
    passed = curve[:, 3] > 0.5
    assert window.isna().tolist() == (~passed).tolist() and set(window.dropna()) <= {30, 60, 90, 120, 150, 180}
    classifier = np.full(200, 0.2)
    assert served_probability(SimpleNamespace(hazard_=hazard, serving_="classifier"), classifier, at_90) is classifier
    assert np.allclose(served_probability(SimpleNamespace(hazard_=hazard, serving_="hazard"), classifier, at_90), at_90)
    assert serving(SimpleNamespace(hazard_=hazard, serving_="hazard"), at_90) == "hazard"
    assert serving(SimpleNamespace(hazard_=hazard, serving_="classifier"), at_90) == "classifier"
    assert serving(SimpleNamespace(serving_="hazard"), None) == "classifier"  # no curve this run: the classifier
    # the classifier serves: the curve is anchored to its probability at the horizon, shape from the hazard model
    served = SimpleNamespace(hazard_=hazard, serving_="classifier")
    p = np.linspace(0.01, 0.95, 200)
    anchored, raw_90 = curve_columns(served, scored, 90, p)
    curve = np.column_stack([anchored[f"churn_probability_{d}d"] for d in (30, 60, 90, 180)])
    assert np.allclose(raw_90, at_90) and np.allclose(curve[:, 2], p)
    assert (np.diff(curve, axis=1) >= -1e-12).all() and (curve >= 0).all() and (curve <= 1).all()
    raw = np.column_stack([columns[f"churn_probability_{d}d"] for d in (30, 60, 90, 180)])
    assert np.allclose(curve[:, 0] / curve[:, 2], raw[:, 0] / raw[:, 2])  # the share of the horizon's risk by day 30
    assert np.allclose((1 - curve[:, 3]) / (1 - curve[:, 2]), (1 - raw[:, 3]) / (1 - raw[:, 2]))  # survival beyond
    window = pd.Series(anchored["expected_churn_window"])
    assert window.notna().sum() > 0 and (window.dropna() >= 30).all()
    hazard_served, _ = curve_columns(SimpleNamespace(hazard_=hazard, serving_="hazard"), scored, 90, p)
    assert np.allclose(hazard_served["churn_probability_90d"], at_90)  # the hazard model serves: its own curve
    nulls, none = curve_columns(SimpleNamespace(), scored, 90)  # a model trained before curves existed
    assert none is None and np.isnan(nulls["churn_probability_30d"]).all() and nulls["expected_churn_window"].isna().all()


def test_curves_computed_on_a_thread_land_on_their_own_rows_in_rank_order():
    hazard, scored = fitted_hazard()
    served = SimpleNamespace(hazard_=hazard, serving_="classifier")
    p = np.random.default_rng(5).permutation(np.linspace(0.01, 0.95, 200))  # ranks far from the rows' order
    timings: dict = {}
    pending = curves_started(served, scored, 90, p, timings)
    n = len(scored)
    explained = Explanations(np.array([f"r{i}" for i in range(n)], dtype=object), np.array(["s"] * n, dtype=object),
                             pd.DataFrame(index=range(n)), np.array([None] * n), np.array(["{}"] * n, dtype=object))
    record = SimpleNamespace(as_of=date(2025, 6, 1), model_name="churn", model_version="7", run_id="run-1",
                             started_at=datetime(2025, 6, 2, 3, 0))
    accounts = pd.DataFrame({"account_id": scored["account_id"], "account_name": "x", "csm": "y", "segment": "z"})
    args = (CFG, scored, accounts, p, explained, np.full(n, 50.0), record)
    threaded = assemble(*args, curves=pending)
    in_line = assemble(*args, curves=curve_columns(served, scored, 90, p)[0])
    pd.testing.assert_frame_equal(threaded, in_line, check_exact=True)
    assert threaded["risk_rank"].tolist() == list(range(1, n + 1)) and np.allclose(threaded["churn_probability_90d"],
                                                                                   threaded["churn_probability"])
    assert timings["curves"] > 0


def test_renewal_dates_only_where_the_term_is_known():
    frame = pd.DataFrame({"days_to_renewal": [10.0, 200.4, 30.0, np.nan], "billing_term_days": [30.4, 365.2, np.nan, 30.4]})
    assert renewal_dates(frame, date(2025, 1, 1)).tolist() == [date(2025, 1, 11), date(2025, 7, 20), None, None]
    assert renewal_dates(frame.drop(columns="billing_term_days"), date(2025, 1, 1)).tolist()[2] == date(2025, 1, 31)
    assert renewal_dates(frame.drop(columns="days_to_renewal"), date(2025, 1, 1)).tolist() == [None] * 4


def test_summary_says_which_model_served_the_probability():
    scores = pd.DataFrame({"risk_tier": ["high"], "revenue_at_risk": [10.0]})
    run = SimpleNamespace(rows=1, as_of=date(2024, 4, 1), model_name="churn", model_version="2", run_id="r9",
                          timings={}, warnings=[], churn_probability_model="hazard")
    lines = summary(SimpleNamespace(run=run, scores=scores, warehouse="wh.duckdb")).splitlines()
    assert lines[1] == "churn_probability served by the hazard model (its time-to-churn curve at the label horizon)"
    run.churn_probability_model = "classifier"
    assert summary(SimpleNamespace(run=run, scores=scores, warehouse="wh.duckdb")).splitlines()[1] == (
        "churn_probability served by the classifier")
