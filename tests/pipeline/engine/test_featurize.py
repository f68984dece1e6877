"""Tests mirroring ``pipeline/engine/featurize.py``: the shape, types and assembly of the feature table."""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import pandas as pd
import pytest

import tiny_world
from pipeline.config import Config
from pipeline.engine.catalog import Vocabulary
from pipeline.engine.featurize import KEYS, LABEL_COLUMNS, attach, build_features, feature_query, tidy
from pipeline.engine.labels import spine
from pipeline.io.sources import open_frames

CFG = Config()
DATES = [date(2024, 2, 15), date(2024, 4, 1)]


def active(day: date) -> set[str]:
    """Accounts a subscription row covers on ``day`` (start <= day < end), straight from the tiny world."""
    out = set()
    for account, start, end, *_ in tiny_world.SUBSCRIPTIONS:
        if date.fromisoformat(start) <= day and (end is None or day < date.fromisoformat(end)):
            out.add(account)
    return out


@pytest.fixture(scope="module")
def table():
    with open_frames(tiny_world.frames()) as source:
        return build_features(source, CFG, DATES)


def test_one_row_per_active_account_and_date_with_the_catalogs_columns(table):
    frame = table.frame
    labels = len(LABEL_COLUMNS)
    assert list(frame.columns[:-labels]) == KEYS + table.feature_names and set(frame.columns[-labels:]) == set(LABEL_COLUMNS)
    got = {(a, d) for a, d in zip(frame.account_id, frame.as_of)}
    assert got == {(a, d) for d in DATES for a in active(d)} and len(got) == len(frame)
    assert list(frame[KEYS].itertuples(index=False)) == sorted(frame[KEYS].itertuples(index=False))
    last_event = max(pd.Timestamp(e[1]) for e in tiny_world.EVENTS)
    assert table.data_end == last_event.date() + timedelta(days=1)


def test_numeric_features_are_floats_and_categorical_ones_strings(table):
    for f in table.features:
        want = "string" if f.kind == "categorical" else "float64"
        assert str(table.frame[f.name].dtype) == want, f.name
    assert table.categorical and set(table.categorical) < set(table.feature_names)
    assert table.frame["churned"].dtype == "int64" and table.frame["label_observed"].dtype == bool


def test_a_given_vocabulary_fixes_the_columns_whatever_the_data_holds():
    vocab = Vocabulary.of(["login", "never_seen"], [])
    with open_frames(tiny_world.frames()) as source:
        built = build_features(source, CFG, DATES[-1:], vocab=vocab, with_labels=False)
    assert not set(LABEL_COLUMNS) & set(built.frame.columns)
    windows = CFG.features.usage.windows
    assert {f"events_{e}_{w}d" for e in ("login", "never_seen") for w in windows} <= set(built.feature_names)
    assert not [n for n in built.feature_names if "report_view" in n or "export" in n]  # in the data, not the vocabulary
    assert (built.frame["events_never_seen_90d"] == 0).all()
    assert not any(n.startswith("milestone_") and n.endswith("_days_late") for n in built.feature_names)


def test_a_subset_of_features_gives_the_same_values(table):
    subset = [f for f in table.features if f.definition.frame in ("tickets", "accounts")]
    with open_frames(tiny_world.frames()) as source:
        query = feature_query(source, spine(source, DATES), DATES, CFG, table.vocabulary, subset)
        alone = tidy(query.execute(), subset)
    assert list(alone.columns) == KEYS + [f.name for f in subset]
    pd.testing.assert_frame_equal(alone, table.frame[alone.columns])


def test_attach_left_joins_on_the_keys_keeping_one_copy():
    left = ibis.memtable({"account_id": ["a", "b"], "as_of": [date(2024, 1, 1)] * 2, "x": [1, 2]})
    right = ibis.memtable({"account_id": ["b", "c"], "as_of": [date(2024, 1, 1)] * 2, "y": [20.0, 30.0]})
    out = attach(left, right).execute().sort_values("account_id")
    assert list(out.columns) == ["account_id", "as_of", "x", "y"]
    assert out["account_id"].tolist() == ["a", "b"] and pd.isna(out["y"].iloc[0]) and out["y"].iloc[1] == 20.0


def test_attach_joins_several_tables_in_one_chain_as_one_at_a_time():
    left = ibis.memtable({"account_id": ["a", "b"], "as_of": [date(2024, 1, 1)] * 2, "x": [1, 2]})
    right = ibis.memtable({"account_id": ["b", "c"], "as_of": [date(2024, 1, 1)] * 2, "y": [20.0, 30.0]})
    third = ibis.memtable({"account_id": ["a", "b"], "as_of": [date(2024, 1, 1), date(2024, 2, 1)], "z": ["p", "q"]})
    chained = attach(left, right, third).execute().sort_values("account_id").reset_index(drop=True)
    stepwise = attach(attach(left, right), third).execute().sort_values("account_id").reset_index(drop=True)
    assert list(chained.columns) == ["account_id", "as_of", "x", "y", "z"]
    pd.testing.assert_frame_equal(chained, stepwise)
    assert chained["z"].tolist() == ["p", None]  # b's row is of another date


def test_tidy_sorts_rows_and_coerces_types(table):
    mrr, plan = (next(f for f in table.features if f.name == n) for n in ("mrr", "plan"))
    raw = pd.DataFrame({"account_id": [2, 1], "as_of": pd.to_datetime(["2024-02-01", "2024-01-01"]),
                        "mrr": ["12.5", "not a number"], "plan": ["pro", None]})
    out = tidy(raw, [mrr, plan])
    assert out["account_id"].tolist() == ["1", "2"] and out["as_of"].tolist() == [date(2024, 1, 1), date(2024, 2, 1)]
    assert out["mrr"].dtype == "float64" and pd.isna(out["mrr"][0]) and out["mrr"][1] == 12.5
    assert str(out["plan"].dtype) == "string" and pd.isna(out["plan"][0])

