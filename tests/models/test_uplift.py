"""The uplift learners and the Qini measures."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from models.uplift import (LEARNERS, TooFewAccounts, UpliftModel, inner_qini, one_se_choice, oracle_qini,
                           qini_coefficient, qini_curve, select, split_out_of_time)


def _experiment(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Accounts where ``a`` decides who a call keeps: churn 0.4 without a call, 0.4 - 0.3 * (a > 0) with one."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    treated = rng.random(n) < 0.5
    uplift = 0.3 * (a > 0)
    churned = rng.random(n) < 0.4 - treated * uplift
    start = date(2025, 1, 1)
    return pd.DataFrame({"a": a, "b": b, "segment": rng.choice(["SMB", "Enterprise"], n),
                         "treated": treated.astype(int), "churned": churned.astype(int), "true_uplift": uplift,
                         "assigned_date": [start + timedelta(days=30 * int(k)) for k in rng.integers(0, 12, n)]})


def test_qini_curve_counts_accounts_kept_by_hand():
    # ranked: treated retained, control churned, treated churned, control retained
    share, gain = qini_curve([4, 3, 2, 1], [1, 0, 1, 0], [0, 1, 1, 0])
    # gains R_t - R_c * N_t / N_c after each: 1, 1 - 0, 1 - 0 * 2, 1 - 1 * 2 / 2 = 0; per account (/4)
    assert np.allclose(share, [0, 0.25, 0.5, 0.75, 1.0])
    assert np.allclose(gain, [0, 0.25, 0.25, 0.25, 0.0])


def test_tied_scores_enter_together():
    share, _ = qini_curve([1, 1, 1, 0], [1, 0, 1, 0], [0, 1, 1, 0])
    assert np.allclose(share, [0, 0.75, 1.0])


def test_the_true_uplift_ranks_best_and_a_random_one_near_zero():
    frame = _experiment(20000)
    true = qini_coefficient(frame["true_uplift"], frame["treated"], frame["churned"])
    noise = qini_coefficient(np.random.default_rng(1).random(len(frame)), frame["treated"], frame["churned"])
    # the curve climbs to 0.25 * 0.3 at half the accounts and stays: area over the line = 0.075 / 4
    assert true == pytest.approx(0.075 / 4, abs=0.003) and abs(noise) < 0.004
    assert oracle_qini(frame["true_uplift"], frame["true_uplift"]) == pytest.approx(1.0)
    assert oracle_qini(-frame["true_uplift"], frame["true_uplift"]) < 0
    assert np.isnan(oracle_qini(frame["a"], np.full(len(frame), 0.1)))  # nothing to rank


@pytest.mark.parametrize("learner", [name for name in LEARNERS if name != "risk"])
def test_each_learner_finds_who_a_call_keeps(learner):
    frame = _experiment()
    test = _experiment(2000, seed=5)
    model = UpliftModel(learner, seed=0).fit(frame, ["a", "b", "segment"], ["segment"])
    assert oracle_qini(model.predict(test), test["true_uplift"]) > 0.6


def test_the_choice_is_out_of_time_and_says_why():
    frame = _experiment()
    chosen = select(frame, ["a", "b"], [], window_days=60)
    _, train, test = split_out_of_time(frame, 60)
    dates = pd.to_datetime(frame["assigned_date"])
    # no training outcome was still open when the first test cohort was assigned
    assert (dates[train] + pd.Timedelta(days=60) < pd.Timestamp(chosen.test_from)).all()
    assert (dates[test] >= pd.Timestamp(chosen.test_from)).all() and not (train & test).any()
    assert chosen.chosen in ("t", "x", "dr", "rr") and chosen.validated and "validated" in chosen.reason


def test_too_few_accounts_is_said_not_guessed():
    frame = _experiment(150)
    with pytest.raises(TooFewAccounts, match="too few accounts"):
        select(frame, ["a", "b"], [], window_days=60)
    with pytest.raises(TooFewAccounts, match="no assigned account"):
        select(frame.iloc[:0], ["a", "b"], [], window_days=60)
    with pytest.raises(TooFewAccounts, match="both arms"):
        UpliftModel("t").fit(frame.assign(treated=1), ["a"])


def test_the_choice_never_looks_at_the_test_cohorts():
    frame = _experiment(3000, seed=2)
    first = select(frame, ["a", "b"], [], window_days=60, learners=("t", "rr"))
    _, _, test = split_out_of_time(frame, 60)
    scrambled = frame.copy()
    scrambled.loc[test, "churned"] = np.random.default_rng(9).permutation(scrambled.loc[test, "churned"].to_numpy())
    again = select(scrambled, ["a", "b"], [], window_days=60, learners=("t", "rr"))
    assert again.inner == first.inner and again.chosen == first.chosen  # only the test figures move
    assert again.qini != first.qini


def test_one_standard_error_rule_prefers_structure_unless_beaten_clearly():
    order = ["rr", "t", "dr"]
    assert one_se_choice({"rr": (0.010, 0.004), "t": (0.012, 0.004), "dr": (0.005, 0.004)}, order) == "rr"
    assert one_se_choice({"rr": (0.002, 0.004), "t": (0.012, 0.004), "dr": (0.005, 0.004)}, order) == "t"
    assert one_se_choice({"rr": (float("nan"), float("nan")), "t": (0.001, 0.004)}, order) == "t"


def test_a_cohort_larger_than_a_run_still_gets_a_cross_fitted_qini():
    frame = _experiment(2000, seed=3)
    frame.loc[:1199, "assigned_date"] = date(2025, 1, 1)  # a backlog: 60 % of the accounts on the first day
    value, se = inner_qini(frame, ["a", "b"], [], "t")
    assert np.isfinite(value) and se > 0


def test_a_dominant_cohort_leaves_its_run_unscored_not_the_whole_choice():
    frame = _experiment(2000, seed=4)
    frame.loc[:1899, "assigned_date"] = date(2025, 1, 1)  # 95 %: the other runs hold a hundred accounts
    frame.loc[1900:, "treated"] = 1  # ... all of one arm
    value, _ = inner_qini(frame, ["a", "b"], [], "t")
    assert np.isfinite(value)
