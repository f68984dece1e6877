"""Tests of ``pipeline/synthetic/simulate.py``: a short day-by-day simulation of a few accounts."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.synthetic.accounts import NEVER, make_accounts
from pipeline.synthetic.churn import churn_events, horizon_labels
from pipeline.synthetic.dates import Calendar, business_seconds
from pipeline.synthetic.params import DRIVERS, HOUR_WEIGHTS, REGION_UTC_OFFSET, WorldParams
from pipeline.synthetic.simulate import GRACE, Simulation, lookahead

CAL = Calendar("2024-01-01")  # a Monday
DAYS = 120


def simulation(seed=4, n=150, **changes) -> Simulation:
    rng = np.random.default_rng(seed)
    p = WorldParams(**changes)

    def bsec(region):
        return business_seconds(rng, region, REGION_UTC_OFFSET, HOUR_WEIGHTS)

    return Simulation(p, make_accounts(rng, n, DAYS, p, bsec), CAL, DAYS, rng, bsec)


@pytest.fixture(scope="module")
def run():
    sim = simulation(b0=-3.0)  # a churny world, so that a few months show churn
    return sim, sim.run()


def test_lookahead_covers_the_horizon_and_the_grace_period():
    assert lookahead(WorldParams()) == 90 + GRACE and lookahead(WorldParams(truth_horizon_days=14)) == 14 + GRACE


def test_snapshot_days_are_month_starts_or_mondays():
    assert sorted(simulation().snapshot_days()) == [0, 31, 60, 91]
    assert sorted(simulation(truth_frequency="weekly").snapshot_days()) == list(range(0, DAYS, 7))


def test_existing_customers_start_covered_with_renewals_ahead():
    sim = simulation()
    pre = sim.acc.created_day < 0
    assert sim.led.active[pre].all() and not sim.led.active[~pre].any()
    assert (sim.led.next_renew[pre] >= 0).all()
    assert (sim.unhealth(np.arange(sim.acc.n)) >= 0).all() and sim.churn_shift(np.arange(3)) == 0.0


def test_the_run_records_the_period_and_a_truth_consistent_with_the_churn_it_simulated(run):
    sim, out = run
    assert out["H"].shape == out["active"].shape == (DAYS, sim.acc.n)
    truth = out["truth"]
    assert set(np.unique(truth["day"])) == sim.snapshot_days()
    assert truth["push"].shape == (truth["acc"].size, len(DRIVERS)) and (truth["push"] >= 0).all()
    assert ((truth["prob"] >= 0) & (truth["prob"] < 1)).all()  # 0: no renewal within the horizon
    covered = out["active"][truth["day"], truth["acc"]]
    assert covered.all()  # the truth is recorded for covered accounts only
    ev_acc, ev_day = out["churn"]
    rows = out["rows"]
    expected_acc, expected_day = churn_events(rows["acc"], rows["start"], rows["end"], GRACE)
    assert ev_acc.tolist() == expected_acc.tolist() and ev_day.tolist() == expected_day.tolist()
    assert ev_acc.size >= 5
    assert (truth["churned"] == horizon_labels(ev_acc, ev_day, truth["acc"], truth["day"], 90)).all()


def test_milestones_pending_at_churn_are_never_completed(run):
    sim, out = run
    for account, day in zip(*out["churn"]):
        done = sim.acc.done[account].astype(np.int64)
        assert ((done <= day) | (done == NEVER)).all()
