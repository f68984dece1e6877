"""The Spark rows of ``make bench``: the same work as the DuckDB steps, on a Spark ``local[2]`` session.

Each step runs in its own process (``python -m benchmarks.steps spark_panel WORLD``).
The JVM start (``session_s``) is measured apart and not in ``seconds``, as the
DuckDB steps do not count importing DuckDB. The peak RSS is the larger of the
Python process and the JVM (a child process, waited for after the session stops).
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

from benchmarks.bench_data import bench_config, panel_table, score_frame

#: Session of the Spark steps: this machine's 2 cores; 8 GiB for the driver JVM (4 GiB ran out of memory on the
#: 10 M-event panel once the features grew to 123).
MASTER = "local[2]"
CONF = {"spark.driver.memory": "8g"}


def _session():
    from pipeline.engine.spark.session import spark_session

    started = time.perf_counter()
    session = spark_session(MASTER, CONF)
    session.sql("SELECT 1").collect()
    return session, time.perf_counter() - started


def _stop(session) -> float:
    """Stop the session and wait for its JVM; the JVM's peak RSS in MB."""
    proc = getattr(session.sparkContext._gateway, "proc", None)
    session.stop()
    if proc is not None:
        proc.stdin.close()
        proc.wait(timeout=60)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def spark_panel(world: Path) -> dict:
    """The full feature panel (every monthly snapshot, with labels) on Spark."""
    cfg = bench_config(world, engine="spark")
    session, start = _session()  # open_snapshot's Spark source reuses this running session
    started = time.perf_counter()
    table = panel_table(cfg)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "session_s": start, "rows": len(table.frame), "features": len(table.features),
            "jvm_rss_mb": _stop(session)}


def spark_train(world: Path) -> dict:
    """``churn train --engine spark``: the panel built on Spark, then the same backtest, fit and registration."""
    from pipeline.steps import train as training

    cfg = bench_config(world, engine="spark")
    session, start = _session()
    started = time.perf_counter()
    result = training.run(cfg)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "session_s": start, "rows": len(result.panel), "jvm_rss_mb": _stop(session),
            "note": f"panel on Spark + fit: {len(result.panel):,} usable snapshots, {result.model.best_iteration_} trees"}


def spark_score(world: Path) -> dict:
    """Scoring 100,000 accounts with reasons on Spark executors (``mapInPandas``), then the one DuckDB write.

    The same 100,000 feature rows as the DuckDB ``score`` step (the last day's
    rows repeated with new account ids, built before the clock starts) become a
    Spark DataFrame; the clock covers shipping them and the model to the
    executors, scoring with contributions and reasons, collecting and the write.
    """
    import pandas as pd

    from pipeline.engine.spark.engine import apply_model
    from pipeline.io.warehouse import Run, Warehouse, utc_now
    from pipeline.steps import score as scoring
    from pipeline.steps.score_table import assemble

    cfg = bench_config(world)
    model, health, name, version, _ = scoring.load_model(cfg, None)
    table, end = score_frame(cfg, lambda: model.vocabulary_)
    frame = table.frame
    accounts = pd.DataFrame({"account_id": frame["account_id"], "account_name": frame["account_id"],
                             "csm": "bench", "segment": frame.get("segment")})
    Path(cfg.warehouse).unlink(missing_ok=True)
    session, start = _session()
    started = time.perf_counter()
    record = Run("bench", end, utc_now(), model_name=name, model_version=version)
    rows_df = session.createDataFrame(frame).repartition(4)
    scored, probability, explained = apply_model(rows_df, table.features, model, cfg)
    scored = scored.sort_values("account_id").reset_index(drop=True)
    accounts = accounts.set_index("account_id").loc[scored["account_id"]].reset_index()
    rows = assemble(cfg, scored, accounts, probability, explained, health.score(scored).to_numpy(), record)
    record.status, record.rows = "succeeded", len(rows)
    Warehouse.from_config(cfg).write(rows, record)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "session_s": start, "rows": len(rows), "jvm_rss_mb": _stop(session),
            "note": f"{model.booster_.num_trees()} trees, 100,000 accounts on 4 partitions, reasons + DuckDB write"}


SPARK_STEPS = {"spark_panel": spark_panel, "spark_train": spark_train, "spark_score": spark_score}
