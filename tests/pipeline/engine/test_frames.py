"""Tests mirroring ``pipeline/engine/frames.py``: the point-in-time frames on the tiny world, and the stretches."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

import tiny_world
from features.base import FRAMES
from pipeline.config import Config
from pipeline.engine.catalog import resolve_vocabulary, usage_lookback
from pipeline.engine.frames import Frames
from pipeline.engine.stretches import stretches
from pipeline.engine.labels import spine
from pipeline.io.sources import open_frames

CFG = Config()
EARLY, T = date(2024, 3, 15), date(2024, 4, 1)
TABLES = tiny_world.frames()


@pytest.fixture(scope="module")
def frames():
    with open_frames(TABLES) as source:
        yield Frames(source, spine(source, [EARLY, T]), [T, EARLY, T], CFG, resolve_vocabulary(source, CFG))


def rows(frames, name, account="A1"):
    out = frames.frame(name).execute()
    out["as_of"] = pd.to_datetime(out["as_of"]).dt.date
    return out[out["account_id"] == account]


@pytest.mark.parametrize("dates", [[T], [EARLY, T], [date(2023, 1, 1), T]])
def test_every_window_is_a_whole_number_of_stretches(dates):
    offsets = [7, 30, 60]
    days, spans = stretches(dates, offsets)
    assert days["day"].is_unique
    for t in dates:
        mine = spans[spans["as_of"] == t]
        for k in offsets:
            inside = set(days.loc[days["stretch"].isin(mine.loc[mine["d"] <= k, "stretch"]), "day"])
            assert inside == {t - timedelta(days=i) for i in range(1, k + 1)}, (t, k)


def test_every_frame_has_the_spine_keys(frames):
    for name in FRAMES:
        if name != "derived":
            assert {"account_id", "as_of"} <= set(frames.frame(name).columns), name


def test_usage_sums_the_events_before_each_date_inside_the_lookback(frames):
    usage, users, ev = rows(frames, "usage"), rows(frames, "users"), TABLES["usage_events"]
    for t in (EARLY, T):
        start, end = pd.Timestamp(t - timedelta(days=usage_lookback(CFG))), pd.Timestamp(t)
        seen = ev[(ev.account_id == "A1") & (ev.occurred_at >= start) & (ev.occurred_at < end)]
        assert usage.loc[usage.as_of == t, "n"].sum() == seen.quantity.fillna(1.0).sum()
        assert set(users.loc[users.as_of == t, "user_id"]) == set(seen.user_id)


def test_tickets_are_seen_once_created_and_open_until_resolved(frames):
    tickets, raw = rows(frames, "tickets"), TABLES["support_tickets"]
    for t in (EARLY, T):
        at = tickets[tickets.as_of == t].set_index("ticket_id")
        created = raw[(raw.account_id == "A1") & (raw.created_at < pd.Timestamp(t))].set_index("ticket_id")
        assert set(at.index) == set(created.index)
        still_open = created.resolved_at.isna() | (created.resolved_at >= pd.Timestamp(t))
        assert at["open"].astype(bool).to_dict() == still_open.to_dict()
        assert at.loc[at["open"].astype(bool), ["csat", "hours"]].isna().all().all()  # unknown while open
    closed = raw.set_index("ticket_id").loc["T1"]
    assert tickets.set_index(["as_of", "ticket_id"]).loc[(T, "T1"), "hours"] == (
        (closed.resolved_at - closed.created_at).total_seconds() / 3600)


def test_milestones_count_as_done_only_when_completed_before_the_date(frames):
    ms, raw = rows(frames, "milestones"), TABLES["milestones"].set_index("milestone")
    for _, row in ms.iterrows():
        completed = raw.loc[row.milestone, "completed_at"]
        assert bool(row.done) == (pd.notna(completed) and completed < pd.Timestamp(row.as_of)), row.milestone


def test_an_end_date_after_the_as_of_date_is_not_known_yet(frames):
    subs = rows(frames, "subscriptions", "A2").set_index("as_of")
    assert TABLES["subscriptions"].set_index("account_id").loc["A2", "end_date"] > T
    assert subs.loc[T, "covers_now"] and pd.isna(subs.loc[T, "term_d"])


def test_the_latest_nps_response_before_the_date_ranks_first(frames):
    nps, raw = rows(frames, "nps"), TABLES["nps_responses"]
    for t in (EARLY, T):
        before = raw[(raw.account_id == "A1") & (raw.responded_at < pd.Timestamp(t))]
        first = nps[(nps.as_of == t) & (nps.rn == 0)]
        assert first.score.tolist() == [before.sort_values("responded_at").score.iloc[-1]]
