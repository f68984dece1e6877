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

from pipeline.process import exit_fast, tune_process

tune_process()  # as `churn` does first: the imports below and every step run with the command's settings

from benchmarks.bench_data import bench_config, panel_dates, panel_file, panel_table, score_frame  # noqa: E402


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
    """The full feature panel (every monthly snapshot, with labels) on DuckDB, contract checks included."""
    cfg = bench_config(world)
    started = time.perf_counter()
    table = panel_table(cfg)
    table.frame.to_parquet(panel_file(world), index=False)
    return {"seconds": time.perf_counter() - started, "rows": len(table.frame), "features": len(table.features)}


def pandas(world: Path) -> dict:
    """The usage features of ``benchmarks/pandas_baseline.py`` the straightforward pandas way (load events, group by per window)."""
    from benchmarks.pandas_baseline import panel as pandas_panel

    return _baseline(world, pandas_panel)


def featuretools(world: Path) -> dict:
    """The usage features of ``benchmarks/featuretools_baseline.py`` the idiomatic Featuretools way (one cutoff
    time per account and date, aggregations over each window)."""
    from benchmarks.featuretools_baseline import panel as featuretools_panel

    return _baseline(world, featuretools_panel)


def _baseline(world: Path, baseline_panel) -> dict:
    """A baseline's panel (``baseline_panel(world, dates)``) on the panel's snapshot dates, timed."""
    dates = panel_dates(bench_config(world))
    started = time.perf_counter()
    frame = baseline_panel(world, dates)
    return {"seconds": time.perf_counter() - started, "rows": len(frame)}


def train(world: Path) -> dict:
    """Backtest + final model + MLflow registration on the prebuilt panel (feature build not timed)."""
    from pipeline.steps import train as training

    cfg = bench_config(world)
    table = panel_table(cfg)
    started = time.perf_counter()
    result = training.run(cfg, table=table)
    return {"seconds": time.perf_counter() - started, "rows": len(result.panel),
            "note": f"{len(result.panel):,} usable snapshots, {result.model.best_iteration_} trees"}


def score(world: Path) -> dict:
    """Scoring with reasons per 100,000 accounts: predict, exact contributions, the drift check, reasons, one
    DuckDB write, as ``churn score`` does them (:func:`pipeline.steps.score.scored_rows`).

    The rows are drawn from the world's feature panel with new account ids (:func:`benchmarks.bench_data.score_frame`:
    as many distinct rows as the world has), after the last day's features are built as ``churn score`` builds them;
    both before the clock starts. The time-to-churn curve columns are left null (how scoring ran before issue 23):
    :func:`score_curves` adds them.
    """
    return _score(world, curves=False)


def score_curves(world: Path) -> dict:
    """:func:`score` plus the time-to-churn curves as ``churn score`` computes them (the model's ``hazard_``:
    ``churn_probability_30d`` ... ``180d``, ``expected_churn_window``, the served probability)."""
    return _score(world, curves=True)


def write_moved(world: Path) -> dict:
    """A night after a retrain: the table write of :func:`score`'s 100,000 rows beside yesterday's rows of the same
    accounts, where every account moved (its row of yesterday is another row's: probability and documents).

    Each account is compared with its previous row and those that moved by at least ``scoring.change_min_points``
    are explained from both days' contributions documents (:func:`models.score_moves.why_moved`); only today's
    ``Warehouse.write`` is timed. :func:`score` writes into an empty table, where nothing is compared.
    """
    from datetime import timedelta

    import numpy as np

    from pipeline.io.warehouse import Run, Warehouse, utc_now

    cfg, rows, record, features, _, _ = _scored(world, curves=False)
    yesterday = rows.iloc[np.random.default_rng(24).permutation(len(rows))].reset_index(drop=True)
    day = record.as_of - timedelta(days=1)
    yesterday = yesterday.assign(account_id=rows["account_id"].to_numpy(), as_of_date=day)
    warehouse = Warehouse.from_config(cfg)
    warehouse.write(yesterday, Run("bench-yesterday", day, utc_now(), model_name=record.model_name,
                                   model_version=record.model_version), features=features)
    started = time.perf_counter()
    written = warehouse.write(rows, record, features=features)
    explained = int(written["change_reasons"].notna().sum())
    return {"seconds": time.perf_counter() - started, "rows": len(rows), "explained": explained,
            "note": f"100,000 rows written beside yesterday's, every account's documents different, "
                    f"{explained:,} moved >= {cfg.scoring.change_min_points:g} points and explained"}


