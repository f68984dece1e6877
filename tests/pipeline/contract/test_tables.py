"""Tests of ``pipeline/contract/tables.py``: the contract as data agrees with itself and with its documentation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tiny_world
from pipeline.contract.tables import KINDS, TABLES, TICKET_PRIORITIES
from pipeline.synthetic.params import OPTIONAL_TABLES, PRIORITIES

DOC = Path(__file__).resolve().parents[3] / "docs" / "data-contract.md"
#: The first word of a type in the documentation -> the contract's kind.
DOC_KINDS = {"string": "string", "timestamp": "timestamp", "date": "date", "float": "float", "int": "int"}


def documented() -> dict[str, tuple[bool, dict[str, str]]]:
    """``table -> (required, {column: documented type})`` from docs/data-contract.md."""
    out, current = {}, None
    for line in DOC.read_text().splitlines():
        if heading := re.match(r"## (\w+) \((required|optional)\)", line):
            current = heading.group(1)
            out[current] = (heading.group(2) == "required", {})
        elif current and (row := re.match(r"\| (\w+) \| ([^|]+) \|", line)) and row.group(1) != "column":
            out[current][1][row.group(1)] = row.group(2).strip()
        elif line.startswith("## "):
            current = None
    return out


def test_three_required_three_optional_feature_tables_and_cs_activities():
    assert [n for n, t in TABLES.items() if t.required] == ["accounts", "subscriptions", "usage_events"]
    assert tuple(n for n, t in TABLES.items() if not t.required) == (*OPTIONAL_TABLES, "cs_activities")


@pytest.mark.parametrize("name", TABLES)
def test_keys_stamps_and_foreign_keys_name_columns_of_the_table(name):
    table = TABLES[name]
    names = table.column_names
    assert len(set(names)) == len(names) and table.name == name
    assert set(table.key) <= set(names) and set(table.stamps) <= set(names)
    assert all(table.column(s).kind in ("timestamp", "date") for s in table.stamps)
    assert all(not table.column(k).nullable for k in table.key)
    assert table.references_accounts == (name != "accounts") and "account_id" in names
    assert all(c.kind in KINDS for c in table.columns)


def test_only_renewal_date_and_billing_period_are_optional_columns_and_nullable():
    optional = [(t.name, c.name) for t in TABLES.values() for c in t.columns if c.optional]
    assert optional == [("subscriptions", "renewal_date"), ("subscriptions", "billing_period_months")]
    assert all(TABLES["subscriptions"].column(c).nullable for _, c in optional)


@pytest.mark.parametrize("name", TABLES)
def test_every_column_is_documented_with_its_type(name):
    required, columns = documented()[name]
    table = TABLES[name]
    assert required == table.required
    assert list(columns) == list(table.column_names)
    for column in table.columns:
        text = columns[column.name]
        assert DOC_KINDS[text.split()[0].rstrip(",")] == column.kind, (column.name, text)
        assert ("nullable" in text) == column.nullable, (column.name, text)
        assert ("optional column" in text) == column.optional, (column.name, text)


def test_the_tiny_world_has_every_required_column_and_the_generator_every_priority():
    for name, table in TABLES.items():
        assert {c.name for c in table.columns if not c.optional} <= set(tiny_world.COLUMNS[name]), name
    assert TICKET_PRIORITIES == PRIORITIES


def test_an_unknown_column_is_a_key_error_naming_the_table():
    with pytest.raises(KeyError, match="subscriptions has no contract column 'nope'"):
        TABLES["subscriptions"].column("nope")
