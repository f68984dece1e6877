"""The Spark session, and a source opened on it: the contract's tables as Spark views, queried through ibis.

:func:`open_spark_source` returns a :class:`pipeline.io.sources.Source` whose
backend is an ibis PySpark backend, so :func:`pipeline.engine.featurize.build_features`
and the definitions in ``features/`` run unchanged on Spark: the whole panel is
one Spark SQL query and only the feature matrix (accounts x snapshots) comes
back to the driver as a pandas DataFrame.

Two kinds of ``spec``:

- a folder laid out like a folder source (``<table>.parquet``, ``<table>.csv``
  or a ``<table>/`` folder of Parquet or CSV files): a local path, or any URI
  Hadoop reads (``hdfs://``, ``s3a://``, ``abfss://``, ``gs://``, ``file://``);
- ``spark-catalog:<database>`` (or ``spark-catalog:<catalog>.<database>``):
  the tables named after the contract in that database of the session's
  catalog (Hive metastore, Glue, Unity, Iceberg...).

Each table becomes a temporary view private to the source; typing
(:func:`pipeline.io.sources.typed`) happens inside the query, as on every other
engine. CSV files are read as text, so every contract column goes through the
same :class:`pipeline.contract.checks.Parser` rules as on DuckDB. Reading the
files (and pandas' nanosecond Parquet timestamps) is :mod:`pipeline.engine.spark.read`;
a Spark or JVM failure becomes one :class:`SourceError` (:mod:`pipeline.engine.spark.errors`).
See ``docs/spark.md``.
"""

from __future__ import annotations

import logging
import os
import uuid
import weakref
from dataclasses import dataclass, field
from typing import ClassVar

from pipeline.engine.spark.errors import (describe, headline, is_spark_failure, log4j_options, missing_column,
                                          quiet_py4j, spark_log_file)
from pipeline.engine.spark.read import catalog_tables, folder_table, folder_tables
from pipeline.errors import SourceError
from pipeline.io.sources import Source

log = logging.getLogger("churn")

CATALOG_PREFIX = "spark-catalog:"

#: Set by spark-submit for the Python driver it starts (the JVM is already running with its settings).
SUBMITTED = "PYSPARK_GATEWAY_PORT"

#: JVM options of every session this module starts: timestamps are naive UTC on
#: every engine, so the JVM runs in UTC as well as the SQL session.
JAVA_OPTIONS = "-Duser.timezone=UTC"

#: Extra JVM options of the driver for ``local[...]`` masters, where the driver
#: is the only JVM: the client compiler (C1) and the serial collector halve the
#: CPU time of a feature build on a small machine (measured: docs/spark.md).
LOCAL_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"

#: Settings of every session this module starts, unless ``conf`` overrides them.
BASE_CONF = {
    "spark.app.name": "churn-pipeline",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.extraJavaOptions": JAVA_OPTIONS,
    "spark.executor.extraJavaOptions": JAVA_OPTIONS,
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
}

#: Extra defaults for ``local[...]`` masters: quick to start, small shuffles, no UI.
LOCAL_CONF = {
    "spark.driver.extraJavaOptions": f"{JAVA_OPTIONS} {LOCAL_JAVA_OPTIONS}",
    "spark.driver.memory": "2g",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
}


def is_spark_catalog(spec) -> bool:
    """Whether ``spec`` names a database of the Spark catalog (``spark-catalog:<database>``)."""
    return str(spec).startswith(CATALOG_PREFIX)


def session_conf(master: str = "local[2]", conf: dict | None = None) -> dict[str, str]:
    """The settings :func:`spark_session` starts a session with.

    The driver's log4j output goes to a file (:mod:`pipeline.engine.spark.errors`),
    never to the console. ``local-cluster[n,cores,mb]`` masters (n executor
    JVMs on this machine, as the tests run) also get the local JVM options on
    their executors.
    """
    master = str(master)
    local = master.startswith("local")
    merged = {**BASE_CONF, **(LOCAL_CONF if local else {})}
    merged["spark.driver.extraJavaOptions"] = f"{merged['spark.driver.extraJavaOptions']} {log4j_options()}".strip()
    if master.startswith("local-cluster"):
        merged["spark.executor.extraJavaOptions"] += f" {LOCAL_JAVA_OPTIONS}"
    merged.update(conf or {})
    return {key: str(value) for key, value in merged.items()}


