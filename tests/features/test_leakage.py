"""Point-in-time correctness: rows stamped at or after T never change features at T.

Hand-made boundary cases on the tiny world, then a property-based test that
rewrites the future of a generated world at random and rebuilds.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import tiny_world
from pipeline.engine.catalog import resolve_vocabulary
from pipeline.config import load_config
from pipeline.engine.featurize import build_features
from pipeline.io.sources import open_frames, open_source

CFG = load_config(None, {"features.attributes.categorical": ["industry"]})


def features_at(tables, when, vocab):
    with open_frames(tables) as source:
        built = build_features(source, CFG, [when], vocab=vocab, with_labels=False)
    return built.frame


def vocabulary(tables):
    with open_frames(tables) as source:
        return resolve_vocabulary(source, CFG)


def ts(day: date, seconds: int = 0) -> pd.Timestamp:
    return pd.Timestamp(day) + pd.Timedelta(seconds=seconds)


# ---------------------------------------------------------------- hand-made cases

T = date(2024, 4, 1)


def add_row(tables, table, row):
    frame = tables[table]
    tables[table] = pd.concat([frame, pd.DataFrame([row])], ignore_index=True)


def set_where(table, column, key, match, value):
    """An edit setting ``column`` to ``value`` on the rows of ``table`` whose ``key`` equals ``match``."""

    def edit(tables):
        frame = tables[table]
        frame[column] = frame[column].where(frame[key] != match, value)

    return edit


def cancel_running_subscription(tables):
    subs = tables["subscriptions"]
    running = (subs.account_id == "A1") & subs.end_date.isna()
    subs["end_date"] = subs.end_date.where(~running, T + timedelta(days=3))


FUTURE_EDITS = {
    "event exactly at T": lambda t: add_row(
        t, "usage_events",
        {"account_id": "A2", "occurred_at": ts(T), "event_type": "login", "user_id": "z", "quantity": 50.0},
    ),
    "ticket created exactly at T": lambda t: add_row(
        t, "support_tickets",
        {"ticket_id": "T9", "account_id": "A2", "created_at": ts(T), "resolved_at": pd.NaT,
         "priority": "urgent", "csat": None},
    ),
    "ticket resolved exactly at T instead of later": set_where(
        "support_tickets", "resolved_at", "ticket_id", "T2", ts(T)),
    "csat of a ticket resolved after T": set_where("support_tickets", "csat", "ticket_id", "T2", 5.0),
    "milestone completed exactly at T": set_where(
        "milestones", "completed_at", "milestone", "team_rollout", ts(T)),
    "NPS answered exactly at T": lambda t: add_row(
        t, "nps_responses", {"account_id": "A2", "responded_at": ts(T), "score": 0}
    ),
    "subscription starting the day after T": lambda t: add_row(
        t, "subscriptions",
        {"account_id": "A1", "start_date": T + timedelta(days=1), "end_date": None, "mrr": 9.0, "plan": "x"},
    ),
    "running subscription cancelled after T": cancel_running_subscription,
}


@pytest.mark.parametrize("edit", list(FUTURE_EDITS))
def test_rows_at_or_after_t_change_nothing(edit):
    tables = tiny_world.frames()
    vocab = vocabulary(tables)
    before = features_at(tables, T, vocab)
    edited = {k: v.copy() for k, v in tables.items()}
    FUTURE_EDITS[edit](edited)
    after = features_at(edited, T, vocab)
    pd.testing.assert_frame_equal(before, after)


def test_a_row_one_second_before_t_does_change_features():
    tables = tiny_world.frames()
    vocab = vocabulary(tables)
    before = features_at(tables, T, vocab)
    add_row(tables, "usage_events",
            {"account_id": "A2", "occurred_at": ts(T, -1), "event_type": "login", "user_id": "z",
             "quantity": 1.0})
    after = features_at(tables, T, vocab)
    assert after.set_index("account_id").loc["A2", "events_7d"] == 1
    assert before.set_index("account_id").loc["A2", "events_7d"] == 0


# ---------------------------------------------------------------- property-based, generated world

STAMPS = {
    "usage_events": "occurred_at",
    "support_tickets": "created_at",
    "nps_responses": "responded_at",
}


def rewrite_future(tables, when: date, draw) -> dict:
    """Randomly add, drop or move rows stamped at or after ``when`` (and future subscription changes)."""
    out = {k: v.copy() for k, v in tables.items()}
    cut = pd.Timestamp(when)
    accounts = list(out["accounts"].account_id)
    for table, col in STAMPS.items():
        frame = out[table]
        future = frame[col] >= cut
        action = draw(st.sampled_from(["drop", "shift", "copy_to_boundary", "keep"]))
        if action == "drop":
            frame = frame[~future]
        elif action == "shift":
            shifted = frame.loc[future, col] + pd.Timedelta(days=draw(st.integers(-5, 40)))
            frame.loc[future, col] = shifted.clip(lower=cut)  # never moved before the cut
        elif action == "copy_to_boundary":
            sample = frame.sample(n=min(5, len(frame)), random_state=draw(st.integers(0, 999))).copy()
            offsets = [0, 1, draw(st.integers(0, 86400 * 30))]  # exactly at the cut, just after, later
            sample[col] = [cut + pd.Timedelta(seconds=offsets[i % 3]) for i in range(len(sample))]
            sample["account_id"] = draw(st.sampled_from(accounts))
            if table == "support_tickets":
                sample["ticket_id"] = sample["ticket_id"] + "-future"
                sample["resolved_at"] = pd.NaT
            frame = pd.concat([frame, sample], ignore_index=True)
        out[table] = frame
    tickets = out["support_tickets"]
    late = tickets.resolved_at >= cut
    tickets.loc[late, "resolved_at"] = draw(st.sampled_from([pd.NaT, cut, cut + pd.Timedelta(days=400)]))
    tickets.loc[late, "csat"] = draw(st.sampled_from([None, 1.0, 5.0]))
    ms = out["milestones"]
    ms.loc[ms.completed_at >= cut, "completed_at"] = draw(st.sampled_from([pd.NaT, cut]))
    subs = out["subscriptions"]
    ends_later = subs.end_date.notna() & (pd.to_datetime(subs.end_date) > cut) | subs.end_date.isna()
    subs.loc[ends_later, "end_date"] = draw(st.sampled_from([None, when + timedelta(days=1), when + timedelta(days=200)]))
    new = subs.sample(n=3, random_state=draw(st.integers(0, 999))).copy()
    new["start_date"] = when + timedelta(days=draw(st.integers(1, 60)))
    new["end_date"], new["mrr"] = None, draw(st.floats(0, 5000))
    out["subscriptions"] = pd.concat([subs, new], ignore_index=True)
    return out


@pytest.fixture(scope="module")
def generated_tables(small_world):
    with open_source(small_world) as source:
        tables = {t: source.table(t).execute() for t in source.names}
    for frame in tables.values():
        for col in ("start_date", "end_date", "due_date"):
            if col in frame:
                frame[col] = pd.to_datetime(frame[col]).dt.date
    return tables


@settings(
    max_examples=10,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a failure prints its draws; shrinking a world is slow
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(month=st.integers(4, 11), data=st.data())
def test_future_of_a_generated_world_never_leaks(generated_tables, month, data):
    when = date(2024, 1, 1) + pd.DateOffset(months=month)
    when = when.date()
    vocab = vocabulary(generated_tables)
    before = features_at(generated_tables, when, vocab)
    assert len(before) > 20
    after = features_at(rewrite_future(generated_tables, when, data.draw), when, vocab)
    pd.testing.assert_frame_equal(before, after)


# ---------------------------------------------------------------- add-on lines

def with_addon(tables):
    """A1's base plan plus an add-on line running since well before T."""
    add_row(tables, "subscriptions", {"account_id": "A1", "start_date": T - timedelta(days=40), "end_date": None,
                                      "mrr": 30.0, "plan": "meetings"})
    return tables


