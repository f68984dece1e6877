"""What differs between the warehouses the scores are written to: DuckDB files and PostgreSQL.

Connecting (and waiting for a lock), transactions, bulk inserts, reading rows
back and the SQL dialect of the tables' DDL. :class:`pipeline.io.warehouse.Warehouse`
holds one of these and writes through it.
"""

from __future__ import annotations

import time
import zlib
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from models.errors import ChurnError
from pipeline.errors import mask_secrets
from pipeline.io.score_tables import TYPES
from pipeline.io.urls import mask_url, postgres_url

#: ``application_name`` of the scorer's PostgreSQL sessions (shown in pg_stat_activity).
WRITER_NAME, READER_NAME = "churn-score", "churn-read"


#: The storage format of the DuckDB files the project makes (the warehouse, ``churn load``'s target): DuckDB 1.2's,
#: the first with ZSTD for text, readable by DuckDB 1.2 and later. DuckDB's own default is older.
DUCKDB_STORAGE_VERSION = "v1.2.0"


def new_duckdb_file(path) -> None:
    """Make the DuckDB file ``path``, empty, in the format :data:`DUCKDB_STORAGE_VERSION`, unless it exists.

    A file that exists keeps its format; so does one another process is making at the same time (its
    connection then waits for that process's lock, as every writer does).
    """
    if Path(path).exists():
        return
    import duckdb

    location = str(path).replace("'", "''")
    with duckdb.connect(":memory:") as con, suppress(duckdb.Error):
        con.execute(f"ATTACH '{location}' AS new_file (STORAGE_VERSION '{DUCKDB_STORAGE_VERSION}')")
        con.execute("DETACH new_file")


def _one_line(exc: BaseException) -> str:
    """A driver's error message on one line (psycopg's span several, with hints)."""
    return " ".join(str(exc).split()) or type(exc).__name__


class SqlBackend:
    """What differs between DuckDB and PostgreSQL: connecting, locking, bulk insert, SQL dialect."""

    dialect = ""

    def fetch(self, con, sql: str, params: list) -> pd.DataFrame:
        """The rows of ``sql`` with ``params`` (``?`` placeholders) as a frame."""
        raise NotImplementedError

    def execute(self, con, sql: str, params: list | None = None) -> None:
        """Run ``sql`` with ``params`` (``?`` placeholders)."""
        raise NotImplementedError

    def insert(self, con, table: str, frame: pd.DataFrame, columns: list, valid_json: tuple[str, ...] = ()) -> None:
        """Bulk-insert ``frame``'s ``columns`` into ``table``.

        ``valid_json`` names JSON columns whose text is valid JSON by construction
        (:mod:`models.reason_documents`): a backend may store it without parsing it again.
        """
        raise NotImplementedError

    def __init__(self, url: str, lock_timeout: float):
        self.url, self.lock_timeout = url, lock_timeout

    def columns(self, con, table: str) -> list[str]:
        """Column names of ``table`` in the current schema (empty if there is no such table)."""
        sql = "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = current_schema()"
        return self.fetch(con, sql, [table])["column_name"].tolist()

    def has_table(self, con, table: str) -> bool:
        return bool(self.columns(con, table))

    def update(self, con, table: str, frame: pd.DataFrame, keys: list[str], columns: list) -> None:
        """Set the other ``columns`` of ``table``'s rows whose ``keys`` match a row of ``frame`` from that row.

        ``frame`` goes to a staging table first (the bulk insert), then one ``UPDATE ... FROM`` joins it.
        """
        types = TYPES[self.dialect]
        staging = f"{table}_changes"
        self.execute(con, f"CREATE TEMPORARY TABLE {staging} ("
                          + ", ".join(f"{c.name} {types[c.type]}" for c in columns) + ")")
        try:
            self.insert(con, staging, frame, columns)
            sets = ", ".join(f"{c.name} = {staging}.{c.name}" for c in columns if c.name not in keys)
            match = " AND ".join(f"{table}.{k} = {staging}.{k}" for k in keys)
            self.execute(con, f"UPDATE {table} SET {sets} FROM {staging} WHERE {match}")
        finally:
            self.execute(con, f"DROP TABLE {staging}")

    def ddl(self, table: str, columns: list, key: str) -> str:
        types = TYPES[self.dialect]
        cols = ", ".join(f"{c.name} {types[c.type]}{self.storage(c)}{' NOT NULL' if c.required else ''}" for c in columns)
        return f"CREATE TABLE IF NOT EXISTS {table} ({cols}, PRIMARY KEY ({key}))"

    def storage(self, column) -> str:
        """How a new table stores ``column`` beyond its type, as DDL after the type (default: nothing)."""
        return ""

    def create(self, con, table: str, columns: list, key: str) -> None:
        """Create ``table`` if absent; add the nullable ``columns`` it lacks in place (a later version's).

        Raises
        ------
        ChurnError
            When a required column is still missing: the table was made by another version.
        """
        self.execute(con, self.ddl(table, columns, key))
        present = set(self.columns(con, table))
        for c in columns:
            if c.name not in present and not c.required:
                self.execute(con, f"ALTER TABLE {table} ADD COLUMN {c.name} {TYPES[self.dialect][c.type]}")
                present.add(c.name)
        missing = [c.name for c in columns if c.name not in present]
        if missing:
            raise ChurnError(f"{mask_url(self.url)}: table {table} lacks the column(s) {', '.join(missing)}; "
                             "it was made by another version: rename or drop it")


