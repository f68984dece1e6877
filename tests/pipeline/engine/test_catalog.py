"""Tests mirroring ``pipeline/engine/catalog.py``: which feature columns a config, a vocabulary and the data give."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta

import pandas as pd
import pytest

import tiny_world
from models.errors import ConfigError
from features.settings import SQL_NAME
from pipeline.config import Config
from pipeline.contract.tables import TABLES
from pipeline.engine.catalog import Vocabulary, catalog, column_name, resolve_vocabulary, usage_lookback
from pipeline.engine.labels import data_end, data_start
from pipeline.io.sources import open_frames

ALL = set(TABLES)
REQUIRED = {name for name, t in TABLES.items() if t.required}
CFG = Config.model_validate({"features": {"usage": {"windows": [3, 14], "trend_days": 50, "slope_weeks": 3},
                                          "tickets": {"windows": [10]}}})


def names(cfg=CFG, vocab=Vocabulary(), tables=ALL, columns=None) -> list[str]:
    return [f.name for f in catalog(cfg, vocab, tables, columns)]


@pytest.mark.parametrize("value", ["Report View!", "export", "  ", "!!", "Log-In 2", "ÜBER"])
def test_data_values_become_plain_lower_case_column_fragments(value):
    assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", column_name(value))


def test_vocabulary_columns_are_distinct_and_survive_a_round_trip():
    values = ["Log In", "log_in", "log-in", "", "!!"]  # all one name, or none, once made SQL-safe
    vocab = Vocabulary.of(values, ["Kick off", "kick-off"])
    assert set(vocab.event_types) == set(values)
    assert len(set(vocab.event_types.values())) == len(values)
    assert len(set(vocab.milestones.values())) == 2
    assert Vocabulary.from_dict(vocab.to_dict()) == vocab


def test_windows_event_types_and_milestones_give_exactly_their_columns():
    vocab = Vocabulary.of(["login", "export"], ["kickoff"])
    features = catalog(CFG, vocab, ALL)
    built = [f.name for f in features]
    assert len(built) == len(set(built)) and built == names(vocab=vocab)  # unique, stable order
    assert all(SQL_NAME.match(f.name) and f.description and "{" not in f.description for f in features)
    windows, ticket_windows = CFG.features.usage.windows, CFG.features.tickets.windows
    assert sorted(n for n in built if re.fullmatch(r"events_\d+d", n)) == sorted(f"events_{w}d" for w in windows)
    assert sorted(n for n in built if n.startswith("tickets_")) == sorted(f"tickets_{w}d" for w in ticket_windows)
    for event in vocab.event_types.values():
        assert {f"events_{event}_{w}d" for w in windows} <= set(built)
    assert [n for n in built if n.startswith("milestone_")] == ["milestone_kickoff_days_late"]


def test_without_the_optional_tables_only_their_features_go():
    dropped = [f for f in catalog(CFG, Vocabulary.of(["login"], ["kickoff"]), ALL)
               if f.name not in names(vocab=Vocabulary.of(["login"], ["kickoff"]), tables=REQUIRED)]
    assert dropped and all(set(f.definition.requires) - REQUIRED for f in dropped)
    assert {f.family for f in dropped} == {"tickets", "milestones", "nps"}


def test_configured_attributes_missing_from_accounts_are_dropped_with_a_warning(caplog):
    cfg = Config.model_validate({"features": {"attributes": {"categorical": ["industry", "region"],
                                                             "numeric": ["seats"]}}})
    assert {"attr_industry", "attr_region", "attr_seats"} <= set(names(cfg))  # columns unknown: all kept
    kept = names(cfg, columns=set(tiny_world.COLUMNS["accounts"]))
    assert {"attr_industry", "attr_seats"} <= set(kept) and "attr_region" not in kept
    assert "region" in caplog.text and "industry" not in caplog.text


def test_colliding_column_names_are_refused_by_name():
    # an event type spelled like another template's fragment: events_{event}_{w}d vs events_per_user_{w}d
    with pytest.raises(ConfigError, match="events_per_user_3d.*features.usage.event_types"):
        names(vocab=Vocabulary.of(["Per User"], []))


def test_usage_lookback_is_the_longest_window_any_usage_feature_reads():
    usage = CFG.features.usage
    assert usage_lookback(CFG) == max(*usage.windows, 2 * usage.trend_days, 7 * usage.slope_weeks)


def test_vocabulary_from_the_data_counts_the_events_before_the_cut():
    cfg = Config.model_validate({"features": {"usage": {"max_event_types": 2}}})
    cut = date(2024, 3, 1)
    counts = Counter(e[2] for e in tiny_world.EVENTS)
    with open_frames(tiny_world.frames()) as source:
        before = resolve_vocabulary(source, Config(), before=cut)
        top = resolve_vocabulary(source, cfg)
    assert set(before.event_types) == {e[2] for e in tiny_world.EVENTS if e[1] < str(cut)} != set(counts)
    assert list(top.event_types) == sorted(sorted(counts, key=lambda t: (-counts[t], t))[:2])
    assert sorted(top.milestones) == sorted({m[1] for m in tiny_world.MILESTONES})


def test_one_pass_over_the_events_gives_their_span_and_the_vocabulary_at_the_data_end():
    frames = tiny_world.frames()
    events = frames["usage_events"]
    undated = events.iloc[:1].assign(event_type="undated", occurred_at=None)  # counted nowhere
    frames["usage_events"] = pd.concat([events, undated], ignore_index=True)
    with open_frames(frames) as source:
        summary = source.event_summary()
        end = data_end(source)
        assert source.event_summary() is summary  # read once per open source
        assert (data_start(source), end) == (pd.Timestamp(events["occurred_at"].min()).date(),
                                             pd.Timestamp(events["occurred_at"].max()).date() + timedelta(days=1))
        at_end = resolve_vocabulary(source, Config(), before=end)
        assert at_end == resolve_vocabulary(source, Config())
    assert "undated" not in at_end.event_types.values()
    assert set(at_end.event_types.values()) == {column_name(t) for t in events["event_type"]}


def test_listed_event_types_and_milestones_win_over_the_data():
    listed = Config.model_validate({"features": {"usage": {"event_types": ["never_seen"]},
                                                 "milestones": {"milestones": ["kickoff"]}}})
    frames = {t: f for t, f in tiny_world.frames().items() if t != "milestones"}
    with open_frames(frames) as source:
        vocab = resolve_vocabulary(source, listed)
    assert (list(vocab.event_types), vocab.milestones) == (["never_seen"], {})  # config wins; no table, no names
