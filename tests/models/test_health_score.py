"""The hand-tuned health score: grading, weights, renormalisation and config errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.base import REGISTRY
from models.health_score import HealthScore
from models.errors import ConfigError

NAN = float("nan")


@pytest.fixture(scope="module")
def hs():
    return HealthScore.from_config()


def healthy_row(**changes):
    row = {"active_users_trend": 0.0, "days_since_last_activity": 1, "open_urgent_tickets": 0,
           "overdue_open_milestones": 0, "nps_last": 10}
    return pd.DataFrame([{**row, **changes}])


def test_default_config_inputs_are_real_features(hs):
    names = {d.name for d in REGISTRY}
    assert set(hs.inputs) <= names
    assert sum(hs.weights(hs.inputs).values()) == pytest.approx(1.0)


@pytest.mark.parametrize("value, grade", [(10, 100), (9, 100), (8, 50), (7, 50), (6, 0), (0, 0), (NAN, 50)])
def test_nps_grades_promoter_passive_detractor_and_missing_is_neutral(hs, value, grade):
    assert hs.grade("nps_last", pd.Series([value])).iloc[0] == grade


@pytest.mark.parametrize("value, grade", [(0, 100), (1, 50), (2, 0), (5, 0)])
def test_lower_is_better_thresholds_are_inclusive(hs, value, grade):
    assert hs.grade("open_urgent_tickets", pd.Series([value])).iloc[0] == grade


def test_score_is_weighted_and_risk_is_its_complement(hs):
    assert hs.score(healthy_row()).iloc[0] == 100
    # usage weighs 40 %, split between its two inputs: a poor usage trend costs 20 points
    assert hs.score(healthy_row(active_users_trend=-0.5)).iloc[0] == pytest.approx(80)
    # NPS weighs 20 %: a detractor costs 20, a missing answer (neutral) 10
    assert hs.score(healthy_row(nps_last=3)).iloc[0] == pytest.approx(80)
    assert hs.score(healthy_row(nps_last=NAN)).iloc[0] == pytest.approx(90)
    frame = healthy_row(open_urgent_tickets=4, days_since_last_activity=60)
    assert hs.risk(frame).iloc[0] == pytest.approx(100 - hs.score(frame).iloc[0])


def test_absent_inputs_drop_out_and_weights_renormalise(hs):
    usage_only = healthy_row().drop(columns=["open_urgent_tickets", "overdue_open_milestones", "nps_last"])
    assert hs.weights(usage_only.columns) == pytest.approx(
        {"active_users_trend": 0.5, "days_since_last_activity": 0.5})
    assert hs.score(usage_only).iloc[0] == 100
    assert hs.score(usage_only.assign(days_since_last_activity=30)).iloc[0] == pytest.approx(50)


def test_no_input_at_all_is_a_clear_error(hs):
    with pytest.raises(ConfigError, match="at least one of its inputs"):
        hs.score(pd.DataFrame({"mrr": [1.0]}))


@pytest.mark.parametrize("text, message", [
    ("categories: {usage: {weight: 1, inputs: {x: {better: higher, healthy: 1, poor: 2}}}}", "healthy"),
    ("categories: {usage: {weight: 1, inputs: {x: {better: up, healthy: 1, poor: 2}}}}", "better"),
    ("categories: {usage: {weight: 0, inputs: {}}}", "weight"),
    ("categories: {}\nextra: 1", "extra"),
])
def test_bad_config_names_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "hs.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        HealthScore.from_config(path)
    assert "hs.yaml" in str(err.value)


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        HealthScore.from_config(tmp_path / "nope.yaml")


values = st.one_of(st.none(), st.floats(-1, 400, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(row=st.fixed_dictionaries({k: values for k in
                                  ["active_users_trend", "days_since_last_activity", "open_urgent_tickets",
                                   "overdue_open_milestones", "nps_last"]}),
       name=st.sampled_from(["days_since_last_activity", "open_urgent_tickets", "nps_last"]),
       step=st.floats(0.5, 50))
def test_score_is_bounded_and_improving_an_input_never_lowers_it(row, name, step):
    hs = HealthScore.from_config()
    frame = pd.DataFrame([row]).astype("float64")
    better = frame.copy()
    direction = 1 if name == "nps_last" else -1
    better[name] = frame[name].fillna(5) + direction * step
    base = hs.score(frame.assign(**{name: frame[name].fillna(5)})).iloc[0]
    assert 0 <= hs.score(frame).iloc[0] <= 100
    assert hs.score(better).iloc[0] >= base - 1e-9
    assert np.isfinite(hs.risk(frame).iloc[0])
