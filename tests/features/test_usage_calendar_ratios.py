"""The usage ratios that skip the calendar's holidays (``features.calendar``; issue 26) beyond the windows of
``test_usage_calendar_windows.py``: ``active_users_trend`` counts two periods of non-holiday days, and the young-account
denominators of the ``*_vs_baseline`` ratios (and which accounts are established for the date-wide ones) count the
non-holiday days of the account's tenure. Each with data after the as-of date that would change the values if it
were read."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from pipeline.config import Config, load_config
from pipeline.engine.stretches import young_tenures
from test_usage import LATER, LULL_T, lull_world
from test_usage_calendar_windows import LULL, built, calendar

T = LULL_T  # 2024-03-01


def users_world(after_t: bool = False) -> dict:
    """Account A, created 2023-01-01: user u1 logs in on every day, u2 only from December 12 to January 10, u3 only
    on February 15 (a holiday of :data:`HOLIDAYS`). With ``after_t``, from T on every user and five new ones log in
    every day, and u2 comes back."""
    days = pd.date_range("2023-10-01", "2024-04-30", freq="D")
    rows = []
    for day in days:
        d = day.date()
        at = day + pd.Timedelta(hours=10)
        if d < T:
            rows.append(("A", at, "login", "u1", 1.0))
            if date(2023, 12, 12) <= d <= date(2024, 1, 10):
                rows.append(("A", at, "login", "u2", 1.0))
            if d == date(2024, 2, 15):
                rows.append(("A", at, "login", "u3", 1.0))
        elif after_t:
            rows += [("A", at, "login", u, 3.0) for u in ("u1", "u2", "u3", "n1", "n2", "n3", "n4", "n5")]
    accounts = pd.DataFrame([("A", "A", "SMB", "Ann", pd.Timestamp("2023-01-01"))],
                            columns=["account_id", "name", "segment", "csm", "created_at"])
    subscriptions = pd.DataFrame([("A", date(2023, 1, 1), date(2025, 1, 1), 100.0, "pro")],
                                 columns=["account_id", "start_date", "end_date", "mrr", "plan"])
    events = pd.DataFrame(rows, columns=["account_id", "occurred_at", "event_type", "user_id", "quantity"])
    return {"accounts": accounts, "subscriptions": subscriptions, "usage_events": events}


#: February 10-29 2024: the 30 non-holiday days before T are January 11 - February 9, the 30 before them December
#: 12 - January 10.
HOLIDAYS = calendar("2024-02-10", "2024-02-29")


def test_active_users_trend_counts_two_periods_of_non_holiday_days():
    got = built(users_world(), [T], HOLIDAYS).loc[("A", T)]
    plain = built(users_world(), [T], Config()).loc[("A", T)]
    # with the calendar: u1 in the last 30 non-holiday days (u3 was active on a holiday only: in neither period),
    # u1 and u2 in the 30 before them
    assert got["active_users_trend"] == pytest.approx(1 / 2 - 1)
    assert got["active_users_30d"] == 1
    # without it: January 31 - February 29 holds u1 and u3, January 1-30 u1 and u2
    assert plain["active_users_trend"] == pytest.approx(0)
    assert plain["active_users_30d"] == 2


def test_active_users_trend_never_reads_the_as_of_date_or_later():
    """Eight users active every day from T on (u2 back, five new ones), and a calendar running past T: the values
    on T are those of the world that stops before T."""
    long = calendar("2024-02-10", "2024-03-20")
    alone = built(users_world(), [T], long)
    busy = built(users_world(after_t=True), [T, LATER], long)
    columns = [c for c in alone.columns if c.startswith("active_users")]
    pd.testing.assert_frame_equal(alone[columns], busy.xs(T, level="as_of", drop_level=False)[columns])
    assert alone.loc[("A", T), "active_users_trend"] == pytest.approx(-0.5)
    # the calendar's days after T change nothing either
    pd.testing.assert_frame_equal(alone[columns], built(users_world(), [T], HOLIDAYS)[columns])
    # on LATER (May 1) the eight users of April are there: the later rows do read their own past
    assert busy.loc[("A", LATER), "active_users_7d"] == 8


def young_world(after_t: float | None = None) -> dict:
    """The lull world (A, B, C established, 2 events a day, halved in the lull February 23-29; C stops in it) and
    two younger accounts: Y, created February 1 2024 (29 days old on T, 22 of them not holidays), 2 events a day
    and 1 on holidays; Z, created November 28 2023 (94 days old, 87 not holidays), 10 events a day. With
    ``after_t``, every account has that many events a day from T on, and W, created on T, too."""
    world = lull_world() if after_t is None else lull_world(after_t=after_t)
    rows = []
    for account, created, n in (("Y", date(2024, 2, 1), 2.0), ("Z", date(2023, 11, 28), 10.0)):
        for day in pd.date_range(created, "2024-04-30", freq="D"):
            d = day.date()
            if d >= T:
                value = after_t
            else:
                value = n / 2 if date(2024, 2, 23) <= d < T else n
            if value:
                rows.append((account, day + pd.Timedelta(hours=10), "login", f"{account}-u", value))
    created_at = {"Y": date(2024, 2, 1), "Z": date(2023, 11, 28)}
    if after_t is not None:  # W, created on T, busy from T on: not in T's spine, nor read by it
        created_at["W"] = T
        rows += [("W", day + pd.Timedelta(hours=10), "login", "W-u", 100.0)
                 for day in pd.date_range(T, "2024-04-30", freq="D")]
    events = world["usage_events"]
    world["usage_events"] = pd.concat([events, pd.DataFrame(rows, columns=events.columns)], ignore_index=True)
    world["accounts"] = pd.concat([world["accounts"], pd.DataFrame(
        [(a, a, "SMB", "Ann", pd.Timestamp(c)) for a, c in created_at.items()], columns=world["accounts"].columns)],
        ignore_index=True)
    world["subscriptions"] = pd.concat([world["subscriptions"], pd.DataFrame(
        [(a, c, date(2025, 1, 1), 100.0, "pro") for a, c in created_at.items()],
        columns=world["subscriptions"].columns)], ignore_index=True)
    return world


def test_young_tenures_count_the_days_that_are_not_holidays():
    holidays = [date(2024, 2, 23) + timedelta(days=i) for i in range(7)]
    rows = young_tenures([T], 90, holidays).set_index("tenure")["tenure_nd"]
    # 97 calendar days hold the 90 non-holiday days before T: tenures 0-96 have a row, older accounts none
    assert list(rows.index) == list(range(97))
    assert rows[0] == 0 and rows[7] == 0 and rows[8] == 1  # the last 7 days are holidays
    assert rows[29] == 22 and rows[94] == 87 and rows[96] == 89
    for tenure, working in rows.items():  # by counting the days themselves
        assert working == sum((T - timedelta(days=k)) not in holidays for k in range(1, tenure + 1))
    # without holidays the reach is the window: tenures 0-89, each all working days
    plain = young_tenures([T], 90, []).set_index("tenure")["tenure_nd"]
    assert list(plain.index) == list(range(90)) and (plain == plain.index).all()


def test_young_accounts_rates_are_over_the_non_holiday_days_of_their_tenure():
    got, plain = built(young_world(), [T], LULL), built(young_world(), [T], Config())
    y, z = got.loc[("Y", T)], got.loc[("Z", T)]
    # Y: 14 events in its last 7 non-holiday days (February 16-22) and 44 in all 22 non-holiday days of its tenure:
    # 2 a day in both, so flat; over its 29 calendar days the baseline would read 44 / 29 a day, a rise of 32 %
    assert (y["events_7d"], y["events_90d"]) == (14, 44)
    assert y["events_7d_vs_baseline"] == pytest.approx(0) and y["events_30d_vs_baseline"] == pytest.approx(0)
    assert y["events_login_7d_vs_baseline"] == pytest.approx(0)
    # Z: 94 days old, 87 of them not holidays: its 90 non-holiday-day baseline holds 87 days of 10 events
    assert (z["events_7d"], z["events_90d"]) == (70, 870)
    assert z["events_7d_vs_baseline"] == pytest.approx(0)
    # without the calendar, the lull in the window and the calendar-day tenure: Y 7 events of 1 a day against
    # 22 days of 2 and 7 of 1 over 29 days; Z over 90 days (its tenure is longer)
    assert plain.loc[("Y", T), "events_7d_vs_baseline"] == pytest.approx((7 / 7) / (51 / 29) - 1)
    assert plain.loc[("Z", T), "events_7d_vs_baseline"] == pytest.approx((35 / 7) / (865 / 90) - 1)


def test_established_accounts_hold_a_whole_window_of_non_holiday_days():
    """Z is 94 days old but only 87 of them are not holidays: with the calendar it is not established, so its
    70 events in 7 days do not join the date's mean (A, B and C: 14 each); without the calendar it is (94 >= 90)."""
    got, plain = built(young_world(), [T], LULL), built(young_world(), [T], Config())
    assert got.loc[("A", T), "events_7d_vs_all_accounts_mean"] == pytest.approx(0)
    assert got.loc[("Z", T), "events_7d_vs_all_accounts_mean"] == pytest.approx(70 / 14 - 1)
    # the date-wide change: A, B and C flat (14 a week against 180 in 90 days); Y and Z do not move it
    assert got.loc[("A", T), "events_7d_vs_all_accounts"] == pytest.approx(0)
    assert got.loc[("Y", T), "events_7d_vs_all_accounts"] == pytest.approx(0)
    # without the calendar Z's 35 lull events join A's and B's 7 and C's 0
    assert plain.loc[("A", T), "events_7d_vs_all_accounts_mean"] == pytest.approx(7 / ((7 + 7 + 0 + 35) / 4) - 1)


