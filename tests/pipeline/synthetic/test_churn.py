"""Tests of ``pipeline/synthetic/churn.py``: the generator's churn hazard, one function at a time."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from pipeline.synthetic.churn import (churn_events, contributions, daily_hazard, decision_prob, dominant_driver,
                                      horizon_labels, horizon_prob, monthly_risk, onboarding_lag)
from pipeline.synthetic.params import DRIVERS, WorldParams

P = WorldParams()
DUE = np.array([[10, 40, 55, 100]])


@pytest.mark.parametrize("done, day, months", [
    ([17, 47, 62, 107], 500, 0.0),  # each done within the week of tolerance
    ([47, 40, 55, 100], 500, 1.0),  # one done 37 days after due: 30 days past the tolerance
    ([400, 40, 55, 100], 500, 2.0),  # capped at two months per milestone
    ([10**6, 40, 55, 100], 77, 2.0),  # not done (completion in the future): late as of the day, 67 - 7 days
    ([10**6] * 4, 9, 0.0),  # nothing due yet
])
def test_onboarding_lag_in_months_past_a_week_of_tolerance(done, day, months):
    assert onboarding_lag(DUE, np.array([done]), day) == pytest.approx([months])


def test_onboarding_lag_takes_one_day_per_account():
    due, done = np.repeat(DUE, 2, axis=0), np.full((2, 4), 10**6)
    per_account = onboarding_lag(due, done, np.array([47, 77]))
    assert per_account == pytest.approx([onboarding_lag(DUE, done[:1], 47)[0], onboarding_lag(DUE, done[:1], 77)[0]])


def test_dominant_driver_is_the_largest_above_the_floor_else_unpredictable():
    contrib = np.array([[0.0, 0.9, 0.1, 0, 0, 0], [0.05, 0.04, 0, 0, 0, 0], [0, 0, 0, 0.06, 0, 0.01]])
    assert [DRIVERS[i] for i in dominant_driver(contrib)] == ["onboarding_lag", "unpredictable", "detractor_nps"]
    assert dominant_driver(contrib, floor=0.5).tolist() == [1, 5, 5]


def test_decision_probability_rises_with_the_drivers_and_annual_terms_compound():
    contrib = np.outer(np.linspace(0, 4, 9), np.ones(len(DRIVERS)) / len(DRIVERS))
    monthly, annual = decision_prob(P, contrib, np.zeros(9)), decision_prob(P, contrib, np.ones(9))
    assert np.all(np.diff(monthly) > 0) and np.all(np.diff(annual) > 0)
    assert annual == pytest.approx(1 - (1 - monthly) ** P.annual_exponent)
    assert monthly[0] == pytest.approx(1 / (1 + np.exp(-P.b0)))
    assert decision_prob(P, contrib, np.zeros(9), shift=1.0)[0] == pytest.approx(monthly_risk(P, contrib[:1], 1.0)[0])


def test_anytime_risk_moves_from_renewals_to_days_and_compounds_like_them_over_a_year():
    p = WorldParams(anytime_share=1.0)
    contrib, term = np.full((2, len(DRIVERS)), 0.3), np.array([0, 1])
    assert decision_prob(p, contrib, term) == pytest.approx([0, 0])
    per_year = 1 - (1 - daily_hazard(p, contrib, term)) ** 365.25
    pm = monthly_risk(p, contrib)
    assert per_year == pytest.approx([1 - (1 - pm[0]) ** 12, 1 - (1 - pm[1]) ** p.annual_exponent])
    assert daily_hazard(P, contrib, term) == pytest.approx([0, 0])  # the demo world churns at renewals only


def test_horizon_probability_per_renewal_point_matches_the_uniform_form():
    p_decision, n = np.array([0.1, 0.3]), np.array([3, 1])
    lapse = p_decision * (1 - P.return_prob * P.return_fast_share)
    uniform = horizon_prob(P, p_decision, n, survive_days=0.9)
    assert uniform == pytest.approx(1 - (1 - lapse) ** n * 0.9)
    per_point = horizon_prob(P, np.repeat(p_decision[:, None], 4, axis=1), np.arange(4)[None, :] < n[:, None], 0.9)
    assert per_point == pytest.approx(uniform)
    assert horizon_prob(P, p_decision, np.zeros(2)) == pytest.approx([0, 0])


def test_churn_events_skip_running_rows_and_returns_within_grace():
    acc = np.array([1, 0, 0, 1, 2, 2])
    start = np.array([50, 0, 100, 0, 0, 140])
    end = np.array([-1, 90, 200, 40, 100, -1])  # account 1: 10-day gap; account 2: back after 40 days
    who, when = churn_events(acc, start, end, grace=30)
    assert list(zip(who.tolist(), when.tolist())) == [(0, 200), (2, 100)]


def test_horizon_labels_look_at_the_half_open_window_after_the_day():
    ev_acc, ev_day = np.array([0, 2]), np.array([100, 50])
    acc, day = np.array([0, 0, 0, 1, 2]), np.array([100, 99, 10, 10, 0])
    assert horizon_labels(ev_acc, ev_day, acc, day, horizon=90).tolist() == [False, True, True, False, True]


def test_contributions_are_non_negative_and_in_driver_order():
    acc = SimpleNamespace(mu=np.array([0.0, 0.0]), created_day=np.array([-400, 0]), due=np.repeat(DUE, 2, axis=0),
                          done=np.array([[17, 47, 62, 107], [10**6] * 4]), quality=np.zeros(2),
                          segment=np.array([0, 2]))
    lat = SimpleNamespace(ema=np.array([0.0, -1.0]), slow=np.array([0.0, 0.0]), sentiment=np.zeros(2),
                          unpredictable=np.array([-1.0, 0.5]))
    out = contributions(P, acc, lat, np.array([0, 5]), np.array([0, 1]), np.arange(2), 100)
    assert out.shape == (2, len(DRIVERS)) and (out >= 0).all()
    assert out[0, :4].tolist() == [0, 0, 0, 0] and out[1, 0] > 0 and out[1, 1] > 0
    assert out[1, 2] == P.beta_urgent * 3  # urgent tickets count up to three
    assert out[:, 4] == pytest.approx([P.segment_effect[0] + P.monthly_effect, P.segment_effect[2]])
    assert out[:, 5] == pytest.approx([0, 0.5 * P.sigma_unpredictable])
