"""Engines: where the feature query runs and where the model is applied.

* ``duckdb`` (the default; DuckDB files, folders and PostgreSQL): ibis runs the
  feature query where the data lives, the model runs in this process.
* ``spark``: the same feature query compiled for Spark, the model applied to
  each partition (:mod:`pipeline.engine.spark.engine`).

Steps reach an engine only through :func:`get_engine`, so none of them imports
Spark modules, and PySpark is imported only when the Spark engine is asked for.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from contextlib import contextmanager

import numpy as np
import pandas as pd

from models.reasons import Explanations
from models.predict import predict
from models.errors import ConfigError
from pipeline.engine.featurize import tidy
from pipeline.io.apply_mapping import map_source
from pipeline.io.mapping_file import load_mapping
from pipeline.io.sources import Source, open_source
from pipeline.config import Config

#: Engine name -> "module:class"; imported on first use.
ENGINES = {"duckdb": "pipeline.engine.engines:LocalEngine", "spark": "pipeline.engine.spark.engine:SparkEngine"}
#: Engine name -> (module it needs, how to install it): engines of an optional extra of the package.
EXTRAS = {"spark": ("pyspark", "pip install -e '.[spark]' (or `make setup EXTRAS=dev,spark`); Java 17 as well")}


@contextmanager
def timed(timings: dict, step: str):
    """Add the wall time of the block to ``timings[step]``."""
    started = time.perf_counter()
    yield
    timings[step] = timings.get(step, 0.0) + time.perf_counter() - started


class Engine:
    """The interface every engine implements.

    Attributes
    ----------
    name : str
        The value of ``engine:`` in the config and of ``--engine``.
    """

    name = ""

    def open(self, cfg: Config) -> Source:
        """The raw contract tables of ``cfg.data`` on this engine."""
        raise NotImplementedError

    def source(self, cfg: Config) -> Source:
        """The contract tables of ``cfg.data`` on this engine, through the mapping ``cfg.sources`` if set.

        Raises
        ------
        ConfigError, SourceError
            For a mapping that does not read, or names what the warehouse does not hold.
        """
        mapping = load_mapping(cfg.sources) if cfg.sources else None
        source = self.open(cfg)
        if mapping is not None:
            try:
                map_source(source, mapping, str(cfg.sources))
            except Exception:
                source.close()
                raise
        return source

    def score(self, source: Source, query, features, model, cfg: Config,
              timings: dict) -> tuple[pd.DataFrame, np.ndarray, Explanations]:
        """Run the feature ``query`` and apply ``model`` to its rows.

        Returns
        -------
        (frame, probability, reasons)
            The feature rows typed by :func:`pipeline.engine.featurize.tidy` and sorted
            by (account_id, as_of), P(churn) and the reasons of the same rows: a
            :class:`models.predict.Predictions` that builds them in the order asked
            (``reasons.take(order)``), or :class:`models.reasons.Explanations` already built.
        """
        raise NotImplementedError


class LocalEngine(Engine):
    """DuckDB and PostgreSQL through ibis; the model in this process."""

    name = "duckdb"

    def open(self, cfg: Config) -> Source:
        return open_source(cfg.data, cfg.csv_in_memory_mb, cfg.postgres_jit, cfg.duckdb_memory_limit)

    def score(self, source, query, features, model, cfg: Config, timings):
        with timed(timings, "features"):
            frame = tidy(source.fetch(query), features)
        with timed(timings, "predict"):
            predictions = predict(model, frame, features, cfg.scoring.top_reasons, cfg.scoring.context_groups,
                                  cfg.scoring.causes)
        return frame, predictions.probability, predictions


def get_engine(name: str) -> Engine:
    """The engine called ``name`` (``duckdb`` or ``spark``).

    Raises
    ------
    ConfigError
        For an unknown name, or an engine whose optional extra is not installed (saying how to install it).
    """
    if name not in ENGINES:
        raise ConfigError(f"engine: unknown engine '{name}'; use one of {', '.join(ENGINES)}")
    if name in EXTRAS and importlib.util.find_spec(EXTRAS[name][0]) is None:
        module, how = EXTRAS[name]
        raise ConfigError(f"engine: '{name}' needs {module}, which is not installed: {how}")
    module, cls = ENGINES[name].split(":")
    return getattr(importlib.import_module(module), cls)()
