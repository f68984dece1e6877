"""The classifier on synthetic data with a known structure: columns, missing values, SHAP, calibration."""

from __future__ import annotations

from datetime import date

import joblib
import numpy as np
import pandas as pd
import pytest

from sklearn.base import clone

from models import calibration
from models.classifier import ChurnModel
from models.drift import distribution, psi
from models.evaluation import ece
from models.errors import ModelError
from models.treeshap import lightgbm_matrix


def make_data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Churn driven by usage, a plan level, and NPS where *no answer* is riskier than a 5."""
    rng = np.random.default_rng(seed)
    nps = np.where(rng.random(n) < 0.4, np.nan, rng.integers(0, 11, n).astype(float))
    X = pd.DataFrame({
        "account_id": [f"A{i}" for i in range(n)],
        "usage": rng.normal(size=n),
        "noise": rng.normal(size=n),
        "plan": pd.array(rng.choice(["basic", "pro", "team", None], size=n), dtype="string"),
        "nps_last": nps,
    })
    logit = (-2.5 - 1.2 * X["usage"] + 1.0 * (X["plan"] == "basic").fillna(False).to_numpy()
             + np.where(np.isnan(nps), 1.5, -0.25 * (np.nan_to_num(nps) - 5)))
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


@pytest.fixture(scope="module")
def data():
    X, y = make_data(9000, seed=1)
    return X.iloc[:6000], y[:6000], X.iloc[6000:], y[6000:]


@pytest.fixture(scope="module")
def model(data):
    X, y, Xv, yv = data
    return ChurnModel(seed=3).fit(X, y, X_valid=Xv, y_valid=yv, X_calib=Xv, y_calib=yv)


def test_fit_learns_columns_categories_and_metadata(model):
    assert model.feature_names_ == ["usage", "noise", "plan", "nps_last"]  # account_id is not a feature
    assert model.categorical_ == ["plan"]
    assert model.categories_ == {"plan": ["basic", "pro", "team"]}
    assert model.config_version_ is None and model.vocabulary_ == {} and model.train_until_ is None
    assert 0 < model.best_iteration_ <= 200 and model.booster_.num_trees() == model.best_iteration_


def test_metadata_goes_in_through_fit_and_init_holds_only_parameters(data):
    X, y, Xv, yv = data
    fresh = ChurnModel(params={"num_boost_round": 20}, seed=3, calibration="none")
    assert fresh.get_params() == {"params": {"num_boost_round": 20}, "seed": 3, "calibration": "none"}
    assert not [k for k in vars(fresh) if k.endswith("_")]  # no learned state before fit
    fitted = fresh.fit(X, y, vocabulary={"event_types": ["login"]}, config_version=7, train_until=date(2025, 1, 1))
    assert (fitted.vocabulary_, fitted.config_version_, fitted.train_until_) == (
        {"event_types": ["login"]}, 7, date(2025, 1, 1))


def test_predict_proba_has_one_column_per_class(model, data):
    X_test, _ = make_data(500, seed=4)
    proba = model.predict_proba(X_test)
    assert proba.shape == (500, 2) and list(model.classes_) == [0, 1]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(proba[:, 1], model.predict_risk(X_test))
    np.testing.assert_array_equal(model.predict(X_test), (proba[:, 1] >= 0.5).astype(int))


def test_clone_gives_an_unfitted_copy_that_refits_to_the_same_model(model, data):
    X, y, Xv, yv = data
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "booster_")
    copy.fit(X, y, X_valid=Xv, y_valid=yv, X_calib=Xv, y_calib=yv)
    np.testing.assert_array_equal(copy.predict_proba(Xv), model.predict_proba(Xv))


def test_probabilities_are_1d_calibrated_and_match_base_rate(model, data):
    _, _, Xv, yv = data
    X_test, y_test = make_data(6000, seed=2)
    p = model.predict_risk(X_test)
    assert p.shape == (6000,) and ((p >= 0) & (p <= 1)).all()
    assert abs(p.mean() - y_test.mean()) < 0.02  # no reweighting: probabilities stay on the data's scale
    assert ece(y_test, p) < 0.03


def test_contributions_are_exact_treeshap(model):
    X, _ = make_data(500, seed=4)
    contrib = model.contributions(X)
    assert list(contrib.columns) == [*model.feature_names_, "base_value"]
    np.testing.assert_allclose(contrib.sum(axis=1), model.raw_score(X), atol=1e-9)
    importance = model.importance(X)
    assert importance.index[0] in {"usage", "nps_last"} and importance["noise"] < importance["usage"]


def test_missing_nps_is_not_nps_zero(model):
    X, _ = make_data(2000, seed=5)
    never, zero, five = (model.predict_risk(X.assign(nps_last=v)).mean() for v in (np.nan, 0.0, 5.0))
    assert never > five and zero > five and abs(never - zero) > 0.01


def test_raw_score_is_lightgbms_own_prediction_of_the_prepared_frame(model):
    """The booster reads a matrix built beside LightGBM, not the frame: the same numbers, with missing values,
    every level, an unseen level and a tree limit."""
    X, _ = make_data(500, seed=9)
    X.loc[X.index[:40], "plan"] = "enterprise"
    X.loc[X.index[40:80], "usage"] = np.nan
    for trees in (None, 3):
        own = model.booster_.predict(model.prepare(X), raw_score=True, num_iteration=trees)
        np.testing.assert_array_equal(model.raw_score(X, trees=trees), own)


def test_predictions_take_the_matrix_in_place_of_the_frame(model):
    """``matrix`` is what the booster reads, typed straight from the rows as from the prepared frame: predicting
    from it gives the frame's numbers; another width is refused."""
    X, _ = make_data(300, seed=5)
    X.loc[X.index[:20], "plan"] = None
    X.loc[X.index[20:40], "plan"] = "enterprise"  # unseen: missing
    odd = X.assign(usage=X["usage"].astype(object).where(X.index % 7 != 0, "n/a"),  # text: missing
                   nps_last=X["nps_last"].round().astype("Int64"), plan=X["plan"].astype(object))
    for rows in (X, odd):
        np.testing.assert_array_equal(model.matrix(rows), lightgbm_matrix(model.prepare(rows), model.booster_))
        np.testing.assert_array_equal(model.matrix(model.prepare(rows)), model.matrix(rows))
    matrix = model.matrix(X)
    assert matrix.shape == (len(X), len(model.feature_names_))
    np.testing.assert_array_equal(model.raw_score(matrix), model.raw_score(X))
    np.testing.assert_array_equal(model.predict_proba(matrix), model.predict_proba(X))
    with pytest.raises(ModelError, match="feature columns"):
        model.raw_score(matrix[:, 1:])


