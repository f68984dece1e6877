"""Tests mirroring ``pipeline/io/sources.py``: folders, DuckDB files and frames open as the same typed tables."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

import tiny_world
from pipeline.contract.tables import TABLES
from pipeline.errors import SourceError
from pipeline.io.sources import open_frames, open_source

REQUIRED = [name for name, t in TABLES.items() if t.required]


def typed(source, table: str) -> pd.DataFrame:
    frame = source.table(table).execute()
    return frame.sort_values(list(frame.columns[:2])).reset_index(drop=True)


def duckdb_file(path, tables: dict[str, pd.DataFrame]):
    con = duckdb.connect(str(path))
    for name, frame in tables.items():
        con.register("frame", frame)
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
        con.unregister("frame")
    con.close()
    return path


@pytest.fixture(scope="module")
def reference():
    with open_frames(tiny_world.frames()) as source:
        return {t: typed(source, t) for t in TABLES}


@pytest.mark.parametrize("layout", ["csv", "csv-in-memory", "parquet", "parts"])
def test_every_folder_layout_gives_the_same_typed_tables(tmp_path, reference, layout):
    folder = tiny_world.write(tmp_path / "w", fmt="csv" if layout.startswith("csv") else "parquet")
    if layout == "parts":  # usage_events as a folder of two parquet files
        events = pd.read_parquet(folder / "usage_events.parquet")
        (folder / "usage_events.parquet").unlink()
        (folder / "usage_events").mkdir()
        events.iloc[:3].to_parquet(folder / "usage_events" / "part-0.parquet", index=False)
        events.iloc[3:].to_parquet(folder / "usage_events" / "part-1.parquet", index=False)
    with open_source(folder, csv_in_memory_mb=1 if layout == "csv-in-memory" else 0) as source:
        assert source.kind == "folder" and sorted(source.names) == sorted(TABLES)
        kinds = dict(source.backend.raw_sql("SELECT table_name, table_type FROM information_schema.tables").fetchall())
        assert all(kinds[t] == ("LOCAL TEMPORARY" if layout == "csv-in-memory" else "VIEW") for t in TABLES)
        for table in TABLES:
            pd.testing.assert_frame_equal(typed(source, table), reference[table], check_dtype=False, obj=table)


def test_a_duckdb_file_with_only_the_required_tables(tmp_path, reference):
    frames = tiny_world.frames()
    path = duckdb_file(tmp_path / "wh.duckdb", {**{t: frames[t] for t in REQUIRED}, "notes": pd.DataFrame({"x": [1]})})
    with open_source(path) as source:
        assert source.kind == "duckdb" and sorted(source.names) == sorted(REQUIRED)  # "notes" is no contract table
        pd.testing.assert_frame_equal(typed(source, "usage_events"), reference["usage_events"], check_dtype=False)
        assert not source.has("nps_responses") and source.table("nps_responses") is None
        with pytest.raises(SourceError, match="table 'nps_responses' not found"):
            source.raw("nps_responses")
        kept = source.materialise(source.table("accounts").select("account_id"))  # a temp table, allowed
        assert kept.count().execute() == len(frames["accounts"])
        with pytest.raises(Exception, match="(?i)read-only|cannot execute"):
            source.backend.raw_sql("CREATE TABLE scratch AS SELECT 1 AS x")  # the user's data is never written


def test_duckdb_sources_use_at_most_the_configured_memory(tmp_path):
    """Config ``duckdb_memory_limit`` caps DuckDB's memory (beyond it, DuckDB spills to disk) on a folder and on a
    DuckDB file; without it DuckDB keeps its own default."""
    from pipeline.config import load_config
    from pipeline.engine.engines import LocalEngine

    limit = lambda con: con.execute("SELECT current_setting('memory_limit')").fetchone()[0]  # noqa: E731
    plain = duckdb.connect()
    default = limit(plain)
    plain.execute("SET memory_limit = '300MB'")
    capped = limit(plain)
    assert capped != default
    folder = tiny_world.write(tmp_path / "w", fmt="parquet")
    path = duckdb_file(tmp_path / "wh.duckdb", {t: f for t, f in tiny_world.frames().items() if t in REQUIRED})
    for data in (folder, path):
        for setting, expected in (("300MB", capped), (None, default)):
            with LocalEngine().open(load_config(None, {"data": str(data), "duckdb_memory_limit": setting})) as source:
                assert limit(source.backend.con) == expected, (data, setting)
                assert source.table("usage_events").count().execute() == len(tiny_world.frames()["usage_events"])
    with pytest.raises(SourceError, match="DuckDB refuses duckdb_memory_limit 'lots'"):  # the API has no config check
        open_source(folder, duckdb_memory_limit="lots")


def test_text_is_typed_per_the_contract(tmp_path):
    frames = tiny_world.frames()
    frames["accounts"]["created_at"] = ["2024-01-01T02:00:00+02:00", "2024-01-01 00:00:00", "2024-01-01T00:00:00Z"]
    frames["usage_events"]["account_id"] = range(len(frames["usage_events"]))  # ids stored as numbers
    path = duckdb_file(tmp_path / "text.duckdb", frames)
    with open_source(path) as source:
        accounts, events = typed(source, "accounts"), typed(source, "usage_events")
    assert set(accounts["created_at"]) == {pd.Timestamp("2024-01-01")}  # offsets become naive UTC
    assert events["account_id"].map(type).eq(str).all()
    raw_quantity = frames["usage_events"]["quantity"]
    assert events["quantity"].notna().all() and events["quantity"].sum() == raw_quantity.fillna(1.0).sum()


def test_open_frames_keeps_only_contract_tables():
    with open_frames({**tiny_world.frames(), "scratch": pd.DataFrame({"x": [1]})}) as source:
        assert sorted(source.names) == sorted(TABLES) and source.kind == "frames"


@pytest.mark.parametrize("name, message", [("w.sqlite", "neither a folder"), ("absent.duckdb", "does not exist")])
def test_what_cannot_be_a_source_is_refused(tmp_path, name, message):
    if name.endswith(".sqlite"):
        (tmp_path / name).write_text("x")
    with pytest.raises(SourceError, match=message):
        open_source(tmp_path / name)


def test_fetch_gives_the_rows_execute_gives():
    """``Source.fetch`` (Arrow's conversion on DuckDB) and ibis's ``execute`` agree on every value, nulls included,
    for each kind of column a feature table holds; dates come as timestamps, as ``tidy`` reads them."""
    import datetime as dt
    import decimal

    import ibis

    rows = pd.DataFrame({
        "account_id": ["a", "b", None],
        "as_of": [dt.date(2024, 1, 1), dt.date(2024, 2, 1), None],
        "count": pd.array([1, None, 3], dtype="Int64"),
        "share": [0.5, None, float("nan")],
        "flag": pd.array([True, None, False], dtype="boolean"),
    })
    with open_frames({"accounts": rows}) as source:
        table = source.raw("accounts")
        table = table.mutate(money=ibis.literal(decimal.Decimal("12.50")).cast("decimal(12, 2)"))
        fetched, executed = source.fetch(table), table.execute()
    assert list(fetched.columns) == list(executed.columns)
    as_dates = lambda column: pd.to_datetime(column).dt.date.tolist()  # noqa: E731 (as tidy reads them)
    assert as_dates(fetched["as_of"]) == as_dates(executed["as_of"])
    for column in ["account_id", "count", "share", "flag", "money"]:
        got = pd.to_numeric(fetched[column], errors="coerce") if column != "account_id" else fetched[column]
        want = pd.to_numeric(executed[column], errors="coerce") if column != "account_id" else executed[column]
        assert got.isna().tolist() == want.isna().tolist(), column
        assert got.dropna().tolist() == want.dropna().tolist(), column


@pytest.mark.postgres
def test_postgres_sources_run_without_jit_unless_asked(pg_url):
    """A PostgreSQL source's session plans without JIT, which the server's defaults would use on any query costing
    more than ``jit_above_cost`` (LLVM compiling the wide feature queries took longer than running them: README);
    config ``postgres_jit: true`` keeps the server's setting."""
    import psycopg

    from pipeline.config import load_config
    from pipeline.engine.engines import LocalEngine

    costly = "EXPLAIN SELECT sum(a.a * b.b) FROM generate_series(1, 1000000) a, generate_series(1, 100) b"
    compiled = lambda plan: any(line.startswith("JIT:") for line in plan)  # noqa: E731
    with psycopg.connect(pg_url) as con:  # the server's own settings: this plan would be compiled
        assert compiled([line for (line,) in con.execute(costly).fetchall()])
    for jit in (False, True):
        with LocalEngine().open(load_config(None, {"data": pg_url, "postgres_jit": jit})) as source:
            plan = [row[0] for row in source.backend.raw_sql(costly).fetchall()]
        assert plan and compiled(plan) is jit
