"""Reading the contract tables on Spark: folders of Parquet or CSV files, and catalog databases.

:func:`folder_tables` finds the files of each table in a folder laid out like a
folder source (a local path or any Hadoop URI); :func:`catalog_tables` the
tables of a catalog database. Both return a :class:`TableRead` per table: the
Spark DataFrame and where it comes from (files or the catalog object), so an
error later in the query can name both.

Parquet files are inspected with pyarrow (their footers only) before Spark
reads them. Spark 4 refuses ``INT64 TIMESTAMP(NANOS)`` columns, what pandas
writes by default (``PARQUET_TYPE_ILLEGAL``); such columns are read with
``spark.sql.legacy.parquet.nanosAsLong`` (as nanoseconds since the epoch) and
converted to timestamps inside the query, to the microsecond, the precision
Spark, DuckDB and PostgreSQL keep. The conversion is logged per table and
column. Millisecond and microsecond timestamps, with or without time zone,
INT96 timestamps and dictionary-encoded strings Spark reads as they are.
"""

from __future__ import annotations

import csv
from typing import Any
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from pipeline.contract.tables import TABLES
from pipeline.engine.spark.errors import describe, is_spark_failure
from pipeline.errors import SourceError

log = logging.getLogger("churn")

#: The Spark setting that reads nanosecond Parquet timestamps as longs instead of refusing them.
NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"


@dataclass
class TableRead:
    """One contract table as Spark reads it.

    Attributes
    ----------
    frame : pyspark.sql.DataFrame
    location : str
        The file, the folder of part files, or the catalog object (``db.table``).
    files : list of str
        The files read (empty for a catalog table).
    """

    frame: Any
    location: str
    files: list[str]


# --------------------------------------------------------------------------- catalog


def catalog_tables(session, database: str, *, required: bool = True) -> dict[str, TableRead]:
    """The contract tables of a catalog database (``spark-catalog:<database>``).

    ``required=False`` (a sources mapping names the tables): a database holding
    none of the contract's names is fine.
    """
    database = database.strip()
    if not database:
        raise SourceError("spark-catalog: needs a database name, e.g. spark-catalog:crm")
    quoted = ".".join(f"`{part}`" for part in database.split("."))
    if not session.catalog.databaseExists(database):
        raise SourceError(f"the Spark catalog has no database '{database}'")
    tables = {}
    for table in TABLES:
        if session.catalog.tableExists(f"{database}.{table}"):
            tables[table] = TableRead(session.table(f"{quoted}.`{table}`"), f"{database}.{table}", [])
    if not tables and required:
        raise SourceError(f"Spark catalog database '{database}' holds none of the contract's tables")
    return tables


# --------------------------------------------------------------------------- folders


def folder_tables(session, location: str) -> dict[str, TableRead]:
    """The contract tables in a folder (layout of a folder source)."""
    fs = FileSystem(session, location)
    root = location.rstrip("/")
    if not fs.is_dir(root):
        raise SourceError(f"data source '{location}' does not exist or is not a folder")
    tables = {}
    for table in TABLES:
        found = _table_files(fs, root, table)
        if found is None:
            continue
        tables[table] = read_files(session, fs, location, table, *found)
    return tables


def folder_table(session, location: str, name: str) -> TableRead | None:
    """One table of a folder by its file or folder name (a sources mapping's warehouse name); None if absent."""
    fs = FileSystem(session, location)
    found = _table_files(fs, location.rstrip("/"), name)
    return None if found is None else read_files(session, fs, location, name, *found)


def read_files(session, fs, location: str, table: str, where: str, files: list[str]) -> TableRead:
    """A table's Parquet or CSV files (nanosecond timestamps converted); a Spark failure named by table and file."""
    try:
        if files[0].endswith(".parquet"):
            frame = read_parquet(session, fs, table, files)
        else:
            frame = _read_csv(session, fs, table, files)
    except Exception as exc:  # Spark cannot read the files' schema
        if not is_spark_failure(exc):
            raise
        raise SourceError(describe(exc, location, {table: TableRead(None, where, files)})) from None
    return TableRead(frame, where, files)