def test_prepare_orders_columns_and_maps_unseen_levels_to_missing(model):
    X, _ = make_data(200, seed=6)
    shuffled = X[["nps_last", "plan", "account_id", "noise", "usage"]].assign(extra=1.0)
    np.testing.assert_array_equal(model.predict_proba(shuffled), model.predict_proba(X))
    unseen = model.predict_proba(X.assign(plan="enterprise"))
    np.testing.assert_array_equal(unseen, model.predict_proba(X.assign(plan=pd.NA)))
    assert str(model.prepare(X)["plan"].dtype) == "category"


def test_prepare_types_every_numeric_dtype_as_float_with_categories_in_place(model):
    X, _ = make_data(50, seed=8)
    X = X.assign(usage=pd.array([1, None] * 25, dtype="Int64"), noise=["1.5", "x"] * 25,
                 nps_last=pd.array([True, None] * 25, dtype="boolean"))
    prepared = model.prepare(X)
    assert list(prepared.columns) == model.feature_names_
    for c in model.feature_names_:
        if c in model.categorical_:
            assert isinstance(prepared[c].dtype, pd.CategoricalDtype)
            expected = pd.Categorical(X[c].astype(object).where(X[c].notna(), None), categories=model.categories_[c])
            pd.testing.assert_series_equal(prepared[c], pd.Series(expected, index=X.index, name=c))
        else:
            expected = pd.to_numeric(X[c], errors="coerce").astype("float64")
            pd.testing.assert_series_equal(prepared[c], expected, check_exact=True)
    assert model._prepared(prepared)


def test_prepare_names_missing_and_extra_columns(model):
    X, _ = make_data(10, seed=7)
    with pytest.raises(ModelError, match="usage") as err:
        model.prepare(X.drop(columns=["usage"]).assign(usage_7d=1.0))
    assert "usage_7d" in str(err.value)


def test_same_seed_same_model_and_joblib_round_trip(data, model, tmp_path):
    X, y, Xv, yv = data
    again = ChurnModel(seed=3).fit(X, y, X_valid=Xv, y_valid=yv, X_calib=Xv, y_calib=yv)
    X_test, _ = make_data(300, seed=8)
    np.testing.assert_array_equal(again.predict_proba(X_test), model.predict_proba(X_test))
    joblib.dump(model, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))
    np.testing.assert_array_equal(loaded.contributions(X_test), model.contributions(X_test))


def test_drift_reference_shares_and_psi(model, data):
    X = data[0]
    numeric, cat = model.reference_["usage"], model.reference_["plan"]
    assert len(numeric["shares"]) == len(numeric["edges"]) + 1 == 10
    assert sum(numeric["shares"]) + numeric["missing"] == pytest.approx(1)
    assert model.reference_["nps_last"]["missing"] == pytest.approx(X["nps_last"].isna().mean())
    assert sum(cat["levels"].values()) + cat["missing"] == pytest.approx(1)
    assert psi(numeric, X["usage"]) == pytest.approx(0, abs=1e-9)
    assert psi(numeric, X["usage"] + 1) > 0.25
    assert distribution(X["plan"].replace("pro", "new"), cat)["levels"]["__other__"] > 0.2


def test_calibration_fixes_overconfident_scores():
    rng = np.random.default_rng(0)
    true_logit = rng.normal(-2.5, 1.2, 20000)
    y = (rng.random(20000) < 1 / (1 + np.exp(-true_logit))).astype(int)
    raw = 3 * true_logit + 2  # overconfident and shifted
    fit, test = slice(0, 10000), slice(10000, None)
    chosen = calibration.choose(raw[fit], y[fit], "auto", seed=0)
    assert chosen.method in ("sigmoid", "isotonic") and chosen.scores["none"] > chosen.scores[chosen.method]
    assert ece(y[test], chosen.predict(raw[test])) < 0.015 < ece(y[test], calibration.sigmoid(raw[test]))
    honest = calibration.choose(true_logit[fit], y[fit], "auto", seed=0)
    assert honest.scores[honest.method] <= honest.scores["none"]
    assert calibration.choose(raw[:50], y[:50], "auto").method == "none"  # too little to calibrate on
