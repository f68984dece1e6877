"""One benchmark step per process: ``python -m benchmarks.steps STEP WORLD``.

Each step prints one JSON line with its wall time (measured inside the process,
after imports) and the peak resident memory of the process, so every step's
memory is its own.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def floor(world: Path) -> dict:
    """The least work any day-windowed feature needs: one pass rolling events up by account and day."""
    import duckdb

    con = duckdb.connect()
    started = time.perf_counter()
    rows = con.execute(
        "SELECT count(*) FROM (SELECT account_id, CAST(occurred_at AS DATE) AS day, count(*), sum(quantity) "
        f"FROM read_parquet('{world}/usage_events/*.parquet') GROUP BY ALL)"
    ).fetchone()[0]
    return {"seconds": time.perf_counter() - started, "rows": rows}


def panel(world: Path) -> dict:
    """The full feature panel (every monthly snapshot, with labels) on DuckDB."""
    from pipeline.config import load_config
    from pipeline.featurize import build_features
    from pipeline.labels import snapshot_dates
    from pipeline.sources import open_source

    cfg = load_config(None, {})
    started = time.perf_counter()
    with open_source(world) as source:
        table = build_features(source, cfg, snapshot_dates(source, cfg))
    table.frame.to_parquet(world.parent / f"{world.name}.panel.parquet", index=False)
    return {"seconds": time.perf_counter() - started, "rows": len(table.frame), "features": len(table.features)}


def pandas(world: Path) -> dict:
    """The same usage features the straightforward pandas way (load events, group by per window)."""
    from benchmarks.pandas_baseline import panel as pandas_panel
    from pipeline.config import load_config
    from pipeline.labels import snapshot_dates
    from pipeline.sources import open_source

    with open_source(world) as source:
        dates = snapshot_dates(source, load_config(None, {}))
    started = time.perf_counter()
    frame = pandas_panel(world, dates)
    return {"seconds": time.perf_counter() - started, "rows": len(frame)}


STEPS = {"floor": floor, "panel": panel, "pandas": pandas}


def main(argv: list[str]) -> None:
    step, world = argv[0], Path(argv[1])
    result = STEPS[step](world)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