class DuckDBBackend(SqlBackend):
    dialect = "duckdb"

    #: How a new table compresses its JSON documents (:meth:`create` sets it per file).
    documents = "fsst"

    def storage(self, column) -> str:
        """JSON documents compressed as :attr:`documents` says, chosen when the table is made: at the commit DuckDB
        otherwise tries its dictionary compression on every document before taking one (tables made before keep
        choosing per segment)."""
        return f" USING COMPRESSION {self.documents}" if column.type == "json" else ""

    def create(self, con, table: str, columns: list, key: str) -> None:
        """:meth:`SqlBackend.create`, the documents compressed with ZSTD where the file's format has it, else FSST.

        100,000 scored rows of the 10 M events bench, 420 MB of documents: the write 2.1-2.3 s with FSST (170 MB
        file), 1.5-1.8 s with ZSTD (38 MB); ZSTD in a file of an earlier format would be stored uncompressed.
        """
        found = con.execute("SELECT tags['storage_version'] FROM duckdb_databases() "
                            "WHERE database_name = current_database()").fetchone()
        self.documents = "zstd" if _version(found[0] if found else None) >= (1, 2) else "fsst"
        super().create(con, table, columns, key)

    def _connect(self, read_only: bool):
        import duckdb

        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                return duckdb.connect(self.url, read_only=read_only)
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise ChurnError(f"cannot open the DuckDB warehouse '{self.url}': {exc}") from None
                time.sleep(0.2)  # another process holds the file: wait for it, like a lock would

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        import duckdb

        Path(self.url).parent.mkdir(parents=True, exist_ok=True)
        new_duckdb_file(self.url)
        con = self._connect(read_only=False)
        try:
            con.begin()
            yield con
            con.commit()
        except BaseException as exc:
            with suppress(duckdb.Error):  # a connection the error invalidated cannot roll back: closing does
                con.rollback()
            if isinstance(exc, duckdb.Error):
                raise ChurnError(f"cannot write to the DuckDB warehouse '{self.url}': {_one_line(exc)} "
                                 "(the run's transaction was rolled back)") from exc
            raise
        finally:
            con.close()

    def reading(self):
        if not Path(self.url).is_file():
            raise ChurnError(f"warehouse '{self.url}' does not exist: run `churn score` first")
        return closing(self._connect(read_only=True))

    def lock(self, con, table: str) -> None:
        """Nothing to do: the open file is already exclusive to this process."""

    def execute(self, con, sql: str, params: list | None = None) -> None:
        con.execute(sql, params or [])

    def fetch(self, con, sql: str, params: list) -> pd.DataFrame:
        return con.execute(sql, params).df()

    def insert(self, con, table: str, frame: pd.DataFrame, columns: list, valid_json: tuple[str, ...] = ()) -> None:
        types = TYPES[self.dialect]
        select = ", ".join(f"CAST({c.name} AS {types[c.type]}) AS {c.name}" for c in columns)
        con.register("incoming_rows", _as_json(_arrow(frame), valid_json))
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
        # one thread: an insertion-ordered parallel scan of kilobyte JSON rows is slower than a serial one here
        # (100,000 scored rows on 2 cores: 1.9 s vs 2.4 s for the whole write, medians of 4, quiet machine)
        con.execute("SET threads = 1")
        try:
            con.execute(f"INSERT INTO {table} ({', '.join(c.name for c in columns)}) SELECT {select} FROM incoming_rows")
        finally:
            con.execute(f"SET threads = {int(threads)}")
            con.unregister("incoming_rows")


def _version(text: str | None) -> tuple[int, ...]:
    """``(1, 2)`` of a DuckDB storage version tag such as ``v1.2.0+``; ``()`` when there is none."""
    parts = (text or "").strip("v+").split(".")
    return tuple(int(p) for p in parts[:2]) if all(p.isdigit() for p in parts[:2]) and parts[0] else ()


