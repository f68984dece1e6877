"""What every benchmark step opens: the world's config, its feature panel, the 100,000 rows scored.

Every step reaches the data the way the CLI does, through
:func:`pipeline.engine.snapshot.open_snapshot` (contract checks, the mapping, the
dates), so a benchmark times what a user runs. DuckDB steps (``benchmarks/steps.py``)
and Spark steps (``benchmarks/spark_steps.py``) both import from here, never from each other.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Callable

from pipeline.config import Config, load_config
from pipeline.engine.featurize import FeatureTable
from pipeline.engine.snapshot import open_snapshot

#: Accounts the scoring benchmarks score: the last day's feature rows, repeated with new ids.
SCORED_ACCOUNTS = 100_000


def bench_config(world: Path, engine: str = "duckdb") -> Config:
    """The default config on ``world``, with the warehouse, MLflow store and reports in a work folder beside it."""
    work = world.parent / f"{world.name}.work"
    work.mkdir(exist_ok=True)
    return load_config(None, {
        "engine": engine,
        "data": str(world),
        "warehouse": str(work / "scores.duckdb"),
        "tracking.uri": f"sqlite:///{work}/mlflow.db",
        "training.report_dir": str(work / "reports"),
    })


def panel_table(cfg: Config) -> FeatureTable:
    """The labelled feature panel of every snapshot date, as ``churn features --panel`` builds it."""
    with open_snapshot(cfg, panel=True) as snap:
        return snap.build(with_labels=True)


def panel_dates(cfg: Config) -> list[date]:
    """The snapshot dates of the panel (the data is checked first, as every step does)."""
    with open_snapshot(cfg, panel=True) as snap:
        return snap.dates


def score_frame(cfg: Config, vocabulary: Callable[[], dict]) -> tuple[FeatureTable, date]:
    """The last day's feature rows repeated (with new account ids) to :data:`SCORED_ACCOUNTS`, and that day.

    ``vocabulary()`` gives the model's own (``ChurnModel.vocabulary_``), as ``churn score`` uses it: called once
    the data is checked, while the model may still be loading.
    """
    from pipeline.engine.catalog import Vocabulary

    with open_snapshot(cfg, vocabulary=lambda: Vocabulary.from_dict(vocabulary())) as snap:
        table = snap.build(with_labels=False)
        end = snap.as_of
    frame = table.frame.sample(n=SCORED_ACCOUNTS, replace=True, random_state=0).reset_index(drop=True)
    frame["account_id"] = [f"B{i:06d}" for i in range(len(frame))]
    table.frame = frame
    return table, end