def _score(world: Path, curves: bool) -> dict:
    from pipeline.io.warehouse import Warehouse

    cfg, rows, record, features, model, started = _scored(world, curves)
    Warehouse.from_config(cfg).write(rows, record, features=features)
    curve_s = record.timings.get("curves", 0.0)
    hazard = f", curves {curve_s:.2f} s ({model.hazard_.model_.booster_.num_trees()} hazard trees)" if curves else ""
    return {"seconds": time.perf_counter() - started, "rows": len(rows), "curves_s": round(curve_s, 3),
            "drift_s": round(record.timings.get("drift", 0.0), 3),
            "note": f"{model.booster_.num_trees()} trees, 100,000 accounts, drift check, reasons + DuckDB write{hazard}"}


def _scored(world: Path, curves: bool):
    """What ``churn score`` computes before the write, on the bench's 100,000 rows (:func:`score`), the warehouse
    emptied: (config, the scored rows, their run, the features, the model, when the clock started)."""
    import copy

    import pandas as pd

    from models.predict import predict
    from pipeline.io.warehouse import Run, utc_now
    from pipeline.steps import score as scoring

    cfg = bench_config(world)
    with scoring.loading_model(cfg, None) as loaded:  # as `churn score` loads it: beside the data's checks
        table, end = score_frame(cfg, lambda: loaded()[0].vocabulary_)
        model, health, name, version, uri = loaded()
    if curves and getattr(model, "hazard_", None) is None:
        raise SystemExit("score_curves: the registered model has no time-to-churn model (retrain: step train)")
    if not curves:  # the same model without its time-to-churn model: the curve columns stay null
        model = copy.copy(model)
        model.hazard_ = None
    frame = table.frame
    accounts = pd.DataFrame({"account_id": frame["account_id"], "account_name": frame["account_id"],
                             "csm": "bench", "segment": frame.get("segment")})
    Path(cfg.warehouse).unlink(missing_ok=True)
    started = time.perf_counter()
    record = Run("bench", end, utc_now(), model_name=name, model_version=version)
    s = cfg.scoring
    predictions = predict(model, frame, table.features, s.top_reasons, s.context_groups, s.causes)
    rows, _ = scoring.scored_rows(cfg, model, health, frame, predictions.probability, predictions, accounts, record,
                                  table.features)
    record.status, record.rows = "succeeded", len(rows)
    return cfg, rows, record, table.features, model, started


def _steps() -> dict:
    from benchmarks.postgres_steps import POSTGRES_STEPS
    from benchmarks.spark_steps import SPARK_STEPS

    return {"floor": floor, "panel": panel, "pandas": pandas, "featuretools": featuretools, "train": train,
            "score": score, "score_curves": score_curves, "write_moved": write_moved,
            **SPARK_STEPS, **POSTGRES_STEPS}


#: DuckDB steps (the default of ``python -m benchmarks.run``); :data:`ENGINE_STEPS` adds the Spark and PostgreSQL ones.
STEPS = ["floor", "panel", "pandas", "featuretools", "train", "score", "score_curves", "write_moved"]
ENGINE_STEPS = {"duckdb": STEPS, "spark": ["spark_panel", "spark_train", "spark_score"],
                "postgres": ["pg_panel", "pg_panel_jit"]}


def main(argv: list[str]) -> None:
    step, world = argv[0], Path(argv[1])
    result = _steps()[step](world)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
    exit_fast(0)  # as `churn` ends a command: the whole-process figures include the same exit
