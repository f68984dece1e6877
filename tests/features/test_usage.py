"""Tests of ``features/usage.py`` on the tiny world at several as-of dates (beyond test_definitions.py)."""

from __future__ import annotations

import math
from datetime import date

import ibis
import pytest

import tiny_world
from pipeline.config import Config
from pipeline.engine.catalog import Vocabulary, catalog

DATES = [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 15), date(2024, 4, 1), date(2024, 4, 3)]
WINDOWS = (7, 30, 90)


@pytest.fixture(scope="module")
def frame(tmp_path_factory):
    return tiny_world.features(tmp_path_factory.mktemp("tiny"), DATES).set_index(["account_id", "as_of"])


def at(frame, account, day):
    return frame.loc[(account, day)]


def test_windows_are_nested_for_every_row_and_event_type(frame):
    for prefix in ("events_", "events_login_", "events_export_", "active_days_", "active_users_", "breadth_"):
        short, middle, long = (frame[f"{prefix}{w}d"] for w in WINDOWS)
        assert (short <= middle).all() and (middle <= long).all(), prefix
    for w in WINDOWS:
        assert (frame[f"active_days_{w}d"] <= w).all()
        assert (frame[f"active_days_{w}d"] <= frame[f"events_{w}d"]).all()  # an active day has an event


def test_events_per_user_is_events_over_active_users_and_null_without_users(frame):
    for w in WINDOWS:
        users, ratio = frame[f"active_users_{w}d"], frame[f"events_per_user_{w}d"]
        assert ratio[users > 0].tolist() == pytest.approx((frame[f"events_{w}d"] / users)[users > 0].tolist())
        assert ratio[users == 0].isna().all()


def test_trend_is_null_when_the_earlier_period_had_no_events(frame):
    new = at(frame, "A1", date(2024, 1, 1))  # the 2023-12-15 export in the last 30 days, nothing before
    assert new["events_30d"] == 1 and math.isnan(new["events_trend"]) and math.isnan(new["active_users_trend"])
    gone = at(frame, "A1", date(2024, 2, 1))  # nothing in the last 30 days, the export in the 30 before
    assert gone["events_30d"] == 0 and gone["events_trend"] == -1 and gone["active_users_trend"] == -1


def test_an_event_stamped_at_t_counts_from_the_next_day_on(frame):
    before, after = at(frame, "A1", date(2024, 4, 1)), at(frame, "A1", date(2024, 4, 3))
    assert after["events_login_7d"] == before["events_login_7d"] + 1  # u3's login at 2024-04-01 00:00
    assert after["active_users_30d"] == before["active_users_30d"] + 1
    assert after["days_since_last_activity"] == 2 and after["events_report_view_7d"] == 0  # 03-25 left the week


def test_usage_vs_baseline_is_the_daily_rate_over_the_daily_rate_of_the_longest_window(frame):
    span = frame["tenure_days"].clip(lower=1, upper=90)
    for w in WINDOWS[:-1]:
        ratio = frame[f"events_{w}d_vs_baseline"]
        base = frame["events_90d"] / span
        expected = (frame[f"events_{w}d"] / span.clip(upper=w)) / base - 1
        assert ratio[base > 0].tolist() == pytest.approx(expected[base > 0].tolist())
        assert ratio[frame["events_90d"] == 0].isna().all()
    assert "events_90d_vs_baseline" not in frame  # the longest window is the baseline itself


def test_usage_of_a_type_vs_baseline_is_the_same_ratio_on_that_type(frame):
    span = frame["tenure_days"].clip(lower=1, upper=90)
    types = [c.removeprefix("events_").removesuffix("_90d") for c in frame
             if c.startswith("events_") and c.endswith("_90d") and not c.startswith(("events_90d", "events_per_user"))]
    assert types
    for event in types:
        for w in WINDOWS[:-1]:
            base = frame[f"events_{event}_90d"] / span
            expected = (frame[f"events_{event}_{w}d"] / span.clip(upper=w)) / base - 1
            ratio = frame[f"events_{event}_{w}d_vs_baseline"]
            assert ratio[base > 0].tolist() == pytest.approx(expected[base > 0].tolist())
            assert ratio[base == 0].isna().all()
        assert f"events_{event}_90d_vs_baseline" not in frame


