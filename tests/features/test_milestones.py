"""Tests of ``features/milestones.py`` on the tiny world across as-of dates: open, overdue, then done."""

from __future__ import annotations

import math
from datetime import date

import pytest

import tiny_world

# A1 (created 2023-12-01): kickoff due 12-08 done 12-07; first_report due 01-15 done 03-31 12:00;
# team_rollout due 03-01 done 2024-04-05 00:00; integration_live due 05-01, never done.
DATES = [date(2024, 2, 1), date(2024, 3, 15), date(2024, 4, 5), date(2024, 4, 6), date(2024, 4, 20)]


@pytest.fixture(scope="module")
def a1(tmp_path_factory):
    frame = tiny_world.features(tmp_path_factory.mktemp("tiny"), DATES)
    return frame[frame["account_id"] == "A1"].set_index("as_of")


def test_an_open_milestone_grows_later_day_by_day(a1):
    assert a1.loc[date(2024, 2, 1), "milestone_first_report_days_late"] == 17
    assert a1.loc[date(2024, 3, 15), "milestone_first_report_days_late"] == 60
    assert a1.loc[date(2024, 3, 15), "overdue_open_milestones"] == 2  # first_report and team_rollout


def test_a_milestone_completed_at_t_is_still_open_at_t(a1):
    row = a1.loc[date(2024, 4, 5)]
    assert row["milestone_team_rollout_days_late"] == 35 and row["overdue_open_milestones"] == 1


def test_once_done_its_lateness_is_frozen_and_it_is_no_longer_overdue(a1):
    for day in (date(2024, 4, 6), date(2024, 4, 20)):
        row = a1.loc[day]
        assert row["milestone_team_rollout_days_late"] == 35  # completed 2024-04-05 - due 2024-03-01
        assert row["overdue_open_milestones"] == 0
        assert row["milestones_on_time_share"] == pytest.approx(1 / 3)  # only kickoff was on time


def test_a_milestone_not_yet_due_is_neither_late_nor_counted(a1):
    assert all(math.isnan(v) for v in a1["milestone_integration_live_days_late"])  # due 2024-05-01
    assert a1.loc[date(2024, 2, 1), "milestones_on_time_share"] == 0.5  # kickoff on time, first_report not
