"""Tests of ``pipeline/steps/guess.py``: tables, columns and values guessed by name and type."""

from __future__ import annotations

from pipeline.io.inspect import WarehouseTable
from pipeline.steps.guess import (epoch_unit, fits, guess_columns, guess_tables, in_cents, normal, nps_scale,
                                  priority_map)


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


def test_issue_21_names_are_guessed_by_their_words():
    """``begins_on``, an epoch ``event_ts``, ``actor``, ``ticket_no``, ``org_ref``, ``nps_0_100``, ``tier_name``."""
    cases = {
        "accounts": ({"org_ref": "string", "org_name": "string", "tier_name": "string", "owner": "string",
                      "created_at": "timestamp"}, {"account_id": "org_ref", "segment": "tier_name"}),
        "subscriptions": ({"org_ref": "string", "begins_on": "date", "ends_on": "date", "mrr": "float64"},
                          {"start_date": "begins_on", "end_date": "ends_on"}),
        "usage_events": ({"org_ref": "string", "event_ts": "int64", "event_name": "string", "actor": "string"},
                         {"occurred_at": "event_ts", "event_type": "event_name", "user_id": "actor"}),
        "support_tickets": ({"ticket_no": "int64", "org_ref": "string", "opened_at": "timestamp"},
                            {"ticket_id": "ticket_no"}),
        "nps_responses": ({"org_ref": "string", "answered_at": "timestamp", "nps_0_100": "int64"},
                          {"score": "nps_0_100"}),
    }
    for contract, (columns, expected) in cases.items():
        found = {g.contract: g.column for g in guess_columns(contract, columns)}
        assert {k: found[k] for k in expected} == expected, contract


def test_camel_case_and_abbreviated_names_are_split_into_words():
    found = {g.contract: g.column for g in guess_columns("subscriptions", {
        "AccountId": "string", "ContractStartDate": "date", "ContractEndDate": "date", "MonthlyValue": "float64",
        "ProductName": "string"})}
    assert found == {"account_id": "AccountId", "start_date": "ContractStartDate", "end_date": "ContractEndDate",
                     "mrr": "MonthlyValue", "plan": "ProductName", "renewal_date": None,
                     "billing_period_months": None}
    found = {g.contract: g.column for g in guess_columns("support_tickets", {
        "TKT_KEY": "int64", "CUST_KEY": "string", "TKT_OPEN_DTTM": "timestamp", "TKT_CLOSE_DTTM": "timestamp",
        "TKT_PRIORITY_CD": "string", "CSAT_SCORE": "float64"})}
    assert found == {"ticket_id": "TKT_KEY", "account_id": "CUST_KEY", "created_at": "TKT_OPEN_DTTM",
                     "resolved_at": "TKT_CLOSE_DTTM", "priority": "TKT_PRIORITY_CD", "csat": "CSAT_SCORE"}
    assert normal("ContractStartDate") == "contract_start_date" and normal("OrgID") == "org_id"


def test_exact_names_are_matched_before_words_take_what_is_left():
    """``event_name`` is the exact name of event_type: the word 'event' does not hand it to occurred_at."""
    found = {g.contract: g.column for g in guess_columns("usage_events", {
        "account_id": "string", "event_name": "string", "EventTimestamp": "timestamp"})}
    assert found["event_type"] == "event_name" and found["occurred_at"] == "EventTimestamp"


def test_value_ranges_say_the_epoch_unit_and_the_nps_scale():
    assert epoch_unit(1.6e9, 1.8e9) == "epoch_s" and epoch_unit(1.6e12, 1.8e12) == "epoch_ms"
    assert epoch_unit(1.6e15, 1.8e15) == "epoch_us" and epoch_unit(0, 1.8e12) is None
    assert epoch_unit(None, None) is None
    assert nps_scale(0, 90, "nps_0_100") == "0-100" and nps_scale(2, 9, "nps_1_10") == "1-10"
    assert nps_scale(0, 10, "nps_0_10") is None and nps_scale(0, 100, "nps_0_10") == "0-100"  # values over name
    assert fits("timestamp", "int64") and fits("date", "float64") and not fits("timestamp", "boolean")


def test_the_one_free_column_of_a_stamp_or_number_type_is_guessed_by_type():
    found = {g.contract: g for g in guess_columns("nps_responses", {"tenant": "string", "received": "timestamp",
                                                                    "likely_to_recommend": "int64"})}
    assert found["responded_at"].column == "received" and "the only unmatched column" in found["responded_at"].why
    two = {g.contract: g.column for g in guess_columns("support_tickets", {
        "ticket_id": "string", "account_id": "string", "t1": "timestamp", "t2": "timestamp",
        "priority": "string"})}
    assert two["created_at"] is None and two["resolved_at"] is None  # two timestamps: no guess by type


def test_a_billing_period_in_months_is_guessed_from_billing_exports():
    for name in ("bill_period_months", "BillingPeriod", "plan_interval_months"):
        found = {g.contract: g.column for g in guess_columns("subscriptions", {
            "account_id": "string", "start_date": "date", "end_date": "date", "mrr": "float64", "plan": "string",
            name: "int64"})}
        assert found["billing_period_months"] == name, name
