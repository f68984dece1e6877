"""Usage windows, trends, slope and recency that skip the calendar's holidays (``features.calendar``; issue 26), on
the lull world of ``test_usage.py``: three accounts with 2 events a day, halved (C: stopped) in the 7 days before
2024-03-01."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from pipeline.config import Config, load_config
from pipeline.engine.stretches import stretches
from test_usage import LATER, LULL_T, lull_world


def built(tables, dates, cfg):
    from pipeline.engine.featurize import build_features
    from pipeline.io.sources import open_frames

    with open_frames(tables) as source:
        return build_features(source, cfg, dates, with_labels=False).frame.set_index(["account_id", "as_of"])


def calendar(first: str, last: str) -> Config:
    return load_config(None, {"features.calendar.holidays": [{"first": first, "last": last}]})


#: The lull's seven days, February 23-29 2024, listed in the calendar.
LULL = calendar("2024-02-23", "2024-02-29")


def lull_built():
    """The lull world on its lull date with the calendar that ends with the lull."""
    return built(lull_world(), [LULL_T], LULL)


def test_windows_count_the_days_that_are_not_holidays():
    got = built(lull_world(), [LULL_T], LULL)
    plain = built(lull_world(), [LULL_T], Config())
    for account in "ABC":
        a, p = got.loc[(account, LULL_T)], plain.loc[(account, LULL_T)]
        # 7 days: February 16-22, the 7 days before the holidays, 2 events a day
        assert (a["events_7d"], a["active_days_7d"], a["active_users_7d"]) == (14, 7, 1)
        assert a["events_login_7d"] == 14 and a["breadth_7d"] == 1
        # 30 days: January 24 - February 22
        assert (a["events_30d"], a["active_days_30d"]) == (60, 30)
        # the longest window (the baseline) too: 90 non-holiday days of 2 events, November 25 - February 22;
        # without the calendar 83 days of 2 events and 7 of 1 (C: of 0)
        assert (a["events_90d"], a["active_days_90d"]) == (180, 90)
        assert p["events_90d"] == (173 if account != "C" else 166)
        # so the rate against the account's own 90 days is flat, and so are the trend and the weekly slope
        assert a["events_7d_vs_baseline"] == pytest.approx(0) and a["events_30d_vs_baseline"] == pytest.approx(0)
        assert a["events_trend"] == pytest.approx(0) and a["usage_slope"] == pytest.approx(0)
        # holidays count neither as days without activity nor as activity: all three were last active on a
        # non-holiday day on February 22, the last day before the holidays
        assert a["days_since_last_activity"] == 1
    # without the calendar the lull is in the window: 7 events (C none), the trend and slope fall, C idle 8 days
    assert plain.loc[("A", LULL_T), "events_7d"] == 7 and plain.loc[("C", LULL_T), "events_7d"] == 0
    assert plain.loc[("A", LULL_T), "events_trend"] == pytest.approx((23 * 2 + 7) / 60 - 1)
    assert plain.loc[("A", LULL_T), "usage_slope"] < 0 and plain.loc[("C", LULL_T), "days_since_last_activity"] == 8


def test_days_since_last_activity_counts_the_working_days_after_it():
    """C also idle on February 21-22: 2 non-holiday days after its last event on a non-holiday day (February 20)
    and before the as-of date, so 3 (the day after the event counts 1, like yesterday without a calendar)."""
    world = lull_world()
    events = world["usage_events"]
    idle = (events["account_id"] == "C") & events["occurred_at"].between("2024-02-21", "2024-02-23")
    world["usage_events"] = events[~idle]
    # C logs in once on a holiday, February 26: as the windows leave out holiday events, so does the recency
    extra = pd.DataFrame([("C", pd.Timestamp("2024-02-26 10:00"), "login", "C-u", 2.0)], columns=events.columns)
    world["usage_events"] = pd.concat([world["usage_events"], extra], ignore_index=True)
    got, plain = built(world, [LULL_T], LULL), built(world, [LULL_T], Config())
    assert got.loc[("C", LULL_T), "days_since_last_activity"] == 3
    assert plain.loc[("C", LULL_T), "days_since_last_activity"] == 4
    world["usage_events"] = world["usage_events"].iloc[:-1]
    assert built(world, [LULL_T], Config()).loc[("C", LULL_T), "days_since_last_activity"] == 10
    # a week later (March 8, no holidays since), 7 more days without a calendar and with it
    later = date(2024, 3, 8)
    cut = world["usage_events"]
    world["usage_events"] = cut[~((cut["account_id"] == "C") & (cut["occurred_at"] >= "2024-02-21"))]
    assert built(world, [later], LULL).loc[("C", later), "days_since_last_activity"] == 10
    assert built(world, [later], Config()).loc[("C", later), "days_since_last_activity"] == 17


def test_a_calendar_reaching_past_the_as_of_date_never_counts_its_events():
    """Holidays are known in advance, so the calendar may run past the as-of date; the events may not. With every
    account ten times busier from the as-of date on, the values equal those of a world that stops there."""
    cfg = calendar("2024-02-23", "2024-03-10")
    alone = built(lull_world(), [LULL_T], cfg)
    busy = built(lull_world(after_t=20.0), [LULL_T, LATER], cfg)
    columns = [c for c in alone.columns if c.startswith(("events", "active", "breadth", "usage", "days_since"))]
    pd.testing.assert_frame_equal(alone[columns].sort_index(),
                                  busy.xs(LULL_T, level="as_of", drop_level=False)[columns].sort_index())
    # and the holidays after the as-of date change nothing against a calendar that ends with the lull
    usage = [c for c in lull_built().columns if c.startswith(("events", "active", "breadth", "usage", "days_since",
                                                                "holiday"))]
    pd.testing.assert_frame_equal(lull_built()[usage].sort_index(), alone[usage].sort_index())
    assert alone.loc[("A", LULL_T), "events_7d"] == 14
    # on LATER (May 1) the holidays are long past: 20 events a day in the 7 days before it
    assert busy.loc[("A", LATER), "events_7d"] == 140


def test_stretches_hold_the_last_non_holiday_days_exactly():
    t = date(2024, 3, 1)
    holidays = [date(2024, 2, 23) + timedelta(days=i) for i in range(7)] + [date(2024, 2, 10), date(2024, 3, 5)]
    days, spans = stretches([t, date(2024, 3, 20)], [7, 14, 30, 60, 90], holidays)
    assert days["day"].is_unique
    for when in (t, date(2024, 3, 20)):
        mine = spans[spans["as_of"] == when]
        for k in (7, 14, 30, 60, 90):
            keep = mine.loc[(mine["nd"] <= k) & ~mine["hol"], "stretch"]
            inside = sorted(days.loc[days["stretch"].isin(keep), "day"])
            expected = sorted(d for d in (when - timedelta(days=i) for i in range(1, 200))
                              if d not in holidays)[-k:]
            assert inside == expected, (when, k)
        # the stretches between two offsets hold exactly the non-holiday days between them (the trend, the weeks)
        for lo, hi in ((7, 14), (30, 60)):
            keep = mine.loc[(mine["nd"] > lo) & (mine["nd"] <= hi) & ~mine["hol"], "stretch"]
            expected = sorted(d for d in (when - timedelta(days=i) for i in range(1, 200)) if d not in holidays)
            assert sorted(days.loc[days["stretch"].isin(keep), "day"]) == expected[-hi:-lo], (when, lo, hi)
    # the 7 non-holiday days before March 1 are February 16-22; the 30 reach back to January 23 (Feb 10 skipped)
    assert min(days.loc[days["stretch"].isin(
        spans.loc[(spans["as_of"] == t) & (spans["nd"] <= 30) & ~spans["hol"], "stretch"]), "day"]) == date(2024, 1, 23)


def year_world() -> dict:
    """A, created mid-2022: one event a day from January 2023, two a day in February 2024 and 50 a day from March
    2024 on (after the as-of date); B, created December 2023, the same events."""
    days = pd.date_range("2023-01-01", "2024-04-30", freq="D")
    rows = [(a, d + pd.Timedelta(hours=9), "login", f"{a}-u",
             50.0 if d >= pd.Timestamp(LULL_T) else 2.0 if d.month == 2 and d.year == 2024 else 1.0)
            for a in "AB" for d in days]
    created = {"A": pd.Timestamp("2022-06-01"), "B": pd.Timestamp("2023-12-01")}
    accounts = pd.DataFrame([(a, a, "SMB", "Ann", created[a]) for a in "AB"],
                            columns=["account_id", "name", "segment", "csm", "created_at"])
    subscriptions = pd.DataFrame([(a, created[a].date(), date(2025, 1, 1), 100.0, "pro") for a in "AB"],
                                 columns=["account_id", "start_date", "end_date", "mrr", "plan"])
    events = pd.DataFrame(rows, columns=["account_id", "occurred_at", "event_type", "user_id", "quantity"])
    return {"accounts": accounts, "subscriptions": subscriptions, "usage_events": events}


def test_events_against_the_same_days_a_year_earlier():
    cfg = load_config(None, {"features.usage.year_ago": True})
    got = built(year_world(), [LULL_T], cfg)
    a = got.loc[("A", LULL_T)]
    # 30 days before March 1 2024: January 31 (1 event) and February 1-29 (2 a day) = 59; 365 days earlier,
    # [2023-01-31, 2023-03-02): 30 days of 1 event (the events from March 1 2024 on, 50 a day, never count)
    assert a["events_30d_vs_year_ago"] == pytest.approx(59 / 30 - 1)
    assert a["events_7d_vs_year_ago"] == pytest.approx(14 / 7 - 1)
    # B is younger than a year and 30 days: no year-ago comparison
    assert pd.isna(got.loc[("B", LULL_T), "events_30d_vs_year_ago"])
    assert "events_30d_vs_year_ago" not in built(year_world(), [LULL_T], Config())
