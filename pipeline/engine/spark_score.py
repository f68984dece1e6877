"""Scoring on Spark: the registered model applied to the partitions of the feature table.

:func:`score_on_spark` is the Spark half of :func:`pipeline.steps.score.run` when
``cfg.engine == "spark"``. The feature table of the as-of date stays a Spark
DataFrame (the ibis query of :func:`pipeline.engine.featurize.feature_query`, compiled
by the source's PySpark backend); :meth:`pyspark.sql.DataFrame.mapInPandas`
applies the loaded :class:`models.classifier.ChurnModel` (shipped to the
executors in the task closure: it is a plain picklable Python object) to every
partition: types as :func:`pipeline.engine.featurize.tidy` gives them, calibrated
probabilities, exact TreeSHAP contributions and grouped reasons
(:func:`models.explain.explain`). Only the scored rows (one per active account,
with their features for the drift check and the health score) come back to the
driver, where :func:`pipeline.steps.score.assemble` and the same
:class:`pipeline.io.warehouse.Warehouse` write them in one transaction.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import ChurnError

#: Columns the partition function adds to the keys and feature columns.
SCORE_COLUMNS = ["churn_probability", "reasons", "reason_summary"]
ROOT = Path(__file__).resolve().parents[2]


def score_on_spark(cfg, model, as_of: date | None, record):
    """Features, probabilities and reasons of the accounts active on ``as_of``, computed on Spark.

    Returns
    -------
    (FeatureTable, accounts, probability, explanations)
        What :func:`pipeline.steps.score.read_features`, ``model.predict_proba`` and
        :func:`pipeline.steps.score.explain_rows` give on the other engines, rows in the
        same (account_id, as_of) order. The explanations carry ``reasons`` and
        ``summary`` only (``group_contributions`` is empty, ``first`` is None).

    Raises
    ------
    ChurnError
        As :func:`pipeline.steps.score.read_features`; ``ModelError`` when the model's
        features differ from the ones this config and data produce (before any job runs).
    """
    from models.explain import Explanations
    from pipeline.engine.catalog import Vocabulary, catalog, resolve_vocabulary
    from pipeline.engine.featurize import FeatureTable, feature_query, tidy
    from pipeline.engine.labels import spine
    from pipeline.steps.score import ACCOUNT_COLUMNS, check_features, checked_as_of
    from pipeline.io.sources import open_data

    with open_data(cfg) as source:
        end, as_of = checked_as_of(source, as_of, record)
        vocab = Vocabulary.from_dict(model.vocabulary_ or {}) or resolve_vocabulary(source, cfg, before=end)
        features = catalog(cfg, vocab, set(source.names), set(source.raw("accounts").columns))
        check_features(model, FeatureTable(pd.DataFrame(), features, vocab, end), record.model_uri)
        expr = feature_query(source, spine(source, [as_of]), [as_of], cfg, vocab, features)
        frame = spark_frame(source.backend, expr)
        ship_code(frame.sparkSession)
        score = partial(score_batches, model=model, features=features, top_k=cfg.scoring.top_reasons,
                        context_groups=list(cfg.scoring.context_groups))
        scored = frame.mapInPandas(score, output_schema(features)).toPandas()
        accounts = source.table("accounts").select("account_id", *ACCOUNT_COLUMNS).execute()
        label = source.label
    if scored.empty:
        raise ChurnError(f"no account is active on {as_of} in {label}: nothing to score")
    scored = tidy(scored, features)
    table = FeatureTable(scored.drop(columns=SCORE_COLUMNS), features, vocab, end)
    explained = Explanations(scored["reasons"].to_numpy(dtype=object), scored["reason_summary"].to_numpy(dtype=object),
                             pd.DataFrame(index=scored.index), np.full(len(scored), None, dtype=object))
    accounts = accounts.rename(columns=ACCOUNT_COLUMNS).astype({"account_id": str})
    return table, accounts, scored["churn_probability"].to_numpy(dtype="float64"), explained


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
               StructField("reason_summary", StringType())]
    return StructType(fields)


def score_batches(batches, *, model, features, top_k: int, context_groups: list[str]):
    """``mapInPandas`` body: each pandas batch of feature rows -> the same rows with probability and reasons."""
    from models.explain import contributions, explain
    from pipeline.engine.featurize import KEYS, tidy

    columns = [*KEYS, *(f.name for f in features)]
    for batch in batches:
        if batch.empty:
            continue
        frame = tidy(batch, features)
        prepared = model.prepare(frame)
        explained = explain(contributions(model, prepared), frame, features, top_k, context_groups)
        yield frame[columns].assign(
            churn_probability=np.asarray(model.predict_risk(prepared), dtype="float64"),
            reasons=[str(r) for r in explained.reasons],
            reason_summary=[str(s) for s in explained.summary],
        )


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
