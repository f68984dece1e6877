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
