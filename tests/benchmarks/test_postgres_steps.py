"""Tests of ``benchmarks/postgres_steps.py``: a world is loaded once into its own database, whose panel has DuckDB's
rows (that the features are equal on PostgreSQL is ``tests/pipeline/engine/test_engines.py``'s)."""
from __future__ import annotations

import psycopg
import pytest

import benchmarks.postgres_steps as postgres_steps
from benchmarks.bench_data import bench_config, panel_table


@pytest.mark.postgres
@pytest.mark.slow
def test_the_world_is_loaded_once_and_its_panel_has_duckdbs_rows(small_world, tmp_path, pg_url, monkeypatch):
    import shutil
    import uuid

    world = tmp_path / f"w{uuid.uuid4().hex[:10]}"  # a database of its own
    shutil.copytree(small_world, world, ignore=shutil.ignore_patterns("_truth"))
    monkeypatch.setattr(postgres_steps, "SERVER", pg_url)
    events = "SELECT 'usage_events'::regclass::oid"  # a new table, a new oid, if the world were loaded again
    try:
        url = postgres_steps.world_database(world)
        with psycopg.connect(url) as con:
            loaded = con.execute(events).fetchone()[0]
        assert postgres_steps.world_database(world) == url
        with psycopg.connect(url) as con:
            assert con.execute(events).fetchone()[0] == loaded
        measured = postgres_steps.pg_panel(world)
        assert measured["rows"] == len(panel_table(bench_config(world)).frame) and measured["seconds"] > 0
        assert measured["note"] == "the session's JIT off (the default)"
    finally:
        with psycopg.connect(pg_url, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "churn_bench_{world.name}" WITH (FORCE)')
