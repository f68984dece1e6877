"""Tests mirroring ``pipeline/contract/checks.py``: each rule on a tiny bad frame flags exactly the bad rows.

``test_validate.py`` and ``test_bad_inputs.py`` run the corpus of ``broken.py`` through the
commands; here the parser and the rule builders are called directly on in-memory DuckDB.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipeline.contract.checks import (
    SEVERITY, Parsed, Parser, column_rules, foreign_key_rule, no_subscription_rule, overlap_rule, set_rules,
    unique_rule, value_rules,
)
from pipeline.contract.tables import TABLES
from pipeline.io.sources import open_frames

NOW = dt.datetime(2024, 6, 1, 12)
ACCOUNTS = pd.DataFrame({"account_id": ["a", "b", "c", "c"], "name": ["A", "B", None, "C"], "segment": "SMB",
                         "csm": pd.array([None] * 4, dtype="string"), "created_at": ["2024-01-01", "2024-01-02", "2024-07-01", "soon"]})
SUBS = pd.DataFrame({  # a: a long row, one inside it, one after it; b: contiguous rows; ghost: no account
    "account_id": ["a", "a", "a", "b", "b", "ghost"],
    "start_date": ["2024-01-01", "2024-02-01", "2024-04-01", "2024-01-01", "2024-02-01", "2024-01-01"],
    "end_date": ["2024-12-31", "2024-03-01", None, "2024-02-01", None, "2023-01-01"],
    "mrr": ["10", "-5", "x", "1", "2", "3"], "plan": "basic"})
NPS = pd.DataFrame({"account_id": "a", "responded_at": "2024-01-01", "score": ["10", "0", "7.5", "11", "-1", "NaN", "1e30"]})


@pytest.fixture(scope="module")
def parsed():
    with open_frames({"accounts": ACCOUNTS, "subscriptions": SUBS, "nps_responses": NPS}) as source:
        parser = Parser(source)
        out = {}
        for name in source.names:
            raw = source.raw(name)
            out[name] = Parsed(raw, {c.name: parser.parse(raw[c.name], c.kind)
                                     for c in TABLES[name].columns if c.name in raw.columns})
        yield out


def flagged(rules, check, column="account_id") -> list:
    [rule] = [r for r in rules if r.check == check]
    return rule.rows.execute()[column].tolist()


def test_column_rules_flag_unparsable_and_null_values(parsed):
    rules = list(column_rules(TABLES["accounts"], parsed["accounts"].raw, parsed["accounts"], {}))
    assert flagged(rules, "bad_type", "created_at") == ["soon"]
    assert flagged([r for r in rules if r.column == "name"], "not_null") == ["c"]
    assert sorted(flagged([r for r in rules if r.column == "csm"], "all_null_nullable")) == ["a", "b", "c", "c"]


def test_a_mistyped_column_flags_every_stored_value(parsed):
    rules = column_rules(TABLES["subscriptions"], parsed["subscriptions"].raw, parsed["subscriptions"], {"mrr": "boolean"})
    [rule] = [r for r in rules if r.column == "mrr" and r.check == "bad_type"]
    assert "stored as boolean" in rule.message
    assert rule.rows.count().execute() == len(SUBS)


def test_value_rules_flag_the_exact_rows(parsed):
    subs = list(value_rules(TABLES["subscriptions"], parsed["subscriptions"], NOW))
    assert flagged(subs, "negative_value", "mrr") == ["-5"]
    assert flagged(subs, "end_before_start") == ["ghost"]
    assert flagged(subs, "future_timestamp") == []
    assert not [r for r in subs if r.check == "renewal_before_start"]  # optional column absent: no rule
    accounts = list(value_rules(TABLES["accounts"], parsed["accounts"], NOW))
    assert flagged(accounts, "future_timestamp", "created_at") == ["2024-07-01"]
    nps = list(value_rules(TABLES["nps_responses"], parsed["nps_responses"], NOW))
    assert flagged(nps, "nps_score", "score") == ["7.5", "11", "-1", "NaN", "1e30"]  # and 1e30 does not overflow


def test_keys_and_foreign_keys(parsed):
    [dup] = unique_rule(TABLES["accounts"], parsed["accounts"])
    assert dup.rows.execute()["account_id"].tolist() == ["c", "c"]
    [orphan] = foreign_key_rule(TABLES["subscriptions"], parsed["subscriptions"], parsed["accounts"])
    assert orphan.rows.execute()["account_id"].tolist() == ["ghost"]
    [lonely] = no_subscription_rule(parsed["accounts"], parsed["subscriptions"])
    assert lonely.rows.execute()["account_id"].tolist() == ["c", "c"]
    assert list(foreign_key_rule(TABLES["subscriptions"], parsed["subscriptions"], None)) == []


def test_overlaps_are_checked_against_every_earlier_row_and_contiguous_rows_are_fine(parsed):
    [rule] = overlap_rule(parsed["subscriptions"])
    rows = rule.rows.execute()
    assert sorted(zip(rows.account_id, rows.start_date)) == [("a", "2024-02-01"), ("a", "2024-04-01")]


def test_every_rule_reports_a_listed_check(parsed):
    found = list(set_rules(parsed))
    for name, table in parsed.items():
        found += [*column_rules(TABLES[name], table.raw, table, {}), *value_rules(TABLES[name], table, NOW)]
    assert {r.check for r in found} <= set(SEVERITY)
    assert all(r.table in TABLES and (r.column is None or r.column in TABLES[r.table].column_names) for r in found)


@pytest.mark.parametrize("values, kind, parses", [
    (pd.Series([True, False]), "float", False), (pd.Series([1.5, 2.0]), "timestamp", False),
    (pd.Series([1, 2]), "int", True), (pd.Series(["2024-01-01"]), "date", True),
    (pd.Series(pd.to_datetime(["2024-01-01 10:00"])), "date", True),
])
def test_the_parser_refuses_only_incompatible_stored_types(values, kind, parses):
    with open_frames({"accounts": pd.DataFrame({"v": values})}) as source:
        assert (Parser(source).parse(source.raw("accounts")["v"], kind) is not None) == parses


def test_amounts_no_real_export_holds_are_refused_before_they_reach_a_ratio():
    """A subnormal MRR (2.2e-313, found by the loader fuzz test) would make revenue ratios infinite."""
    subs = SUBS.iloc[:5].assign(mrr=["2.2e-313", "0", "0.5", "1e16", "-1e-12"])
    events = pd.DataFrame({"account_id": "a", "occurred_at": "2024-01-01 10:00:00", "event_type": "login",
                           "user_id": "u", "quantity": ["1e-300", "3", None]})
    with open_frames({"subscriptions": subs, "usage_events": events}) as source:
        parser = Parser(source)
        found = {}
        for name in source.names:
            raw = source.raw(name)
            p = Parsed(raw, {c.name: parser.parse(raw[c.name], c.kind) for c in TABLES[name].columns if c.name in raw})
            found[name] = list(value_rules(TABLES[name], p, NOW))
        assert flagged(found["subscriptions"], "amount_range", "mrr") == ["2.2e-313", "1e16", "-1e-12"]
        assert flagged(found["usage_events"], "amount_range", "quantity") == ["1e-300"]
        assert SEVERITY["amount_range"] == "error"
