"""Scoring on Spark: the engine whose sources Spark reads and whose model runs on the feature table's partitions.

:class:`SparkEngine` is what :func:`pipeline.engine.engines.get_engine` returns for
``engine: spark``. The feature table of the as-of date stays a Spark
DataFrame (the ibis query of :func:`pipeline.engine.featurize.feature_query`, compiled
by the source's PySpark backend); :meth:`pyspark.sql.DataFrame.mapInPandas`
applies the loaded :class:`models.classifier.ChurnModel` (shipped to the
executors in the task closure: it is a plain picklable Python object) to every
partition: types as :func:`pipeline.engine.featurize.tidy` gives them, calibrated
probabilities, exact TreeSHAP contributions and grouped reasons
(:func:`models.predict.score_rows`). Only the scored rows (one per active account,
with their features for the drift check and the health score) come back to the
driver, where the score step assembles them and the same
:class:`pipeline.io.warehouse.Warehouse` write them in one transaction.
"""

from __future__ import annotations

import os
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from models.reasons import Explanations
from models.predict import SCORE_COLUMNS, score_rows
from pipeline.engine.engines import Engine, timed
from pipeline.engine.featurize import KEYS, tidy
from pipeline.io.sources import Source
from pipeline.config import Config

ROOT = Path(__file__).resolve().parents[2]


class SparkEngine(Engine):
    """The feature query compiled for Spark; the model applied to every partition with ``mapInPandas``."""

    name = "spark"

    def open(self, cfg: Config) -> Source:
        from pipeline.engine.spark.session import open_spark_source

        return open_spark_source(str(cfg.data), master=cfg.spark.master, conf=dict(cfg.spark.conf),
                                 mapped=bool(cfg.sources))

    def score(self, source, query, features, model, cfg: Config, timings):
        """Features, probabilities and reasons computed on Spark; only the scored rows come back.

        The explanations carry ``reasons``, ``summary`` and ``contributions`` only
        (``group_contributions`` is empty, ``first`` is None).
        """
        with timed(timings, "spark"):
            scored, probability, explained = apply_model(spark_frame(source.backend, query), features, model, cfg)
        return scored, probability, explained


def apply_model(frame, features, model, cfg: Config):
    """Score the rows of a Spark DataFrame of features on the executors (``mapInPandas``); collect the result.

    Returns
    -------
    (frame, probability, explanations)
        As :meth:`pipeline.engine.engines.Engine.score`.
    """
    ship_code(frame.sparkSession)
    score = partial(score_batches, model=model, features=features, top_k=cfg.scoring.top_reasons,
                    context_groups=list(cfg.scoring.context_groups), causes=dict(cfg.scoring.causes))
    scored = tidy(frame.mapInPandas(score, output_schema(features)).toPandas(), features)
    explained = Explanations(scored["reasons"].to_numpy(dtype=object), scored["reason_summary"].to_numpy(dtype=object),
                             pd.DataFrame(index=scored.index), np.full(len(scored), None, dtype=object),
                             scored["contributions"].to_numpy(dtype=object))
    return scored.drop(columns=SCORE_COLUMNS), scored["churn_probability"].to_numpy(dtype="float64"), explained


def spark_frame(backend, expr):
    """The Spark DataFrame of an ibis expression on the source's PySpark backend (nothing runs yet)."""
    backend._run_pre_execute_hooks(expr)  # registers the in-memory tables (as-of dates) it reads
    return backend._session.sql(backend.compile(expr.as_table()))


def output_schema(features):
    """Keys, features typed as :func:`pipeline.engine.featurize.tidy` types them, and the score columns."""
    from pyspark.sql.types import DateType, DoubleType, StringType, StructField, StructType

    fields = [StructField("account_id", StringType()), StructField("as_of", DateType())]
    fields += [StructField(f.name, StringType() if f.kind == "categorical" else DoubleType()) for f in features]
    fields += [StructField("churn_probability", DoubleType()), StructField("reasons", StringType()),
               StructField("reason_summary", StringType()), StructField("contributions", StringType())]
    return StructType(fields)


def score_batches(batches, *, model, features, top_k: int, context_groups: list[str], causes: dict | None = None):
    """``mapInPandas`` body: each pandas batch of feature rows -> the same rows with probability and reasons."""
    columns = [*KEYS, *(f.name for f in features)]
    for batch in batches:
        if not batch.empty:
            yield score_rows(model, tidy(batch, features)[columns], features, top_k, context_groups, causes)


def ship_code(session) -> None:
    """Let local Python workers import this pipeline with this interpreter.

    A cluster's executors need the package installed (or ``--py-files``) and
    ``PYSPARK_PYTHON`` set; on a ``local`` master the workers are started here,
    by default with ``python3`` from the PATH and without the repository on their path.
    """
    sc = session.sparkContext
    if not sc.master.startswith("local"):
        return
    if "PYSPARK_PYTHON" not in os.environ:
        sc.pythonExec = sys.executable
    paths = [p for p in sc.environment.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(ROOT) not in paths:
        sc.environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), *paths])
