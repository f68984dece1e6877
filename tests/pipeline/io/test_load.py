"""``churn load``: a world copied into DuckDB or PostgreSQL validates exactly like the folder."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.errors import SourceError
from pipeline.io.load import load_tables
from pipeline.io.sources import open_source
from pipeline.contract.validate import Report, validate
from broken import duplicating, read_table, setting, write_table

NOW = dt.datetime(2026, 1, 1)
TARGETS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]

#: Problems planted in the broken copy: (table, edit).
BREAKAGES = [
    ("subscriptions", setting("mrr", "abc")),
    ("subscriptions", setting("end_date", "2000-01-01", row=2)),
    ("accounts", setting("created_at", "2099-01-01T00:00:00+05:00")),
    ("support_tickets", setting("ticket_id", "T_DUP", row=0)),
    ("support_tickets", setting("ticket_id", "T_DUP", row=1)),
    ("support_tickets", setting("csat", "7", row=2)),
    ("usage_events", setting("account_id", "ghost")),
    ("usage_events", setting("quantity", "lots", row=1)),
    ("nps_responses", setting("score", "7.5")),
    ("milestones", duplicating()),
]


@pytest.fixture
def target(request, tmp_path):
    """Where to load: a new DuckDB file or a fresh PostgreSQL database (conftest's pg_database)."""
    if request.param == "postgres":
        return request.getfixturevalue("pg_database")
    return str(tmp_path / "warehouse" / "churn.duckdb")


@pytest.fixture(scope="module")
def world_report(small_world):
    """The report of the generated world as a folder, computed once."""
    return report_of(small_world)


def report_of(spec) -> Report:
    with open_source(spec) as source:
        return validate(source, now=NOW)


def load(data, to) -> dict[str, int]:
    with open_source(data) as source:
        return load_tables(source, to)


def row_counts(spec) -> dict[str, int]:
    with open_source(spec) as source:
        return {t: int(source.raw(t).count().execute()) for t in source.names}


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_generated_world_validates_alike(small_world, world_report, target):
    result = CliRunner().invoke(app, ["load", "--data", str(small_world), "--to", target])
    assert result.exit_code == 0, result.output
    assert "usage_events: " in result.output
    assert world_report.ok, world_report.render()
    assert report_of(target) == world_report


@pytest.mark.postgres
def test_postgres_tables_are_analysed_as_they_are_loaded(small_world, pg_database):
    """The planner knows each loaded table's rows at once (this server's autovacuum may be off, as here, or late)."""
    counts = load(small_world, pg_database)
    with psycopg.connect(pg_database) as con:
        stats = dict(con.execute("SELECT c.relname, c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = "
                                 "c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'").fetchall())
        analysed = {name for (name,) in con.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL")}
    assert set(counts) <= analysed
    for name, rows in counts.items():  # reltuples is -1 before the first analysis, a sample's estimate after
        assert stats[name] == pytest.approx(rows, rel=0.05), name


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_broken_world_fails_alike(world_copy, target):
    for table, edit in BREAKAGES:
        write_table(world_copy, table, edit(read_table(world_copy, table)))
    folder = report_of(world_copy)
    load(world_copy, target)
    assert report_of(target) == folder
    found = {(p.table, p.column, p.check) for p in folder.problems}
    assert {
        ("subscriptions", "mrr", "bad_type"),
        ("subscriptions", "end_date", "end_before_start"),
        ("accounts", "created_at", "future_timestamp"),
        ("support_tickets", "ticket_id", "unique_key"),
        ("support_tickets", "csat", "csat_range"),
        ("usage_events", "account_id", "foreign_key"),
        ("usage_events", "quantity", "bad_type"),
        ("nps_responses", "score", "nps_score"),
        ("milestones", "milestone", "unique_key"),
    } <= found


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_loading_twice_replaces(small_world, world_report, target):
    first = load(small_world, target)
    assert load(small_world, target) == first
    assert row_counts(target) == first == world_report.row_counts


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_failed_load_leaves_target_unchanged(world_copy, target):
    before = load(world_copy, target)
    _replace_with_view(target, "nps_responses")  # the next load cannot replace it
    write_table(world_copy, "accounts", read_table(world_copy, "accounts").iloc[:10])
    with pytest.raises(SourceError, match="nothing was changed"):
        load(world_copy, target)
    after = row_counts(target)
    assert after["accounts"] == before["accounts"] and "nps_responses" in after


def _replace_with_view(target: str, table: str) -> None:
    sql = [f"DROP TABLE {table}", f"CREATE VIEW {table} AS SELECT 'x' AS account_id"]
    if target.startswith("postgresql"):
        with psycopg.connect(target, autocommit=True) as con:
            for statement in sql:
                con.execute(statement)
        return
    import duckdb

    with duckdb.connect(target) as con:
        for statement in sql:
            con.execute(statement)


def test_a_new_duckdb_file_is_made_in_the_warehouse_format(small_world, tmp_path):
    """``churn load`` makes its DuckDB file in the format the score tables' documents are ZSTD-compressed in, so the
    demo's one file (data and scores) gets them too; loading again into a file of DuckDB's default format keeps it."""
    import duckdb

    from pipeline.io.sql_backends import DUCKDB_STORAGE_VERSION

    def version(path) -> str:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute("SELECT tags['storage_version'] FROM duckdb_databases() "
                               "WHERE database_name = current_database()").fetchone()[0]

    made, older = tmp_path / "made.duckdb", tmp_path / "older.duckdb"
    load(small_world, str(made))
    duckdb.connect(str(older)).close()
    load(small_world, str(older))
    assert version(made).startswith(DUCKDB_STORAGE_VERSION) and not version(older).startswith(DUCKDB_STORAGE_VERSION)
    assert row_counts(str(made)) == row_counts(str(older))
