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

#: Accounts the scoring benchmarks score: rows of the world's feature panel, with new ids (see :func:`score_frame`).
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


def panel_file(world: Path) -> Path:
    """Where the panel step writes the world's feature panel (every snapshot date), which scoring draws rows from."""
    return world.parent / f"{world.name}.panel.parquet"


def score_frame(cfg: Config, vocabulary: Callable[[], dict]) -> tuple[FeatureTable, date]:
    """:data:`SCORED_ACCOUNTS` feature rows to score (new account ids, as of the data's last day), and that day.

    The last day's features are built first, as ``churn score`` builds them (the contract checks, the rollups, the
    query), and give the rows' columns and types; the rows themselves are drawn from the world's feature panel, every
    snapshot date (:func:`panel_file`, written by the panel step), so that as many of them differ as the world has.
    The last day alone has one row per active account (3,587 in the 10 M events world, each repeated 28 times),
    and TreeSHAP, the reasons' sentences and DuckDB's compression of the documents do less work on repeated rows:
    on 51,044 distinct rows the prediction and the reasons took 2.8 s against 1.4-1.9 s, the write 2.5 s against
    1.4 s (2026-12-06, 10 M events).

    ``vocabulary()`` gives the model's own (``ChurnModel.vocabulary_``), as ``churn score`` uses it: called once
    the data is checked, while the model may still be loading.

    Raises
    ------
    SystemExit
        When the panel step has not written the world's panel.
    """
    import pandas as pd

    from pipeline.engine.catalog import Vocabulary

    with open_snapshot(cfg, vocabulary=lambda: Vocabulary.from_dict(vocabulary())) as snap:
        table = snap.build(with_labels=False)
        end = snap.as_of
    source = panel_file(Path(str(cfg.data)))
    if not source.exists():
        raise SystemExit(f"scoring draws its rows from the world's panel: run the panel step first ({source} is missing)")
    columns = list(table.frame.columns)
    panel = pd.read_parquet(source, columns=[c for c in columns if c not in ("account_id", "as_of")])
    frame = panel.sample(n=SCORED_ACCOUNTS, replace=len(panel) < SCORED_ACCOUNTS, random_state=0).reset_index(drop=True)
    frame.insert(0, "as_of", end)
    frame.insert(0, "account_id", [f"B{i:06d}" for i in range(len(frame))])
    # one block per dtype, as the engine's typed frame has (`tidy`): typed column by column the frame has a block
    # per column, which slows every later step and makes pandas warn that it is fragmented
    table.frame = frame[columns].astype(table.frame.dtypes.to_dict()).copy()
    return table, end
