"""Apache Spark engine: the contract's tables on a Spark session, queried through ibis.

:func:`open_spark_source` returns a :class:`pipeline.sources.Source` whose
backend is an ibis PySpark backend, so :func:`pipeline.featurize.build_features`
and the feature definitions in ``features/`` run unchanged on Spark: the whole
panel is one Spark SQL query, only the final feature matrix comes back to the
driver as a pandas DataFrame.

Two kinds of ``spec``:

- a folder laid out like a folder source (``<table>.parquet``, ``<table>.csv``
  or a ``<table>/`` folder of Parquet or CSV files); a local path or any URI
  Hadoop can read (``hdfs://``, ``s3a://``, ``abfss://``, ``gs://``);
- ``spark-catalog:<database>`` (or ``spark-catalog:<catalog>.<database>``):
  the tables of that name in the session's catalog (Hive metastore, Unity,
  Glue, Iceberg...).

Each table is registered as a temporary view private to the source; typing
(:func:`pipeline.sources.typed`) happens in the query as on every other
engine. CSV files are read as text, so every contract column is parsed by the
same :class:`pipeline.checks.Parser` rules as elsewhere. See ``docs/spark.md``
for running against a cluster.
"""

from __future__ import annotations

import csv
import logging
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.contract import TABLES
from pipeline.errors import SourceError
from pipeline.sources import Source

log = logging.getLogger("churn")

CATALOG_PREFIX = "spark-catalog:"

#: Settings every session gets unless ``conf`` says otherwise. Timestamps are
#: naive UTC on every engine, so the session (and the JVM) runs in UTC.
BASE_CONF = {
    "spark.app.name": "churn-pipeline",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
}

#: Extra defaults for ``local[...]`` masters: quick to start, small shuffles, no UI.
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.driver.memory": "2g",
    "spark.sql.adaptive.enabled": "true",
}


def is_spark_catalog(spec: str) -> bool:
    """Whether ``spec`` names a database of the Spark catalog (``spark-catalog:<database>``)."""
    return str(spec).startswith(CATALOG_PREFIX)


def spark_session(master: str = "local[2]", conf: dict | None = None):
    """Get or create the Spark session the pipeline runs on.

    ``conf`` overrides the defaults (:data:`BASE_CONF`, plus :data:`LOCAL_CONF`
    for a ``local`` master). JVM settings such as ``spark.driver.memory`` only
    take effect if no session is running yet in this process.
    """
    from pyspark.sql import SparkSession

    settings = {**BASE_CONF, **(LOCAL_CONF if str(master).startswith("local") else {}), **(conf or {})}
    builder = SparkSession.builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, str(value))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return session


@dataclass
class SparkSource(Source):
    """A :class:`Source` on Spark; closing it drops its views and stops the session it started."""

    owns_session: bool = False
    views: list[str] = field(default_factory=list, repr=False)

    def close(self) -> None:
        session = self.backend._session
        for view in self.views:
            try:
                session.catalog.dropTempView(view)
            except Exception:  # session already stopped
                pass
        self.views.clear()
        if self.owns_session:
            self.owns_session = False
            session.stop()


def open_spark_source(spec: str, *, master: str = "local[2]", session=None, conf: dict | None = None) -> Source:
    """Open the contract's tables on Spark.

    Parameters
    ----------
    spec : str
        A folder of CSV/Parquet files (local path or Hadoop URI) laid out like a
        folder source, or ``spark-catalog:<database>``.
    master : str
        ``spark.master`` of the session created when none is given or running
        (``local[2]``, ``spark://host:7077``, ``yarn``, ``k8s://...``).
    session : pyspark.sql.SparkSession, optional
        An existing session to use; it is left running when the source closes.
    conf : dict, optional
        Spark settings for a session this call creates, overriding the defaults.

    Raises
    ------
    SourceError
        If the folder or database does not exist or holds none of the contract's tables.
    """
    import ibis
    from pyspark.sql import SparkSession

    text = str(spec)
    owns = False
    if session is None:
        owns = SparkSession.getActiveSession() is None
        session = spark_session(master, conf)
    else:
        session.conf.set("spark.sql.session.timeZone", "UTC")
    backend = ibis.pyspark.connect(session)
    backend.compiler = _compiler()
    token = uuid.uuid4().hex[:8]
    try:
        if is_spark_catalog(text):
            frames = _catalog_tables(session, text[len(CATALOG_PREFIX):])
        else:
            frames = _folder_tables(session, text)
    except Exception:
        if owns:
            session.stop()
        raise
    names = {}
    for table, frame in frames.items():
        view = f"churn_{token}_{table}"
        frame.createOrReplaceTempView(view)
        names[table] = view
    return SparkSource(text, "spark", backend, names, owns_session=owns, views=list(names.values()))


# --------------------------------------------------------------------------- compiler


_COMPILER = None