def spark_session(master: str = "local[2]", conf: dict | None = None):
    """Get or create the Spark session the pipeline runs on.

    ``conf`` overrides the defaults (:data:`BASE_CONF`, plus :data:`LOCAL_CONF`
    for a ``local`` master). If a session is already running in this process it
    is returned as it is: JVM and static settings (``spark.master``,
    ``spark.driver.memory``, ``spark.sql.warehouse.dir``...) cannot change any
    more; runtime SQL settings of ``conf`` are applied to it.

    Raises
    ------
    SourceError
        When no session can be started (no Java 17, a master that cannot be reached).
    """
    from pyspark.sql import SparkSession

    quiet_py4j()
    running = SparkSession.getActiveSession()
    if running is not None:
        _apply_runtime_conf(running, {k: v for k, v in (conf or {}).items()})
        running.conf.set("spark.sql.session.timeZone", "UTC")
        return running
    builder = SparkSession.builder
    settings = session_conf(master, conf)
    if SUBMITTED in os.environ:  # under spark-submit: its --master and --conf win over the config's
        log.info("running under spark-submit: the master and settings given to spark-submit are used")
        keep = ("spark.sql.session.timeZone", "spark.sql.execution.arrow.pyspark.enabled")
        settings = {**{k: BASE_CONF[k] for k in keep}, **{k: str(v) for k, v in (conf or {}).items()}}
    else:
        builder = builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:
        if not is_spark_failure(exc):
            raise
        log.debug("Spark session failed to start", exc_info=True)
        raise SourceError(f"no Spark session could start on master {master} (Spark needs Java 17): "
                          f"{headline(exc)} (Spark log: {spark_log_file()})") from None
    session.sparkContext.setLogLevel("WARN")
    return session


def _apply_runtime_conf(session, conf: dict) -> None:
    for key, value in conf.items():
        if not str(key).startswith("spark.sql."):
            log.warning("Spark session already running: %s is not applied", key)
            continue
        try:
            session.conf.set(key, str(value))
        except Exception:  # static SQL setting
            log.warning("Spark session already running: %s cannot be changed", key)


@dataclass
class SparkSource(Source):
    """A :class:`Source` on Spark; closing it drops its views and stops a session it started.

    A Spark or JVM failure inside its ``with`` block leaves it as one
    :class:`SourceError` naming the table and file (or catalog object) it
    comes from (:func:`pipeline.engine.spark.errors.describe`).
    """

    owns_session: bool = False
    views: list[str] = field(default_factory=list, repr=False)
    reads: dict = field(default_factory=dict, repr=False)
    #: Each table's contract checks are a small job the driver plans alone: validation runs them side by side
    #: (:meth:`pipeline.contract.validate._Validation.run`). On ``local[2]`` the bench worlds validated in 6.8-7.3 s
    #: instead of 7.7 s (1 M events) and 13.5-14.5 s instead of 14.1-15.0 s (10 M).
    concurrent_queries: ClassVar[bool] = True

    def materialise(self, expr):
        """No temporary tables on Spark: a cached temporary view (:func:`cached_view`)."""
        return cached_view(self.backend, expr)

    def reused(self, expr):
        """Spark computes a subquery again for every reading of it: computed once (:func:`checkpointed_view`),
        dropped when the source closes (the cached views built on it read it by name until then)."""
        view = checkpointed_view(self.backend, expr)
        self.views.append(view.op().name)
        return view

    def read_file(self, name: str):
        """The folder's table ``name`` (a file or folder of files) as an ibis table, or None if absent.

        A sources mapping reads warehouse-named files through this, so they get the same
        Parquet type handling and error messages as contract-named ones.
        """
        read = folder_table(self.backend._session, str(self.spec), name)
        if read is None:
            return None
        read.frame.createOrReplaceTempView(name)  # under its own name: a mapping's `sql:` reads it so
        self.views.append(name)
        self.reads[name] = read
        return self.backend.table(name)

    def close(self) -> None:
        session = self.backend._session
        for view in self.views:
            try:
                session.catalog.dropTempView(view)
            except Exception:  # session already stopped
                pass
        self.views = []
        if self.owns_session:
            self.owns_session = False
            try:
                session.stop()
            except Exception:  # the JVM is already gone
                log.debug("Spark session did not stop cleanly", exc_info=True)

    def __exit__(self, kind, exc, tb) -> None:
        self.close()
        if exc is None:
            return
        if is_spark_failure(exc):
            raise SourceError(describe(exc, self.label, self.reads)) from None
        missing = missing_column(exc, self.reads)  # a query on a table without a contract column (--no-validate)
        if missing:
            raise SourceError(missing) from None


