"""The generator's CS team: who it calls, what a call does, and `churn impact`'s estimator over many seeds.

The repeated-seed test generates small worlds whose CS team calls every listed outreach account on
the day it is listed (so the true effect on the arm is exactly the configured one), finds each listed
account's outcome with the pipeline's own labels (:func:`pipeline.steps.impact.outcomes`) and compares
the arms with :func:`models.experiments.compare`, as ``churn impact`` does.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from models.experiments import HOLDOUT, OUTREACH, arms, compare
from pipeline.config import load_config
from pipeline.engine.labels import data_end
from pipeline.io.sources import open_source
from pipeline.steps.impact import outcomes
from pipeline.synthetic import generate_world

SEEDS = range(20)
#: A CS team that reaches every listed outreach account at once, and never a holdout one.
EXACT = {"outreach_experiment": "exp", "outreach_start_day": 120, "outreach_threshold": 0.10,
         "outreach_holdout_share": 0.5, "outreach_contact_share": 1.0, "outreach_holdout_leak": 0.0,
         "outreach_delay_days": (0, 0)}
SMALL = {"accounts": 500, "days": 420, "events": 30_000}


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_holdout_is_never_called_and_every_call_is_in_cs_activities(tmp_path):
    generate_world(tmp_path, seed=1, preset="outreach", params={"outreach_start_day": 100}, **SMALL)
    truth = pd.read_parquet(tmp_path / "_truth" / "outreach.parquet")
    assert (truth["arm"] == np.where(arms("retention-2025", truth["account_id"], 0.2) == HOLDOUT, HOLDOUT,
                                     OUTREACH)).all()
    assert truth["account_id"].is_unique and (truth["true_effect"] == -0.3).all()
    called = truth[truth["contacted"]]
    assert called["arm"].eq(OUTREACH).mean() > 0.9  # the 2 % leak of the preset may call a holdout account
    assert not truth.loc[~truth["contacted"], "saved"].any()
    activities = pd.read_csv(tmp_path / "cs_activities.csv")
    assert set(activities["account_id"]) <= set(called["account_id"]) and (activities["activity_type"] == "call").all()
    first = (pd.to_datetime(called["listed_on"]) >= pd.Timestamp("2023-01-01") + pd.Timedelta(days=100)).all()
    assert first and (pd.to_datetime(called["contacted_on"]) >= pd.to_datetime(called["listed_on"])).all()


def test_a_team_without_effect_leaves_the_world_as_it_was(tmp_path):
    generate_world(tmp_path / "none", seed=2, **SMALL)
    generate_world(tmp_path / "zero", seed=2, params={**EXACT, "outreach_effect": 0.0}, **SMALL)
    for table in ("subscriptions.csv", "support_tickets.csv", "usage_events/part-00000.parquet"):
        assert _digest(tmp_path / "none" / table) == _digest(tmp_path / "zero" / table)
    assert not (tmp_path / "none" / "cs_activities.csv").exists()
    assert (tmp_path / "zero" / "cs_activities.csv").exists()


def _estimate(folder, cfg):
    truth = pd.read_parquet(folder / "_truth" / "outreach.parquet")
    assigned = pd.DataFrame({"account_id": truth["account_id"], "arm": truth["arm"], "mrr": 0.0,
                             "assigned_date": pd.to_datetime(truth["listed_on"]).dt.date})
    with open_source(folder) as source:
        found = outcomes(source, assigned, cfg, data_end(source))
    closed = found[found["observed"]]
    return compare(closed[closed["arm"] == OUTREACH], closed[closed["arm"] == HOLDOUT])


@pytest.fixture(scope="module")
def estimates(tmp_path_factory):
    """(true effect, seed) -> the comparison of the arms on that world."""
    base, cfg = tmp_path_factory.mktemp("seeds"), load_config(None)
    out = {}
    for effect in (-0.3, 0.0):
        for seed in SEEDS:
            folder = base / f"{effect}-{seed}"
            generate_world(folder, seed=seed, params={**EXACT, "outreach_effect": effect}, **SMALL)
            out[effect, seed] = _estimate(folder, cfg)
    return out


def test_the_interval_covers_a_true_30_percent_reduction_in_at_least_18_of_20_seeds(estimates):
    results = [estimates[-0.3, s] for s in SEEDS]
    assert min(r.n_holdout for r in results) >= 40 and min(r.churned_holdout for r in results) >= 5
    covered = sum(r.reduction_ci[0] <= 0.3 <= r.reduction_ci[1] for r in results)
    assert covered >= 18, [r.reduction_ci for r in results]
    assert np.mean([r.reduction for r in results]) == pytest.approx(0.3, abs=0.1)


def test_with_no_true_effect_about_95_percent_of_seeds_find_no_significant_effect(estimates):
    results = [estimates[0.0, s] for s in SEEDS]
    quiet = sum(not r.significant for r in results)
    assert quiet >= 18, [r.p_value for r in results]
    assert all(r.verdict.startswith("not enough evidence yet") for r in results if not r.significant)


def test_a_varied_world_records_each_listed_accounts_true_uplift(tmp_path):
    generate_world(tmp_path, seed=3, preset="outreach-varied", params={"outreach_start_day": 100}, **SMALL)
    truth = pd.read_parquet(tmp_path / "_truth" / "outreach.parquet")
    assert truth["account_id"].is_unique and len(truth) > 20
    good, bad = truth[~truth["backfire"]], truth[truth["backfire"]]
    # p without a call minus p with one: the save share times p for most, a loss for those who react badly
    assert np.allclose(good["true_uplift"], good["p_no_call"] * -good["true_effect"])
    assert (good["true_uplift"] >= 0).all() and good["true_effect"].nunique() > 5
    assert (bad["true_uplift"] < 0).all() and not bad["saved"].any()
    assert truth["true_effect"].between(-0.8, 0.0).all()
    # the driver-weighted effect is drawn before the bad-reaction coin: equal for the savable, kept for the others
    assert np.allclose(good["true_effect"], good["driver_effect"]) and bad["driver_effect"].between(-0.8, 0.0).all()


def test_the_homogeneous_world_has_one_relative_effect(tmp_path):
    generate_world(tmp_path, seed=3, preset="outreach", params={"outreach_start_day": 100}, **SMALL)
    truth = pd.read_parquet(tmp_path / "_truth" / "outreach.parquet")
    assert (truth["true_effect"] == -0.3).all() and not truth["backfire"].any()
    assert np.allclose(truth["true_uplift"], 0.3 * truth["p_no_call"])


def test_driver_effects_are_checked():
    from pipeline.synthetic.params import WorldParams

    with pytest.raises(ValueError, match="outreach_driver_effect"):
        WorldParams(outreach_driver_effect=(-0.5, 0.0))