def _compiler():
    """ibis's PySpark SQL compiler with the fixes the feature definitions need.

    - ``median(where=...)``: ibis 12 applies the filter to the 0.5 as well
      (``percentile(IF(w, x, NULL), IF(w, 0.5, NULL))``), which Spark rejects
      because the percentage must be a constant; compiled like ``quantile(0.5)``.
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


# --------------------------------------------------------------------------- catalog


def _catalog_tables(session, database: str) -> dict:
    database = database.strip()
    if not database:
        raise SourceError("spark-catalog: needs a database name, e.g. spark-catalog:crm")
    quoted = ".".join(f"`{part}`" for part in database.split("."))
    if not session.catalog.databaseExists(database):
        raise SourceError(f"Spark catalog has no database '{database}'")
    frames = {}
    for table in TABLES:
        if session.catalog.tableExists(f"{database}.{table}"):
            frames[table] = session.table(f"{quoted}.`{table}`")
    if not frames:
        raise SourceError(f"Spark catalog database '{database}' holds none of the contract's tables")
    return frames


# --------------------------------------------------------------------------- folders


def _folder_tables(session, location: str) -> dict:
    """Spark DataFrames for the contract tables in a folder (same layout rules as a folder source)."""
    fs = _FileSystem(session, location)
    if not fs.is_dir(location):
        raise SourceError(f"data source '{location}' does not exist or is not a folder")
    frames = {}
    for table in TABLES:
        frame = _folder_table(session, fs, location.rstrip("/"), table)
        if frame is not None:
            frames[table] = frame
    return frames


def _folder_table(session, fs, root: str, table: str):
    single = f"{root}/{table}.parquet"
    if fs.is_file(single):
        return session.read.parquet(single)
    single = f"{root}/{table}.csv"
    if fs.is_file(single):
        return _read_csv(session, fs, single, [single])
    folder = f"{root}/{table}"
    if fs.is_dir(folder):
        files = fs.glob(f"{folder}/*.parquet")
        if files:
            return session.read.parquet(*files)
        files = fs.glob(f"{folder}/*.csv")
        if files:
            return _read_csv(session, fs, files, files)
    return None


def _read_csv(session, fs, pattern, files: list[str]):
    """Every column as text (the Parser types the contract columns); RFC 4180 quoting."""
    return session.read.csv(
        pattern,
        header=True,
        inferSchema=False,
        sep=_sniff_delimiter(fs.head(files[0])),
        quote='"',
        escape='"',
        multiLine=True,
        encoding="UTF-8",
    )


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


class _FileSystem:
    """Existence checks and listings on local paths, or through Hadoop for URIs (hdfs://, s3a://...)."""

    def __init__(self, session, location: str):
        self.local = "://" not in location and not location.startswith("file:")
        self.session = session

    def _hadoop(self, path: str):
        jvm = self.session.sparkContext._jvm
        hpath = jvm.org.apache.hadoop.fs.Path(path)
        return hpath.getFileSystem(self.session.sparkContext._jsc.hadoopConfiguration()), hpath

    def is_dir(self, path: str) -> bool:
        if self.local:
            return Path(path).is_dir()
        fs, hpath = self._hadoop(path)
        return fs.exists(hpath) and fs.getFileStatus(hpath).isDirectory()

    def is_file(self, path: str) -> bool:
        if self.local:
            return Path(path).is_file()
        fs, hpath = self._hadoop(path)
        return fs.exists(hpath) and fs.getFileStatus(hpath).isFile()

    def glob(self, pattern: str) -> list[str]:
        if self.local:
            p = Path(pattern)
            return sorted(str(f) for f in p.parent.glob(p.name))
        fs, hpath = self._hadoop(pattern)
        return sorted(str(s.getPath().toString()) for s in (fs.globStatus(hpath) or []))

    def head(self, path: str, size: int = 65536) -> str:
        """The first lines of a text file (up to about ``size`` bytes)."""
        if self.local:
            with open(path, "rb") as fh:
                text = fh.read(size).decode("utf-8", errors="ignore")
            return text.rsplit("\n", 1)[0] if "\n" in text[:-1] else text
        rows = self.session.read.text(path).limit(50).collect()
        return "\n".join(r.value for r in rows)


# --------------------------------------------------------------------------- temporary tables


def cached_view(backend, expr):
    """Materialise ``expr`` once on Spark: a cached temporary view, released with the expression.

    Spark has no ``CREATE TEMPORARY TABLE``; ``CACHE TABLE`` computes the view
    eagerly into executor memory (spilling to disk), which is what a temporary
    table is to the other engines. When the returned table expression is
    garbage-collected, the cache and the view are dropped.
    """
    name = f"_churn_{uuid.uuid4().hex[:12]}"
    view = backend.create_view(name, expr, overwrite=True)
    backend.raw_sql(f"CACHE TABLE `{name}`")
    weakref.finalize(view.op(), _release, backend._session, name)
    return view


def _release(session, name: str) -> None:
    try:
        session.sql(f"UNCACHE TABLE IF EXISTS `{name}`")
        session.catalog.dropTempView(name)
    except Exception:  # session stopped or interpreter shutting down
        pass
