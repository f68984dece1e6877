"""The fast exact TreeSHAP path equals LightGBM's own ``pred_contrib``."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from models.treeshap import _has_tiny, contributions, tree_contributions


class BoosterModel:
    """The slice of ChurnModel the fast path needs, over a plain LightGBM booster."""

    def __init__(self, booster, names, categorical):
        self.booster_, self.feature_names, self.categorical = booster, names, categorical

    def prepare(self, X):
        return X[self.feature_names]

    def contributions(self, X):
        values = self.booster_.predict(self.prepare(X), pred_contrib=True)
        return pd.DataFrame(values, columns=[*self.feature_names, "base_value"], index=X.index)


@pytest.fixture(scope="module")
def awkward_model():
    """Zeros read as missing, NaNs, integer-valued counts and a categorical: everything LightGBM special-cases."""
    rng = np.random.default_rng(3)
    n = 4000
    X = pd.DataFrame({
        "count": rng.poisson(2, n).astype(float),
        "ratio": np.where(rng.random(n) < 0.2, np.nan, rng.normal(0, 1, n)),
        "sparse": np.where(rng.random(n) < 0.5, 0.0, rng.exponential(1, n)),
        "plan": pd.Categorical(rng.choice(["a", "b", "c", "d"], n)),
    })
    logit = X["count"] * 0.4 - np.nan_to_num(X["ratio"]) + (X["sparse"] > 1) + (X["plan"] == "c") - 2
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    params = {"objective": "binary", "num_leaves": 15, "zero_as_missing": True, "verbose": -1,
              "min_data_per_group": 5, "cat_smooth": 1, "seed": 1}
    booster = lgb.train(params, lgb.Dataset(X, y, categorical_feature=["plan"]), 60)
    return BoosterModel(booster, list(X.columns), ["plan"]), X


def test_fast_contributions_equal_lightgbm_pred_contrib(awkward_model):
    model, X = awkward_model
    today = X.sample(3000, random_state=2, replace=True).reset_index(drop=True)
    today.loc[:5, "plan"] = None  # missing category
    fast = contributions(model, today)
    exact = model.contributions(today)
    assert list(fast.columns) == list(exact.columns)
    assert np.abs(fast.to_numpy() - exact.to_numpy()).max() < 1e-10
    raw = model.booster_.predict(today, raw_score=True)
    assert np.allclose(fast.sum(axis=1), raw, atol=1e-10)


def test_values_lightgbm_would_round_to_zero_take_the_exact_path(awkward_model):
    model, X = awkward_model
    today = X.head(50).copy()
    today.loc[0, "sparse"] = 1e-40
    matrix = today.assign(plan=today["plan"].cat.codes.astype(float)).to_numpy()
    assert np.abs(tree_contributions(model.booster_, matrix)
                  - model.booster_.predict(matrix, pred_contrib=True)).max() < 1e-12


@pytest.mark.parametrize("value", [1e-40, -1e-36])
def test_a_value_lightgbm_reads_as_zero_is_found_in_any_column(value):
    matrix = np.asfortranarray(np.random.default_rng(0).normal(size=(30, 20)))
    matrix[::3] = 0.0
    assert not _has_tiny(matrix)
    for column in (0, 7, 8, 19):  # first, last of a block, first of the next, last column
        found = matrix.copy(order="F")
        found[4, column] = value
        assert _has_tiny(found)


def test_the_sum_is_the_same_whatever_the_threads_and_tree_chunks(awkward_model, monkeypatch):
    model, X = awkward_model
    matrix = X.assign(plan=X["plan"].cat.codes.astype(float)).to_numpy()
    monkeypatch.setattr("models.treeshap.os.cpu_count", lambda: 1)
    one = tree_contributions(model.booster_, matrix)
    for cores in (2, 3, 16):
        monkeypatch.setattr("models.treeshap.os.cpu_count", lambda: cores)
        np.testing.assert_array_equal(tree_contributions(model.booster_, matrix), one)
    for chunk in (1, 7, 1000):  # trees worked out a few at a time: the same sum
        monkeypatch.setattr("models.treeshap.TREE_CHUNK", chunk)
        np.testing.assert_array_equal(tree_contributions(model.booster_, matrix), one)
    for rows in (13, 999, 10**6):  # trees added to a block of rows at a time: the same sum
        monkeypatch.setattr("models.treeshap.ADD_ROWS", rows)
        np.testing.assert_array_equal(tree_contributions(model.booster_, matrix), one)
