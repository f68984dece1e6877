"""Tests of ``pipeline/steps/guess.py``: tables, columns and values guessed by name and type."""

from __future__ import annotations

from pipeline.io.inspect import WarehouseTable
from pipeline.steps.guess import fits, guess_columns, guess_tables, in_cents, nps_scale, normal, priority_map


def test_columns_are_matched_by_name_and_type_each_once():
    columns = {"OrgID": "string", "event_ts": "timestamp", "event_name": "string", "name": "string",
               "qty": "int64", "note": "string"}
    found = {g.contract: g.column for g in guess_columns("usage_events", columns)}
    assert found == {"account_id": "OrgID", "occurred_at": "event_ts", "event_type": "event_name",
                     "user_id": None, "quantity": "qty"}


def test_a_column_of_the_wrong_type_is_not_guessed():
    found = {g.contract: g for g in guess_columns("nps_responses", {"org_id": "string", "ts": "boolean",
                                                                    "score": "array<int64>"})}
    assert found["responded_at"].column is None and "ts" not in found["responded_at"].why
    assert fits("timestamp", "timestamp('UTC')") and fits("float", "decimal(12, 2)") and not fits("int", "boolean")


def test_tables_are_guessed_once_each_and_the_missing_ones_said():
    tables = [WarehouseTable("crm.organisations", {"org_id": "string", "org_name": "string", "tier": "string",
                                                   "owner": "string", "signup_ts": "timestamp"}),
              WarehouseTable("analytics.product_events", {"org_id": "string", "event_ts": "timestamp",
                                                          "event_name": "string"}),
              WarehouseTable("misc.lookup", {"code": "string"})]
    guesses = {g.contract: g for g in guess_tables(tables)}
    assert guesses["accounts"].ref == "crm.organisations"
    assert guesses["usage_events"].ref == "analytics.product_events"
    assert guesses["subscriptions"].ref is None and guesses["nps_responses"].ref is None


def test_value_guesses():
    assert priority_map(["low", "urgent"]) == {}
    assert priority_map(["P1", "P3", "Critical", "weird"]) == {"P1": "urgent", "P3": "normal", "Critical": "urgent",
                                                               "weird": None}
    assert nps_scale(0, 100) == "0-100" and nps_scale(1, 5) == "1-5" and nps_scale(0, 10) is None
    assert nps_scale(None, None) is None
    assert in_cents("MRR_Cents") and not in_cents("mrr")
    assert normal("Event TS") == "event_ts"
