"""Time-dependent ROC-AUC and the IPCW Brier score under censoring."""

from __future__ import annotations

import numpy as np

from models.survival_metrics import brier, censoring_survival, integrated_brier, time_auc


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