def _table_files(fs, root: str, table: str) -> tuple[str, list[str]] | None:
    """The first of ``<table>.parquet``, ``<table>.csv``, ``<table>/*.parquet``, ``<table>/*.csv``."""
    for suffix in (".parquet", ".csv"):
        single = f"{root}/{table}{suffix}"
        if fs.is_file(single):
            return single, [single]
    folder = f"{root}/{table}"
    if fs.is_dir(folder):
        for suffix in (".parquet", ".csv"):
            files = fs.list(folder, suffix)
            if files:
                return folder, files
    return None


# --------------------------------------------------------------------------- Parquet


def parquet_timestamps(fs, table: str, files: list[str]) -> dict[str, str]:
    """The unit of each timestamp column of a table's Parquet files (``{"occurred_at": "ns"}``).

    Every footer is read (footers only, no data). A column stored in
    nanoseconds in some files and in another unit in others cannot be read as
    one column by Spark: that is an error naming both files.

    Raises
    ------
    SourceError
        For a file pyarrow cannot read as Parquet, or a column whose unit differs between files.
    """
    import pyarrow.parquet as pq

    units: dict[str, tuple[str, str]] = {}
    for file in files:
        try:
            with fs.open_binary(file) as handle:
                schema = pq.read_metadata(handle).schema
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(f"table {table}: {file} is not a readable Parquet file ({_first_line(exc)})") from None
        for i in range(len(schema)):
            column = schema.column(i)
            unit = _timestamp_unit(column)
            if unit is None:
                continue
            seen = units.setdefault(column.name, (unit, file))
            if (seen[0] == "ns") != (unit == "ns"):
                raise SourceError(
                    f"table {table}: column {column.name} is stored in {seen[0]} in {seen[1]} but in {unit} "
                    f"in {file}; Spark reads one type per column: rewrite the files with one timestamp unit"
                )
    return {name: unit for name, (unit, _) in units.items()}


def _timestamp_unit(column) -> str | None:
    if column.physical_type == "INT96":
        return "int96"
    logical = column.logical_type
    if logical is None or logical.type != "TIMESTAMP":
        return None
    unit = json.loads(logical.to_json()).get("timeUnit", "")
    return {"nanoseconds": "ns", "microseconds": "us", "milliseconds": "ms"}.get(unit, unit)


def read_parquet(session, fs, table: str, files: list[str]):
    """A table's Parquet files as a Spark DataFrame; nanosecond timestamps converted (see the module)."""
    from pyspark.sql import functions as F

    nanos = []
    if fs.footers_readable:
        nanos = [name for name, unit in parquet_timestamps(fs, table, files).items() if unit == "ns"]
    else:
        log.info("table %s: Parquet footers of %s not inspected (no pyarrow file system for it)", table, files[0])
    if nanos and session.conf.get(NANOS_AS_LONG, "false") != "true":
        session.conf.set(NANOS_AS_LONG, "true")
    frame = session.read.parquet(*files)
    for name in nanos:  # floor to the microsecond, in exact integer arithmetic
        frame = frame.withColumn(name, F.expr(f"timestamp_micros(div(`{name}` - pmod(`{name}`, 1000), 1000))"))
        log.info("table %s: column %s is stored as nanosecond timestamps (pandas' default); Spark reads it with "
                 "%s=true and the pipeline converts it to microseconds", table, name, NANOS_AS_LONG)
    return frame


# --------------------------------------------------------------------------- CSV


