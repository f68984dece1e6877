"""The ``rr`` learner: churn risk times a relative effect that depends on why the account is at risk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import uplift_relative as relative
from models.uplift import PARAMS, UpliftModel, oracle_qini
from models.uplift_baseline import BASE_RISK


def _world(n: int, seed: int) -> pd.DataFrame:
    """Churn from two drivers: a call removes 80 % of the churn ``lag`` drives, none of what ``budget`` drives."""
    rng = np.random.default_rng(seed)
    lag, budget, noise = rng.exponential(size=n), rng.exponential(size=n), rng.normal(size=n)
    part_lag, part_budget = 1.2 * lag, 1.2 * budget
    p0 = 1 / (1 + np.exp(-(-3.5 + part_lag + part_budget)))
    save = 0.8 * part_lag / (part_lag + part_budget)  # relative reduction: the driver-weighted effect
    treated = rng.random(n) < 0.6
    churned = rng.random(n) < p0 * (1 - treated * save)
    return pd.DataFrame({"lag": lag, "budget": budget, "noise": noise, "treated": treated.astype(int),
                         "churned": churned.astype(int), "true_uplift": p0 * save})


def test_rr_recovers_which_reason_a_call_can_remove():
    train, test = _world(6000, 0), _world(3000, 1)
    groups = {"lag": "onboarding", "budget": "budget", "noise": "budget"}
    model = UpliftModel("rr", seed=0, groups=groups).fit(train, ["lag", "budget", "noise"])
    effects = relative.group_effects(model.models_)
    assert effects["onboarding"] > 0.4 and effects["budget"] < 0.3
    score = model.predict(test)
    risk = UpliftModel("risk", seed=0).fit(train, ["lag", "budget", "noise"]).predict(test)
    # ranking by the effect beats ranking by churn risk alone, which calls the unsavable budget cases too
    assert oracle_qini(score, test["true_uplift"]) > oracle_qini(risk, test["true_uplift"]) + 0.05


def test_rr_without_a_difference_between_reasons_stays_near_the_pooled_effect():
    frame = _world(4000, 2)
    frame["churned"] = (np.random.default_rng(3).random(len(frame))
                        < 0.25 * (1 - 0.3 * frame["treated"])).astype(int)
    model = UpliftModel("rr", seed=0).fit(frame, ["lag", "budget", "noise"])
    rr = relative.relative_risk(model.models_, frame[["lag", "budget", "noise"]])
    assert np.median(rr) == pytest.approx(0.7, abs=0.1) and np.std(rr) < 0.1


def test_poisson_fit_finds_a_known_rate_ratio():
    rng = np.random.default_rng(0)
    t = (rng.random(20000) < 0.5).astype(float)
    y = (rng.random(t.size) < 0.2 * np.where(t == 1, 0.5, 1.0)).astype(float)
    design = np.column_stack([np.ones_like(t), t])
    beta = relative.poisson_fit(design, y, np.log(np.full(t.size, 0.2)), np.zeros(2))
    assert np.exp(beta[1]) == pytest.approx(0.5, abs=0.05) and abs(beta[0]) < 0.05


def test_uses_only_the_rows_it_is_given():
    # the learner sees only the frame passed to it: outcomes of other rows (open windows) cannot enter
    frame = _world(3000, 4)
    a = UpliftModel("rr", seed=0).fit(frame.iloc[:2000], ["lag", "budget", "noise"]).predict(frame.iloc[2000:])
    changed = frame.copy()
    changed.loc[2000:, "churned"] = 1 - changed.loc[2000:, "churned"]
    b = UpliftModel("rr", seed=0).fit(changed.iloc[:2000], ["lag", "budget", "noise"]).predict(frame.iloc[2000:])
    assert np.array_equal(a, b)
    assert PARAMS["n_jobs"] == 1


def test_rr_takes_the_pipeline_churn_probability_as_its_baseline_risk():
    """With ``base_risk`` (the churn model of every account), rr's risk is that, not the experiment's own model."""
    train, test = _world(3000, 4), _world(1000, 5)
    p_true = lambda f: 1 / (1 + np.exp(-(-3.5 + 1.2 * f["lag"] + 1.2 * f["budget"])))  # noqa: E731
    train[BASE_RISK], test[BASE_RISK] = p_true(train), p_true(test)
    features = ["lag", "budget", "noise", BASE_RISK]
    model = UpliftModel("rr", seed=0, groups={"lag": "onboarding", "budget": "budget"}).fit(train, features)
    assert BASE_RISK not in model.models_["risk"].feature_name_  # the shares come from the other features
    base = model.predict(test)
    doubled = model.predict(test.assign(**{BASE_RISK: test[BASE_RISK] / 2}))
    unclipped = test[BASE_RISK].to_numpy() < 0.3  # p0 is capped at 1
    assert unclipped.mean() > 0.5
    assert np.allclose(doubled[unclipped], base[unclipped] / 2, rtol=1e-6, atol=1e-9)
    # a missing baseline falls back to the experiment's own churn model
    missing = model.predict(test.assign(**{BASE_RISK: np.nan}))
    assert np.isfinite(missing).all() and not np.allclose(missing, base)
    assert oracle_qini(base, test["true_uplift"]) > 0.5
