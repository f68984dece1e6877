"""Out-of-time folds in snapshot dates with a purge gap of horizon + grace."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from models.folds import closed_before, make_folds

WINDOW = 120


def monthly(first: str, n: int) -> list[date]:
    return [d.date() for d in pd.date_range(first, periods=n, freq="MS")]


def weekly(first: str, n: int) -> list[date]:
    return [d.date() for d in pd.date_range(first, periods=n, freq="7D")]


def test_folds_are_consecutive_blocks_with_a_purge_gap():
    dates = monthly("2024-04-01", 18)
    folds = make_folds(dates, folds=3, test_days=91, window_days=WINDOW, min_train_dates=3)
    assert [f.test_dates for f in folds] == [monthly("2025-01-01", 3), monthly("2025-04-01", 3), monthly("2025-07-01", 3)]
    for f in folds:
        assert max(f.train_dates) + timedelta(days=WINDOW) < f.test_start  # the purge gap, on the actual folds
        assert not set(f.train_dates) & set(f.test_dates)
        assert f.train_dates == [d for d in dates if d + timedelta(days=WINDOW) < f.test_start]
    assert folds[0].train_dates == monthly("2024-04-01", 6)


def test_three_months_of_weekly_snapshots_give_an_out_of_time_test():
    dates = weekly("2020-02-03", 13)  # 30-day horizon, no grace
    folds = make_folds(dates, folds=3, test_days=91, window_days=30, min_train_dates=3)
    assert len(folds) == 1
    fold = folds[0]
    assert len(fold.train_dates) >= 3 and fold.test_dates == dates[-len(fold.test_dates):]
    assert max(fold.train_dates) + timedelta(days=30) < fold.test_start


def test_no_fold_when_nothing_can_train_before_a_test_block():
    assert make_folds(monthly("2024-04-01", 5), folds=1, test_days=31, window_days=WINDOW, min_train_dates=3) == []
    assert make_folds([], folds=3, test_days=91, window_days=WINDOW, min_train_dates=1) == []


def test_closed_before_counts_the_whole_window():
    assert closed_before([date(2025, 1, 1)], date(2025, 5, 2), WINDOW).tolist() == [True]
    assert closed_before([date(2025, 1, 1)], date(2025, 5, 1), WINDOW).tolist() == [False]


def test_the_configured_folds_give_a_year_of_usable_monthly_snapshots_several_purged_folds():
    from pipeline.config import load_config

    training = load_config("configs/pipeline.yaml").training
    dates = monthly("2024-04-01", 12)  # the zoo's worlds at their cutoff: 12 usable dates, 90-day horizon + 30 grace
    folds = make_folds(dates, folds=training.folds, test_days=training.test_days, window_days=120,
                       min_train_dates=training.min_train_dates)
    quarters = make_folds(dates, folds=3, test_days=91, window_days=120, min_train_dates=training.min_train_dates)
    assert len(quarters) == 1  # three quarterly blocks: one fold, one season chooses trees and calibration
    assert len(folds) >= 3
    for fold in folds:
        assert all(d + timedelta(days=120) < fold.test_start for d in fold.train_dates)
        assert len(fold.train_dates) >= training.min_train_dates
