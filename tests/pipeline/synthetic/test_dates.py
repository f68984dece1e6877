"""Tests of ``pipeline/synthetic/dates.py``: the generator's calendar on integer day offsets."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.synthetic.dates import SECONDS_PER_DAY, Calendar, business_seconds

CAL = Calendar("2024-01-31")  # 2024 is a leap year


def test_offsets_become_dates_both_ways_of_day_zero():
    assert CAL.iso([-31, 0, 1, 30]).tolist() == ["2023-12-31", "2024-01-31", "2024-02-01", "2024-03-01"]
    assert CAL.dates(0) == np.datetime64("2024-01-31")


def test_add_months_clamps_the_day_of_month_and_counts_from_the_anchor():
    assert CAL.iso(CAL.add_months(np.zeros(4, int), [1, 2, 13, -2])).tolist() == [
        "2024-02-29", "2024-03-31", "2025-02-28", "2023-11-30"]
    once = CAL.add_months(CAL.add_months(0, 1), 1)  # the clamp is not reversible
    assert CAL.iso(once) == "2024-03-29" and CAL.iso(CAL.add_months(0, 2)) == "2024-03-31"


def test_weekdays_month_starts_and_days_of_year():
    cal = Calendar("2024-01-01")  # a Monday
    assert cal.weekday(np.arange(8)).tolist() == [0, 1, 2, 3, 4, 5, 6, 0]
    assert cal.iso(cal.month_starts(100)).tolist() == ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]
    assert cal.day_of_year([0, 365, 366]).tolist() == [0, 365, 0]  # 2024-12-31 is day 365 of a leap year


@pytest.mark.parametrize("start", ["2023-12-20", "2024-12-20"])
def test_the_holiday_lull_runs_from_december_24_to_january_1(start):
    cal = Calendar(start)
    lull = cal.iso(np.flatnonzero(cal.holiday(np.arange(20))))
    year = int(start[:4])
    assert lull.tolist() == [f"{year}-12-{d}" for d in range(24, 32)] + [f"{year + 1}-01-01"]


def test_season_peaks_on_its_day_and_epoch_seconds_count_from_1970():
    cal = Calendar("1970-01-01")
    assert cal.season([100], peak_doy=100) == pytest.approx([1.0])
    assert cal.season([283], peak_doy=100)[0] < -0.99
    assert cal.epoch_seconds([0, 2], [5, 60]).tolist() == [5, 2 * SECONDS_PER_DAY + 60]


def test_business_seconds_shift_the_local_hour_to_utc_within_the_day():
    weights = [0] * 24
    weights[9] = 1  # everyone works 09:00-10:00 local time
    region = np.array([0, 1, 2] * 50)
    secs = business_seconds(np.random.default_rng(0), region, (-5, 1, 8), weights)
    assert ((secs >= 0) & (secs < SECONDS_PER_DAY)).all()
    assert [set((secs[region == r] // 3600).tolist()) for r in range(3)] == [{14}, {8}, {1}]
