"""The PostgreSQL rows of the bench (``make bench-postgres``): the feature panel computed in PostgreSQL, as
``churn features --panel`` computes it from a PostgreSQL URL (contract checks included).

Each world is loaded once (``churn load``, not timed) into a database of its own on the server of
``CHURN_BENCH_POSTGRES`` (default: the local server's ``test`` database; its user must be allowed to create
databases). ``pg_panel`` runs as configured by default (the session's JIT off); ``pg_panel_jit`` keeps the
server's JIT (config ``postgres_jit: true``), so one run measures what turning it off saves.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from benchmarks.bench_data import bench_config, panel_table

#: The server the PostgreSQL steps load their worlds into (any database on it: each world gets its own).
SERVER = os.environ.get("CHURN_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def world_database(world: Path) -> str:
    """The URL of ``world``'s database on :data:`SERVER`, created and loaded the first time (not timed)."""
    import psycopg

    from benchmarks.pg_database import ensure_database
    from pipeline.io.load import load_tables
    from pipeline.io.sources import open_source

    url = SERVER.rsplit("/", 1)[0] + f"/churn_bench_{world.name}"
    ensure_database(url)
    with psycopg.connect(url) as db:  # a load that failed left none of the tables (it is one transaction)
        loaded = db.execute("SELECT to_regclass('usage_events') IS NOT NULL").fetchone()[0]
    if not loaded:
        with open_source(world) as source:
            load_tables(source, url)
    return url


def _panel(world: Path, jit: bool) -> dict:
    cfg = bench_config(world).model_copy(update={"data": world_database(world), "postgres_jit": jit})
    started = time.perf_counter()
    table = panel_table(cfg)
    return {"seconds": time.perf_counter() - started, "rows": len(table.frame), "features": len(table.features),
            "note": "JIT as the server sets it" if jit else "the session's JIT off (the default)"}


def pg_panel(world: Path) -> dict:
    """The full feature panel (every monthly snapshot, with labels) computed in PostgreSQL, as configured by default."""
    return _panel(world, jit=False)


def pg_panel_jit(world: Path) -> dict:
    """:func:`pg_panel` with the server's JIT kept (``postgres_jit: true``)."""
    return _panel(world, jit=True)


POSTGRES_STEPS = {"pg_panel": pg_panel, "pg_panel_jit": pg_panel_jit}