def _read_csv(session, fs, table: str, files: list[str]):
    """CSV files with a header, every column as text; the Parser types the contract columns.

    The delimiter is sniffed from the first file and the header gives the
    (all-string) schema, so opening a source runs no Spark job. Quoting is
    RFC 4180 (a quote inside a quoted field is doubled), as DuckDB reads it.
    """
    from pyspark.sql.types import StringType, StructField, StructType

    sample = fs.head(files[0])
    sep = _sniff_delimiter(sample)
    header = next(csv.reader(io.StringIO(sample), delimiter=sep, quotechar='"'), [])
    header = [name.lstrip("\ufeff") for name in header]
    if not header:
        raise SourceError(f"table {table}: {files[0]} has no header line")
    schema = StructType([StructField(name, StringType(), True) for name in header])
    return session.read.csv(
        files, schema=schema, header=True, sep=sep, quote='"', escape='"',
        multiLine=True, encoding="UTF-8", mode="PERMISSIVE",
    )


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- file systems


class FileSystem:
    """Existence checks, listings and reads: pathlib for local paths, Hadoop for URIs (hdfs://, s3a://...)."""

    def __init__(self, session, location: str):
        self.local = "://" not in location and not location.startswith("file:")
        self.session = session
        self._arrow = None
        if not self.local:
            try:
                import pyarrow.fs

                self._arrow, _ = pyarrow.fs.FileSystem.from_uri(location)
            except Exception:  # s3a://, abfss://... have no pyarrow file system
                self._arrow = None

    @property
    def footers_readable(self) -> bool:
        """Whether pyarrow can read the files' footers (local paths, ``file://``, ``s3://``, ``gs://``, ``hdfs://``)."""
        return self.local or self._arrow is not None

    def open_binary(self, path: str):
        """A binary file object (local or through pyarrow)."""
        if self.local:
            return open(path, "rb")
        from urllib.parse import urlparse

        parsed = urlparse(path)
        inner = parsed.path if parsed.scheme == "file" else f"{parsed.netloc}{parsed.path}"
        if self._arrow is None:
            raise OSError(f"no file system reads {path}")
        return self._arrow.open_input_file(inner)

    def _hadoop(self, path: str):
        try:
            sc = self.session.sparkContext
            jvm = sc._jvm
        except Exception as exc:  # Spark Connect: no JVM on this side
            raise SourceError(
                "this Spark session cannot list files (Spark Connect?): "
                "register the tables in the catalog and use spark-catalog:<database>"
            ) from exc
        hpath = jvm.org.apache.hadoop.fs.Path(path)
        return hpath.getFileSystem(sc._jsc.hadoopConfiguration()), hpath

    def _status(self, path: str):
        fs, hpath = self._hadoop(path)
        return fs.getFileStatus(hpath) if fs.exists(hpath) else None

    def is_dir(self, path: str) -> bool:
        if self.local:
            return Path(path).is_dir()
        status = self._status(path)
        return status is not None and status.isDirectory()

    def is_file(self, path: str) -> bool:
        if self.local:
            return Path(path).is_file()
        status = self._status(path)
        return status is not None and status.isFile()

    def list(self, folder: str, suffix: str) -> list[str]:
        """Files of ``folder`` (not its subfolders) whose names end with ``suffix``, sorted."""
        if self.local:
            return sorted(str(f) for f in Path(folder).glob(f"*{suffix}") if f.is_file())
        fs, hpath = self._hadoop(folder)
        return sorted(
            s.getPath().toString() for s in fs.listStatus(hpath)
            if s.isFile() and s.getPath().getName().endswith(suffix)
        )

    def head(self, path: str, size: int = 65536) -> str:
        """The first complete lines of a text file (about ``size`` bytes)."""
        if not self.local:
            rows = self.session.read.text(path).limit(50).collect()
            return "\n".join(row.value for row in rows)
        with open(path, "rb") as fh:
            data = fh.read(size)
        text = data.decode("utf-8", errors="ignore")
        if len(data) == size and "\n" in text:
            text = text.rsplit("\n", 1)[0]
        return text