def _arrow(frame: pd.DataFrame):
    """``frame`` as an Arrow table, which DuckDB scans faster than Python strings (reasons are kilobytes a row).

    A column Arrow cannot type (mixed Python objects) leaves the frame as it is: DuckDB scans pandas too.
    """
    import pyarrow as pa

    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return frame


def _as_json(rows, names: tuple[str, ...]):
    """``rows`` with the text columns ``names`` typed as Arrow JSON, which DuckDB takes as its JSON type as they are.

    Casting text to JSON parses every document (about a third of writing 100,000 scored rows); these are
    valid by construction. A column that is not Arrow text (or rows left as a pandas frame) is cast as before.
    """
    import pyarrow as pa

    if not names or not isinstance(rows, pa.Table):
        return rows
    for name in names:
        column = rows.column(name)
        if column.type in (pa.string(), pa.large_string()):
            json = pa.json_(column.type)
            rows = rows.set_column(rows.schema.get_field_index(name), pa.field(name, json),
                                   pa.chunked_array([pa.ExtensionArray.from_storage(json, c) for c in column.chunks],
                                                    type=json))
    return rows


class PostgresBackend(SqlBackend):
    dialect = "postgres"

    def _connect(self, application_name: str):
        import psycopg

        try:  # the name shows in pg_stat_activity unless the URL sets application_name itself
            con = psycopg.connect(postgres_url(self.url), autocommit=True,
                                  fallback_application_name=application_name)
        except psycopg.Error as exc:
            raise ChurnError(f"cannot connect to {mask_url(self.url)}: {mask_secrets(exc)}") from None
        con.execute("SET TIME ZONE 'UTC'")
        return con

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        import psycopg

        con = self._connect(WRITER_NAME)
        try:
            with con.transaction():
                yield con
        except psycopg.errors.LockNotAvailable:
            raise ChurnError(f"{mask_url(self.url)}: another scoring run or session held the score tables for more "
                             f"than {self.lock_timeout:g} s (scoring.lock_timeout_seconds); nothing was written") from None
        except psycopg.Error as exc:  # e.g. the connection was lost or terminated mid-write
            raise ChurnError(f"cannot write to {mask_url(self.url)}: {mask_secrets(_one_line(exc))} "
                             "(the run's transaction did not commit; re-run `churn score`)") from exc
        finally:
            con.close()

    def reading(self):
        return closing(self._connect(READER_NAME))

    def lock(self, con, table: str) -> None:
        """Wait (up to the lock timeout) for other runs on ``table``; released at commit or rollback."""
        con.execute(f"SET LOCAL lock_timeout = '{int(self.lock_timeout * 1000)}ms'")
        con.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"churn:{table}".encode()) - 2**31])

    def create(self, con, table: str, columns: list, key: str) -> None:
        super().create(con, table, columns, key)
        self._lz4_documents(con, table, [c.name for c in columns if c.type == "json"])

    def _lz4_documents(self, con, table: str, names: list[str]) -> None:
        """Have the server compress ``table``'s JSON documents with lz4 rather than its default pglz, where it can
        (PostgreSQL 14 or later, built with lz4); set once per column, so later writes take no table lock for it.

        A scored row's documents are kilobytes, stored compressed out of line: writing 65,000 scored rows
        took 8.4 s with pglz and 4.6 s with lz4 on this machine, the table 4 % larger.
        """
        if not names or self.fetch(con, "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
                                        "AND 'lz4' = ANY(enumvals)", []).empty:
            return
        pending = self.fetch(con, "SELECT attname FROM pg_attribute WHERE attrelid = ?::regclass "
                                  "AND attname = ANY(?) AND attcompression <> 'l'", [table, names])
        for name in pending["attname"]:
            self.execute(con, f"ALTER TABLE {table} ALTER COLUMN {name} SET COMPRESSION lz4")

    def execute(self, con, sql: str, params: list | None = None) -> None:
        con.execute(sql.replace("?", "%s"), params or None)

    def fetch(self, con, sql: str, params: list) -> pd.DataFrame:
        cur = con.execute(sql.replace("?", "%s"), params or None)
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])

    def insert(self, con, table: str, frame: pd.DataFrame, columns: list, valid_json: tuple[str, ...] = ()) -> None:
        names = [c.name for c in columns]
        rows = frame[names].astype(object).where(frame[names].notna(), None)
        with con.cursor().copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows.itertuples(index=False, name=None):
                copy.write_row(row)