def test_usage_vs_baseline_reads_a_young_account_over_its_own_tenure():
    cfg = Config.model_validate({"features": {"usage": {"windows": [7, 30, 90]}}})
    feature = next(f for f in catalog(cfg, Vocabulary.of([], []), {"accounts", "subscriptions", "usage_events"})
                   if f.name == "events_30d_vs_baseline")
    rows = ibis.memtable({"tenure_days": [20.0, 200.0, None], "events_30d": [40.0, 10.0, 30.0],
                          "events_90d": [40.0, 90.0, 90.0]})
    got = rows.select(v=feature.expression(rows, cfg.features)).execute()["v"].tolist()
    # 20 days old, every event in them: steady (0), not a 2/3 drop; 10 vs 30 per month: -2/3; no tenure: 90 days
    assert got == pytest.approx([0.0, -2 / 3, 0.0])


# ---------------------------------------------------------------- usage against every account's on the same date
LULL_T, LATER = date(2024, 3, 1), date(2024, 5, 1)


def lull_world(after_t: float = 2.0) -> dict:
    """Three established accounts with 2 events a day; in the 7 days before LULL_T everyone halves (a holiday) and
    C stops; after LULL_T every account has ``after_t`` events a day."""
    import pandas as pd

    days = pd.date_range("2023-10-01", "2024-06-30", freq="D")
    rows = []
    for account in ("A", "B", "C"):
        for day in days:
            lull = LULL_T - pd.Timedelta(days=7).to_pytimedelta() <= day.date() < LULL_T
            n = after_t if day.date() >= LULL_T else (0.0 if lull and account == "C" else 1.0 if lull else 2.0)
            if n:
                rows.append((account, day + pd.Timedelta(hours=10), "login", f"{account}-u", n))
    accounts = pd.DataFrame([(a, a, "SMB", "Ann", pd.Timestamp("2023-01-01")) for a in "ABC"],
                            columns=["account_id", "name", "segment", "csm", "created_at"])
    subscriptions = pd.DataFrame([(a, date(2023, 1, 1), date(2025, 1, 1), 100.0, "pro") for a in "ABC"],
                                 columns=["account_id", "start_date", "end_date", "mrr", "plan"])
    events = pd.DataFrame(rows, columns=["account_id", "occurred_at", "event_type", "user_id", "quantity"])
    return {"accounts": accounts, "subscriptions": subscriptions, "usage_events": events}


def lull_features(tables, dates):
    from pipeline.engine.featurize import build_features
    from pipeline.io.sources import open_frames

    with open_frames(tables) as source:
        built = build_features(source, Config(), dates, with_labels=False)
    return built.frame.set_index(["account_id", "as_of"])


def test_usage_against_all_accounts_takes_out_a_lull_every_account_shares():
    frame = lull_features(lull_world(), [LULL_T])
    a, c = frame.loc[("A", LULL_T)], frame.loc[("C", LULL_T)]
    assert a["events_7d_vs_baseline"] < -0.4  # the holiday reads as a decline against the account's own past ...
    # ... against all accounts together (A and B halved, C stopped), A fell less than they did
    own = (7 / 7) / ((83 * 2 + 7) / 90)  # 7 events in the last 7 days; 83 days of 2 and 7 of 1 in the last 90
    shared = ((7 + 7 + 0) / 7) / ((173 + 173 + 166) / 90)  # every account's events together
    assert a["events_7d_vs_all_accounts"] == pytest.approx(own / shared - 1)
    assert a["events_7d_vs_all_accounts"] > 0 > c["events_7d_vs_all_accounts"] == pytest.approx(-1)
    assert a["events_login_7d_vs_all_accounts"] == pytest.approx(a["events_7d_vs_all_accounts"])


