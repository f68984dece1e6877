"""Tests of ``pipeline/synthetic/usage.py`` (named apart from tests/features/test_usage.py: basenames must be unique)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.synthetic.accounts import make_accounts
from pipeline.synthetic.dates import Calendar, business_seconds
from pipeline.synthetic.params import HOUR_WEIGHTS, REGION_UTC_OFFSET, WorldParams
from pipeline.synthetic.usage import SCHEMA, day_factor, expected_events, usage_batch

P = WorldParams()
CAL = Calendar("2024-01-01")  # a Monday
DAYS = 60


def test_day_factor_quietens_weekends_and_the_holidays():
    factor = day_factor(P, Calendar("2023-12-18"), 16)  # Monday 2023-12-18 to Tuesday 2024-01-02
    weekend, holiday = P.weekend_factor, P.holiday_factor
    assert factor[:6].tolist() == [1.0] * 5 + [weekend]  # Mon-Fri, Sat 12-23
    assert factor[6:8].tolist() == [weekend * holiday, holiday]  # Sun 12-24 and Mon 12-25: the lull starts
    assert factor[13:].tolist() == [weekend * holiday, holiday, 1.0]  # Sun 12-31, Mon 01-01, Tue 01-02


def test_a_seasonal_world_dips_at_its_trough():
    p = WorldParams(usage_season_amplitude=0.4, usage_season_trough_doy=9)
    factor = day_factor(p, CAL, 14)
    assert factor[9] == pytest.approx(0.6)  # Wed 2024-01-10, day of year 9
    assert factor[1] == pytest.approx(1 - 0.4 * np.cos(2 * np.pi * 8 / 365.25))
    assert factor[13] == pytest.approx(factor[9] * P.weekend_factor, abs=0.01)  # Sun 01-14, near the trough


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(2)
    acc = make_accounts(rng, 20, DAYS, P, lambda r: business_seconds(rng, r, REGION_UTC_OFFSET, HOUR_WEIGHTS))
    H = np.tile(acc.mu.astype(np.float32), (DAYS, 1))
    active = np.ones((DAYS, acc.n), bool)
    active[30:, 0] = False  # the first account churns on day 30
    factor = day_factor(P, CAL, DAYS)
    table = usage_batch(np.random.default_rng(3), P, acc, acc.ids(), slice(0, acc.n), H, active, factor, CAL, 1.0)
    return acc, table, expected_events(P, acc, H, active, factor, chunk=7)


def test_events_follow_the_schema_sorted_by_account_and_time(batch):
    acc, table, _ = batch
    assert table.schema.names == SCHEMA.names and table.num_rows > 500
    frame = table.to_pandas()
    assert set(frame["account_id"]) <= set(acc.ids())
    assert frame.equals(frame.sort_values(["account_id", "occurred_at"], kind="stable"))
    first, last = np.datetime64("2024-01-01"), np.datetime64("2024-01-01") + np.timedelta64(DAYS, "D")
    assert (frame["occurred_at"] >= first).all() and (frame["occurred_at"] < last).all()
    churned = frame[frame["account_id"] == acc.ids()[0]]
    assert (churned["occurred_at"] < np.datetime64("2024-01-31")).all()


def test_user_ids_and_quantities_follow_the_event_type(batch):
    _, table, _ = batch
    frame = table.to_pandas()
    unattended = frame["event_type"] == P.unattended_event
    assert frame.loc[unattended, "user_id"].isna().all() and frame.loc[~unattended, "user_id"].notna().all()
    assert (frame.loc[~unattended, "user_id"].str.split("-u").str[0] == frame.loc[~unattended, "account_id"]).all()
    batched = frame["event_type"] == P.batched_event
    assert (frame.loc[~batched, "quantity"] == 1).all() and (frame.loc[batched, "quantity"] > 1).any()


def test_the_event_count_is_near_its_expectation(batch):
    acc, table, expected = batch
    assert abs(table.num_rows - expected) < 5 * np.sqrt(expected)  # Poisson counts