def open_spark_source(spec: str, *, master: str = "local[2]", session=None, conf: dict | None = None,
                      mapped: bool = False) -> Source:
    """Open the contract's tables on Spark.

    Parameters
    ----------
    spec : str
        A folder of CSV/Parquet files (local path or Hadoop URI) laid out like a
        folder source, or ``spark-catalog:<database>``.
    master : str
        ``spark.master`` of the session started when none is given or running
        (``local[2]``, ``spark://host:7077``, ``yarn``, ``k8s://https://...``).
    session : pyspark.sql.SparkSession, optional
        An existing session; it is left running when the source closes.
    conf : dict, optional
        Spark settings of the session started here, overriding the defaults.
    mapped : bool
        A sources mapping names the tables: a catalog database without contract names opens.

    Returns
    -------
    Source
        ``kind="spark"``; its backend is an ibis PySpark backend. Closing it
        stops the session only if this call started it.

    Raises
    ------
    SourceError
        If the folder or the database does not exist, or the database holds
        none of the contract's tables (a folder without them opens, like a
        folder source, and the validator reports the missing tables).
    """
    import ibis
    from pyspark.sql import SparkSession

    text = str(spec)
    owns = False
    if session is None:
        owns = SparkSession.getActiveSession() is None
        session = spark_session(master, conf)
        if not owns and session.conf.get("spark.master", master) != master:
            log.warning("using the running Spark session (master %s), not %s",
                        session.conf.get("spark.master"), master)
    try:
        backend = ibis.pyspark.connect(session)  # also sets spark.sql.session.timeZone=UTC
        backend.compiler = _compiler()
        if is_spark_catalog(text):
            reads = catalog_tables(session, text[len(CATALOG_PREFIX):], required=not mapped)
        else:
            reads = folder_tables(session, text)
        token = uuid.uuid4().hex[:8]
        names = {}
        for table, read in reads.items():
            view = f"churn_{token}_{table}"
            read.frame.createOrReplaceTempView(view)
            names[table] = view
    except Exception as exc:
        if owns:
            session.stop()
        if is_spark_failure(exc):
            raise SourceError(describe(exc, text, {})) from None
        raise
    return SparkSource(text, "spark", backend, names, owns_session=owns, views=list(names.values()), reads=reads)


# --------------------------------------------------------------------------- compiler


_COMPILER = None


def _compiler():
    """ibis's PySpark compiler with the fix the feature definitions need.

    ``median(where=...)`` (``median_resolution_hours``): ibis 12 also wraps the
    0.5 in the filter, ``percentile(IF(w, x, NULL), IF(w, 0.5, NULL))``, which
    Spark rejects (the percentage must be a constant). It is compiled like
    ``quantile(0.5, where=...)``: ``percentile(IF(w, x, NULL), 0.5)``, the exact,
    interpolated median, as ``percentile_cont(0.5)`` on DuckDB and PostgreSQL.
    """
    global _COMPILER
    if _COMPILER is None:
        import sqlglot.expressions as sge
        from ibis.backends.sql.compilers.pyspark import PySparkCompiler

        class ChurnPySparkCompiler(PySparkCompiler):
            __slots__ = ()

            def visit_Median(self, op, *, arg, where):
                return self.visit_Quantile(op, arg=arg, quantile=sge.convert(0.5), where=where)

        _COMPILER = ChurnPySparkCompiler()
    return _COMPILER


# --------------------------------------------------------------------------- temporary tables


def cached_view(backend, expr):
    """Materialise ``expr`` once on Spark: a cached temporary view, released with the expression.

    Spark SQL has no temporary tables (ibis raises on ``create_table(temp=True)``).
    ``CACHE TABLE`` computes the view once into executor memory (spilling to
    disk), which is what a temporary table is to DuckDB and PostgreSQL. The
    cache and the view are dropped when the returned expression is garbage
    collected, so repeated builds in one session do not accumulate memory.
    """
    name = f"_churn_{uuid.uuid4().hex[:12]}"
    view = backend.create_view(name, expr, overwrite=True)  # registers the memtables it reads
    backend.raw_sql(f"CACHE TABLE `{name}`")
    weakref.finalize(view.op(), _release, backend._session, name)
    return view


def checkpointed_view(backend, expr):
    """Compute ``expr`` once on Spark and keep only its rows: a temporary view over ``localCheckpoint()``.

    For small tables built step on step, each step reading the previous several times (the base-plan steps of
    :func:`pipeline.engine.frames.base_plans`): a cached view keeps its whole plan, which the next step's plan
    embeds, and Spark computed the first steps again for every reading (22 s for three steps over the 1,944
    subscription lines of the 1 M-event bench world); over checkpoints 5 s.
    """
    name = f"_churn_{uuid.uuid4().hex[:12]}"
    backend.create_view(name, expr, overwrite=True)  # registers the memtables it reads
    # from the query, not the view: localCheckpoint() of the view's plan fails ("key not found: _plan#...")
    backend._session.sql(str(backend.compile(expr))).localCheckpoint().createOrReplaceTempView(name)
    return backend.table(name)


def _release(session, name: str) -> None:
    try:
        session.catalog.uncacheTable(name)
        session.catalog.dropTempView(name)
    except Exception:  # session stopped, or interpreter shutting down
        pass
