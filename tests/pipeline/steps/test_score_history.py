"""``churn score --history N``: the N snapshot dates before the as-of date, oldest first."""

from __future__ import annotations

from datetime import date

from pipeline.steps.score import earlier_dates


def test_earlier_month_starts_come_oldest_first_and_never_include_the_as_of_date():
    assert earlier_dates(date(2025, 12, 31), 4, "monthly") == [date(2025, 9, 1), date(2025, 10, 1),
                                                               date(2025, 11, 1), date(2025, 12, 1)]
    assert earlier_dates(date(2025, 12, 1), 2, "monthly") == [date(2025, 10, 1), date(2025, 11, 1)]
    assert earlier_dates(date(2025, 12, 31), 0, "monthly") == []


def test_weekly_snapshots_step_back_by_mondays():
    assert earlier_dates(date(2025, 12, 31), 2, "weekly") == [date(2025, 12, 22), date(2025, 12, 29)]
