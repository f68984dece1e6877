"""Tests of ``features/tickets.py`` on the tiny world across as-of dates: what is open when."""

from __future__ import annotations

from datetime import date

import pytest

import tiny_world

# T2 (urgent) is created 2024-03-20 and resolved 2024-04-02 00:00; T4 (urgent, never resolved) at 2024-04-01 00:00.
DATES = [date(2024, 3, 15), date(2024, 4, 2), date(2024, 4, 3), date(2024, 4, 6)]


@pytest.fixture(scope="module")
def a1(tmp_path_factory):
    frame = tiny_world.features(tmp_path_factory.mktemp("tiny"), DATES)
    return frame[frame["account_id"] == "A1"].set_index("as_of")


def test_a_ticket_resolved_exactly_at_t_is_still_open(a1):
    row = a1.loc[date(2024, 4, 2)]
    assert row["open_urgent_tickets"] == 2 and row["open_tickets"] == 2  # T2 and T4
    assert row["oldest_open_urgent_ticket_days"] == 13  # T2, open since 2024-03-20


def test_an_urgent_ticket_resolved_before_t_is_not_open(a1):
    row = a1.loc[date(2024, 4, 3)]
    assert row["open_urgent_tickets"] == 1 and row["open_tickets"] == 1  # T4 only
    assert row["oldest_open_urgent_ticket_days"] == 2  # T4's age, not T2's
    assert a1.loc[date(2024, 4, 6), "oldest_open_urgent_ticket_days"] == 5  # T4 keeps ageing


def test_resolution_time_counts_a_ticket_once_it_is_resolved(a1):
    assert a1.loc[date(2024, 4, 2), "median_resolution_hours"] == 18  # T1 24 h and T3 12 h
    assert a1.loc[date(2024, 4, 3), "median_resolution_hours"] == 24  # T2's 312 h joins
    # CSAT of tickets resolved in the last 90 days (features.tickets.csat_days): T1 (4) and T2 (1), T3 is older
    assert a1.loc[date(2024, 4, 3), "recent_csat"] == pytest.approx((4 + 1) / 2)


def test_nothing_is_open_before_the_urgent_tickets_exist(a1):
    row = a1.loc[date(2024, 3, 15)]
    assert (row["open_tickets"], row["open_urgent_tickets"], row["oldest_open_urgent_ticket_days"]) == (0, 0, 0)
    assert row["unresolved_share"] == 0 and row["tickets_30d"] == 1  # T1, resolved the next day
