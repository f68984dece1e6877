"""Tests of ``pipeline/io/score_tables.py``: the declared columns of ``churn_scores`` and ``score_runs``."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.io.score_tables import KEYS, RUN_COLUMNS, SCORE_COLUMNS, TYPES, schema_markdown
from scoring_fixtures import ROW_COLUMNS

TABLES = {"scores": SCORE_COLUMNS, "runs": RUN_COLUMNS}


@pytest.mark.parametrize("kind", TABLES)
def test_names_are_unique_keys_are_required_and_every_column_is_explained(kind):
    columns = TABLES[kind]
    names = [c.name for c in columns]
    assert len(set(names)) == len(names)
    key = [k.strip() for k in KEYS[kind].split(",")]
    assert all(next(c for c in columns if c.name == k).required for k in key)
    assert all(c.type in TYPES["duckdb"] and c.type in TYPES["postgres"] and c.meaning for c in columns)


def test_score_columns_are_what_a_run_compares_plus_the_run_and_its_time():
    assert {c.name for c in SCORE_COLUMNS} == {*ROW_COLUMNS, "run_id", "scored_at"}
    assert set(TYPES["duckdb"]) == set(TYPES["postgres"])


@pytest.mark.parametrize("kind", TABLES)
def test_the_declared_duckdb_types_make_a_table_that_takes_a_row_and_enforces_not_null(kind):
    columns = TABLES[kind]
    con = duckdb.connect()
    cols = ", ".join(f"{c.name} {TYPES['duckdb'][c.type]}{' NOT NULL' if c.required else ''}" for c in columns)
    con.execute(f"CREATE TABLE t ({cols}, PRIMARY KEY ({KEYS[kind]}))")
    sample = {"text": "x", "date": "2024-04-01", "double": 0.5, "integer": 3, "json": '{"risk": []}',
              "timestamp": "2024-04-01 03:00:00"}
    con.execute(f"INSERT INTO t VALUES ({', '.join('?' * len(columns))})", [sample[c.type] for c in columns])
    described = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE t)").fetchall())
    assert described == {c.name: TYPES["duckdb"][c.type] for c in columns}
    nulls = [None if c.required else sample[c.type] for c in columns]
    with pytest.raises(duckdb.ConstraintException):
        con.execute(f"INSERT INTO t VALUES ({', '.join('?' * len(columns))})", nulls)


def test_markdown_has_one_row_per_column_marking_the_nullable_ones():
    text = schema_markdown()
    assert text.startswith("`churn_scores`\n") and text.count("\n`score_runs`\n") == 1
    for part, columns in zip(text.split("\n`score_runs`\n"), TABLES.values()):
        rows = [line for line in part.splitlines() if line.startswith("| `")]
        assert len(rows) == len(columns)
        for row, c in zip(rows, columns):
            null = "" if c.required else ", null"
            assert row == f"| `{c.name}` | {TYPES['duckdb'][c.type]}{null} | {TYPES['postgres'][c.type]}{null} | {c.meaning} |"
