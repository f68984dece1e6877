"""Time-dependent ROC-AUC and the IPCW Brier score under censoring."""

from __future__ import annotations

import numpy as np

from models.survival_metrics import (brier, censoring_survival, ibs_difference, integrated_brier, out_of_time_table,
                                     time_auc)


def test_a_perfect_ranking_scores_one_and_a_perfect_curve_zero_brier():
    duration = np.array([10, 40, 70, 200, 200, 50], dtype=float)
    event = np.array([1, 1, 1, 0, 0, 0])
    risk = -duration
    assert time_auc(duration, event, risk, 60) == 1.0
    perfect = np.column_stack([(duration <= t) & (event == 1) for t in (30, 60, 90)]).astype(float)
    assert integrated_brier(duration, event, perfect, [30, 60, 90]) == 0.0
    assert time_auc(duration, event, duration, 60) == 0.0


def test_censored_rows_are_weighted_out_not_counted_as_survivors():
    # without censoring, a constant prediction of the true rate has Brier p(1-p)
    duration = np.array([10.0] * 3 + [100.0] * 7)
    event = np.array([1] * 3 + [0] * 7)
    assert np.isclose(brier(duration, event, np.full(10, 0.3), 30), 0.21)
    times, surv = censoring_survival(np.array([5.0, 10, 20]), np.array([0, 1, 0]))
    assert times.tolist() == [5, 10, 20] and np.allclose(surv, [2 / 3, 2 / 3, 0])


def test_rows_censored_exactly_at_t_are_controls_at_t():
    # the curve ends at 180 days: a row observed for all 180 days without churn survived to t = 180
    duration = np.array([20.0, 100.0, 180.0, 180.0])
    event = np.array([1, 1, 0, 0])
    assert time_auc(duration, event, np.array([0.9, 0.8, 0.1, 0.2]), 180) == 1.0


def test_the_brier_score_of_a_fair_prediction_stays_a_brier_score_when_everyone_is_censored_at_the_end():
    duration = np.array([20.0] * 2 + [180.0] * 8)
    event = np.array([1] * 2 + [0] * 8)
    assert np.isclose(brier(duration, event, np.full(10, 0.2), 180), 0.16)


def test_ibs_difference_is_the_gap_of_the_integrated_scores_with_an_interval_over_accounts():
    rng = np.random.default_rng(3)
    accounts = np.repeat(np.arange(300), 3)  # three snapshots per account
    duration = rng.choice([20.0, 50.0, 80.0, 180.0], size=len(accounts), p=[0.1, 0.1, 0.1, 0.7])
    event = (duration < 180).astype(int)
    days = [30, 60, 90, 180]
    truth = np.column_stack([(duration <= t) & (event == 1) for t in days]).astype(float)
    good, poor = 0.8 * truth + 0.1, np.full_like(truth, 0.3)
    gap, low, high = ibs_difference(duration, event, good, poor, days, accounts)
    assert np.isclose(gap, integrated_brier(duration, event, good, days) - integrated_brier(duration, event, poor, days))
    assert low <= gap <= high < 0  # clearly better: the whole interval below 0
    same, low, high = ibs_difference(duration, event, poor, poor, days, accounts)
    assert same == low == high == 0.0
    noisy = np.clip(poor + rng.normal(0, 0.02, poor.shape), 0, 1)  # a negligible difference: an interval around it
    gap, low, high = ibs_difference(duration, event, noisy, poor, days, accounts)
    assert low < gap < high and high - low < 0.01


def test_the_report_table_sets_the_curve_beside_one_number_scores():
    # churned on day 20 (two rows) or day 50; censored at 60 (still there) or at 40 (lost before 60)
    duration = np.array([20.0, 20.0, 50.0, 60.0, 60.0, 40.0])
    event = np.array([1, 1, 1, 0, 0, 0])
    days = [30, 60]
    curves = np.array([[0.9, 0.95], [0.8, 0.9], [0.3, 0.8], [0.1, 0.2], [0.05, 0.1], [0.2, 0.4]])
    perfect = np.array([6.0, 5.0, 4.0, 1.0, 2.0, 3.0])
    table = out_of_time_table(duration, event, curves, days, {"perfect": perfect, "reversed": -perfect}, "curve")
    assert list(table["scorer"]) == ["curve", "perfect", "reversed"]
    assert list(table.columns) == ["scorer", "AUC 30 d", "AUC 60 d", "IBS 30-60 d"]
    assert table["AUC 30 d"].iloc[0] == time_auc(duration, event, curves[:, 0], 30)
    assert table["AUC 60 d"].iloc[0] == time_auc(duration, event, curves[:, 1], 60)
    assert table["IBS 30-60 d"].iloc[0] == integrated_brier(duration, event, curves, days)
    assert table.loc[1, "AUC 30 d"] == 1.0 and table.loc[2, "AUC 30 d"] == 0.0
    assert table["IBS 30-60 d"].iloc[1:].isna().all()  # one number is no curve


def test_the_brier_score_is_integrated_only_over_days_some_row_is_seen_at():
    # every row is censored or churned by day 60: day 90 has no control, and every loss there would be 0
    duration = np.array([20.0, 45.0, 60.0, 60.0])
    event = np.array([1, 1, 0, 0])
    curves = np.array([[0.6, 0.7, 0.8], [0.2, 0.6, 0.7], [0.1, 0.2, 0.3], [0.1, 0.3, 0.4]])
    table = out_of_time_table(duration, event, curves, [30, 60, 90], {}, "curve")
    assert "IBS 30-60 d" in table.columns and np.isnan(table.loc[0, "AUC 90 d"])
    assert table.loc[0, "IBS 30-60 d"] == integrated_brier(duration, event, curves[:, :2], [30, 60])
    assert table.loc[0, "IBS 30-60 d"] > integrated_brier(duration, event, curves, [30, 60, 90])


def test_a_day_without_cases_has_no_auc():
    table = out_of_time_table(np.array([90.0, 90.0]), np.array([0, 0]), np.array([[0.1], [0.2]]), [30], {}, "curve")
    assert np.isnan(table.loc[0, "AUC 30 d"])
