"""Tests of ``pipeline/io/mapping_file.py``: the sources.yaml schema and the read-only select guard."""

from __future__ import annotations

import pytest

import renamed_world
from models.errors import ConfigError
from pipeline.io.mapping_file import ValueMap, load_mapping, read_only_select


def write(tmp_path, text: str):
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    return path


def test_the_renamed_world_mapping_reads(tmp_path):
    mapping = load_mapping(write(tmp_path, renamed_world.mapping()))
    assert mapping.tables["usage_events"].table == "analytics.product_events"
    assert mapping.tables["usage_events"].columns["occurred_at"] == "event_ts"
    assert mapping.tables["support_tickets"].sql.startswith("SELECT")
    assert mapping.tables["nps_responses"].values["score"].bounds() == (0.0, 100.0)


@pytest.mark.parametrize("text, key", [
    ("tables:\n  events:\n    table: x\n", "tables.events: not a contract table"),
    ("tables:\n  usage_events:\n    table: x\n    sql: select 1\n", "tables.usage_events: give exactly one of"),
    ("tables:\n  usage_events: {}\n", "tables.usage_events: give exactly one of"),
    ("tables:\n  usage_events:\n    table: x\n    timezone: Mars/Olympus\n", "tables.usage_events.timezone"),
    ("tables:\n  usage_events:\n    table: x\n    colums: {}\n", "unknown key 'tables.usage_events.colums'"),
    ("tables:\n  subscriptions:\n    table: x\n    values: {plan: {unit: cents}}\n",
     "tables.subscriptions.values.plan.unit: only subscriptions.mrr"),
    ("tables:\n  nps_responses:\n    table: x\n    values: {score: {scale: 5-1}}\n",
     "tables.nps_responses.values.score.scale"),
    ("tables:\n  accounts:\n    table: x\n    values: {created_at: {map: {a: b}}}\n",
     "tables.accounts.values.created_at.map"),
    ("tables:\n  accounts:\n    table: x\n    values: {segment: {timezone: UTC}}\n",
     "tables.accounts.values.segment.timezone"),
    ("tables:\n  accounts:\n    table: x\n    values: {region: {map: {a: b}}}\n",
     "tables.accounts.values.region: accounts has no contract column region"),
])
def test_errors_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as err:
        load_mapping(write(tmp_path, text))
    assert key in str(err.value)
    assert "sources.yaml" in str(err.value)


def test_a_missing_file_says_how_to_draft_one(tmp_path):
    with pytest.raises(ConfigError, match="churn init"):
        load_mapping(tmp_path / "nope.yaml")


@pytest.mark.parametrize("sql", [
    "select * from crm.organisations",
    "SELECT a FROM t;",
    "with x as (select 1 as a) select a from x",
    "select a from t union all select a from u",
    "select ';' as semicolon, 'drop table t' as words from t",
])
@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "spark"])
def test_one_select_is_accepted(sql, dialect):
    assert read_only_select(sql, "tables.accounts.sql", dialect).lower().startswith(("select", "with"))


@pytest.mark.parametrize("sql, why", [
    ("select 1; drop table crm.organisations", "2 statements"),
    ("select 1; select 2", "2 statements"),
    ("drop table crm.organisations", "not DROP"),
    ("insert into t select 1", "not INSERT"),
    ("update t set a = 1", "not UPDATE"),
    ("delete from t", "not DELETE"),
    ("create table t as select 1", "not CREATE"),
    ("select * into t2 from t", "contains INTO"),
    ("with gone as (delete from t returning *) select * from gone", "contains DELETE"),
    ("select (", "not a SQL statement"),
])
def test_anything_that_writes_is_refused(sql, why):
    with pytest.raises(ConfigError) as err:
        read_only_select(sql, "tables.accounts.sql", "postgres")
    assert "tables.accounts.sql" in str(err.value) and why in str(err.value)


def test_a_scale_reads_its_bounds():
    assert ValueMap(scale="1-5").bounds() == (1.0, 5.0)
    with pytest.raises(ValueError):
        ValueMap(scale="ten")


@pytest.mark.parametrize("key, meant", [("segmnet", "segment"), ("segmen", "segment"), ("Segment", "segment"),
                                        ("creatd_at", "created_at"), ("csn", "csm")])
def test_a_typo_of_a_contract_column_is_named_not_kept_as_an_extra_column(tmp_path, key, meant):
    text = f"tables:\n  accounts:\n    table: crm.orgs\n    columns: {{account_id: org_id, {key}: tier_name}}\n"
    with pytest.raises(ConfigError) as err:
        load_mapping(write(tmp_path, text))
    assert (f"tables.accounts.columns.{key}: unknown key '{key}' in mapping of table accounts; "
            f"did you mean '{meant}'?") in str(err.value)


def test_extra_attribute_columns_are_still_mapped(tmp_path):
    """Keys that are not one typo from an unmapped contract column are extra columns (account attributes)."""
    text = ("tables:\n  accounts:\n    table: crm.orgs\n    columns: {account_id: org_id, segment: tier_name, "
            "region: sales_region, seats_purchased: seats, created_by: creator, segments: tiers}\n")
    columns = load_mapping(write(tmp_path, text)).tables["accounts"].columns
    assert columns["region"] == "sales_region" and columns["created_by"] == "creator"
    assert columns["segments"] == "tiers"  # one typo from segment, but segment is mapped: a deliberate name


@pytest.mark.parametrize("values, key", [
    ("{segment: {unit: epoch_ms}}", "tables.accounts.values.segment.unit: segment is a string; epoch_ms is for"),
    ("{created_at: {unit: epoch_s, timezone: Europe/Berlin}}", "tables.accounts.values.created_at.timezone: "
                                                                 "epoch_s values count from 1970-01-01 UTC"),
    ("{created_at: {unit: cents}}", "tables.accounts.values.created_at.unit: only subscriptions.mrr"),
    ("{created_at: {unit: epoch_ns}}", "tables.accounts.values.created_at.unit"),
])
def test_epoch_units_are_for_stamps_only(tmp_path, values, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_mapping(write(tmp_path, f"tables:\n  accounts:\n    table: x\n    values: {values}\n"))


def test_epoch_units_read():
    assert ValueMap(unit="epoch_ms").unit == "epoch_ms"