def test_short_window_levels_against_the_mean_account_take_out_a_shared_lull():
    """In the lull A and B had 7 events, 7 active days and 1 user in the last 7 days, C none: against the mean
    established account on that date (14/3 events) A is half above it, C all below; the raw level halved."""
    frame = lull_features(lull_world(), [LULL_T])
    a, c = frame.loc[("A", LULL_T)], frame.loc[("C", LULL_T)]
    assert a["events_7d"] == 7
    assert a["events_7d_vs_all_accounts_mean"] == pytest.approx(7 / (14 / 3) - 1)
    assert a["active_days_7d_vs_all_accounts_mean"] == pytest.approx(7 / (14 / 3) - 1)
    assert a["active_users_7d_vs_all_accounts_mean"] == pytest.approx(1 / (2 / 3) - 1)
    assert c["events_7d_vs_all_accounts_mean"] == pytest.approx(-1)
    # 30 days: A and B had 23 days of 2 events and 7 of 1 (53), C 46
    assert a["events_30d_vs_all_accounts_mean"] == pytest.approx(53 / ((53 + 53 + 46) / 3) - 1)


def test_usage_against_all_accounts_never_sees_a_later_as_of_date():
    """In one panel with a later date whose every account is ten times busier, the earlier date's values are the
    ones it has alone: the date-wide sums are per as-of date, each over data before it."""
    alone = lull_features(lull_world(), [LULL_T])
    busy = lull_world(after_t=20.0)
    panel = lull_features(busy, [LULL_T, LATER])
    columns = [c for c in panel.columns if c.endswith(("_vs_all_accounts", "_vs_all_accounts_mean"))]
    assert len([c for c in columns if c.endswith("_mean")]) == 6  # events, active days and users: 7 and 30 days
    earlier = panel.xs(LULL_T, level="as_of", drop_level=False)[columns]
    pd_testing(alone[columns], earlier)
    assert not panel.xs(LATER, level="as_of")[columns].equals(alone.droplevel("as_of")[columns])


def pd_testing(left, right):
    import pandas as pd

    pd.testing.assert_frame_equal(left.sort_index(), right.sort_index())


def test_a_calendar_adds_no_column_of_its_own(tmp_path):
    """The calendar moves the usage windows past its days; it never becomes a feature of the date itself.

    A column that is the same for every account of a date (how many of the last days were holidays) lets the
    model learn last year's seasonal churn peak, which fell on the holidays, as a holiday effect: on one world it
    lifted every account's probability by 12 % on the lull dates (benchmarks/calendar_lull.md).
    """
    from pipeline.config import load_config
    from pipeline.engine.featurize import build_features
    from pipeline.io.sources import open_source

    tiny_world.write(tmp_path)
    dates = [date(2024, 1, 3), date(2024, 3, 15), date(2024, 4, 1)]
    cfg = load_config(None, {"features.calendar.holidays": [{"first": "2024-03-28", "last": "2024-04-02"}],
                             "features.calendar.country": "US", "features.calendar.country_years": [2023, 2024]})
    days = set(cfg.features.calendar.days())
    # the ranges and the country's public holidays: New Year's Day, Christmas, Washington's Birthday
    assert {date(2024, 3, 28), date(2024, 4, 2), date(2024, 1, 1), date(2023, 12, 25), date(2024, 2, 19)} <= days
    with open_source(tmp_path) as source:
        with_calendar = build_features(source, cfg, dates, with_labels=False).frame
        without = build_features(source, load_config(None), dates, with_labels=False).frame
    assert list(with_calendar.columns) == list(without.columns)
    assert not [c for c in with_calendar if "holiday" in c]