def test_young_account_ratios_never_read_the_as_of_date_or_later():
    """Every account ten times busier from T on, W created on T, and a calendar running past T: the ratios on T are
    those of the world that stops before T."""
    long = calendar("2024-02-23", "2024-03-10")
    alone = built(young_world(), [T], long)
    busy = built(young_world(after_t=20.0), [T, LATER], long)
    columns = [c for c in alone.columns if "_vs_" in c or c.startswith(("events", "active"))]
    same = busy.loc[alone.index]  # W (created on T, nothing before it) may be in T's spine: the others are
    pd.testing.assert_frame_equal(alone[columns].sort_index(), same[columns].sort_index())
    pd.testing.assert_frame_equal(alone[columns].sort_index(), built(young_world(), [T], LULL)[columns].sort_index())
    assert alone.loc[("Y", T), "events_7d_vs_baseline"] == pytest.approx(0)


def test_without_a_calendar_the_young_denominators_are_calendar_days():
    """No calendar: the derived definitions read the plain tenure (no ``tenure_nd`` column is built)."""
    cfg = load_config(None, {})
    assert not cfg.features.calendar.configured
    plain = built(young_world(), [T], cfg)
    # Y: 29 calendar days of tenure, the lull (1 event a day) in its last 7
    assert plain.loc[("Y", T), "events_30d_vs_baseline"] == pytest.approx((51 / 29) / (51 / 29) - 1)
    assert plain.loc[("Y", T), "events_7d_vs_baseline"] == pytest.approx((7 / 7) / (51 / 29) - 1)