def end_addon_after_t(tables):
    subs = tables["subscriptions"]
    subs["end_date"] = subs.end_date.where(subs.plan != "meetings", T + timedelta(days=3))


def switch_plan_after_t(tables):
    base = tables["subscriptions"]
    running = (base.account_id == "A1") & base.end_date.isna() & (base.plan != "meetings")
    base["end_date"] = base.end_date.where(~running, T + timedelta(days=2))
    add_row(tables, "subscriptions", {"account_id": "A1", "start_date": T + timedelta(days=2), "end_date": None,
                                      "mrr": 99.0, "plan": "enterprise"})


ADDON_EDITS = {
    "add-on removed after T": end_addon_after_t,
    "add-on added the day after T": lambda t: add_row(t, "subscriptions", {
        "account_id": "A1", "start_date": T + timedelta(days=1), "end_date": None, "mrr": 5.0, "plan": "storage"}),
    "costly add-on line beside another account's plan after T": lambda t: add_row(t, "subscriptions", {
        "account_id": "A2", "start_date": T + timedelta(days=1), "end_date": None, "mrr": 500.0, "plan": "seats"}),
    "plan switched after T": switch_plan_after_t,
}


@pytest.mark.parametrize("edit", list(ADDON_EDITS))
def test_add_on_changes_after_t_change_nothing(edit):
    tables = with_addon(tiny_world.frames())
    vocab = vocabulary(tables)
    before = features_at(tables, T, vocab)
    assert before.set_index("account_id").loc["A1", "addon_lines"] == 1
    edited = {k: v.copy() for k, v in tables.items()}
    ADDON_EDITS[edit](edited)
    pd.testing.assert_frame_equal(before, features_at(edited, T, vocab))
