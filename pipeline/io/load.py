"""Copy the raw contract tables of a source into a DuckDB file or PostgreSQL.

Tables are copied as stored (not typed), so a broken world stays broken and
fails validation the same way in its new home. Rows stream through Arrow record
batches, never a whole table in memory; each target is written in a single
transaction, so a load that fails leaves the target as it was. Timestamps
arrive as naive UTC (``timestamp without time zone``).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.csv as pacsv

from pipeline.contract.tables import TABLES
from pipeline.errors import SourceError
from pipeline.errors import mask_secrets
from pipeline.io.sql_backends import new_duckdb_file
from pipeline.io.urls import duckdb_path, is_postgres, mask_url, postgres_url

#: Rows per Arrow batch streamed from the source.
CHUNK_ROWS = 250_000


def load_tables(source, target: str) -> dict[str, int]:
    """Copy every contract table present in ``source`` into ``target``, replacing it.

    Parameters
    ----------
    source : pipeline.io.sources.Source
        Where the tables come from (folder, DuckDB file or PostgreSQL).
    target : str
        A DuckDB file path (created if missing) or a PostgreSQL URL.

    Returns
    -------
    dict of str to int
        Rows copied per table, in contract order.

    Raises
    ------
    SourceError
        If the source holds no contract table or the target cannot be written;
        the target is then left unchanged.
    """
    present = [name for name in TABLES if source.has(name)]
    if not present:
        raise SourceError(f"{source.label}: no contract table to load ({', '.join(TABLES)})")
    loader = _load_postgres if is_postgres(target) else _load_duckdb
    try:
        return loader({name: portable(source.raw(name)) for name in present}, str(target))
    except Exception as exc:
        raise SourceError(
            f"loading into {mask_url(str(target))} failed, nothing was changed: {mask_secrets(exc)}"
        ) from exc


def portable(raw: ibis.Table) -> ibis.Table:
    """``raw`` with types every target stores alike.

    Timestamps become naive UTC microseconds, unsigned integers signed 64-bit,
    and anything but booleans, numbers, text and dates (structs, lists, binary,
    intervals, ...) text.
    """
    casts = {}
    for name, dtype in raw.schema().items():
        if dtype.is_timestamp() and (dtype.timezone is not None or dtype.scale not in (None, 6)):
            casts[name] = raw[name].cast("timestamp")
        elif dtype.is_unsigned_integer():
            casts[name] = raw[name].cast("int64")
        elif not _portable_type(dtype):
            casts[name] = raw[name].cast("string")
    return raw.mutate(**casts) if casts else raw


def _portable_type(dtype) -> bool:
    return (
        dtype.is_boolean() or dtype.is_numeric() or dtype.is_string()
        or dtype.is_date() or dtype.is_timestamp()
    )


def _batches(table: ibis.Table) -> pa.RecordBatchReader:
    return table.to_pyarrow_batches(chunk_size=CHUNK_ROWS)


# --------------------------------------------------------------------------- DuckDB


def _load_duckdb(tables: dict[str, ibis.Table], target: str) -> dict[str, int]:
    import duckdb

    path = Path(duckdb_path(target))
    path.parent.mkdir(parents=True, exist_ok=True)
    new_duckdb_file(path)  # the warehouse's format: the score tables written into it later store ZSTD
    con = duckdb.connect(str(path))
    counts = {}
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        con.execute("BEGIN TRANSACTION")
        for name, table in tables.items():
            con.register("_churn_batches", _batches(table))
            con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _churn_batches')
            con.unregister("_churn_batches")
            counts[name] = con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()
    return counts


# --------------------------------------------------------------------------- PostgreSQL


def _pg_type(dtype) -> str:
    from ibis.backends.sql.datatypes import PostgresType

    return PostgresType.from_ibis(dtype).sql("postgres")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _load_postgres(tables: dict[str, ibis.Table], url: str) -> dict[str, int]:
    """Stage every table under a temporary name, then swap all of them in at once.

    Staging first means no lock is taken on the tables being replaced while the
    source is still read, so a source and target on the same server cannot block.
    Each table is analysed in the same transaction: until the server's autovacuum does it, if it
    runs at all, the planner would misjudge the events' row counts and spill sorts to disk.
    """
    import psycopg

    counts = {}
    with psycopg.connect(postgres_url(url)) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        with conn.transaction():
            for name, table in tables.items():
                counts[name] = _copy_into(conn, f"_churn_load_{name}", table)
            for name in tables:
                conn.execute(f"DROP TABLE IF EXISTS {_quote(name)}")
                staged = _quote(f"_churn_load_{name}")
                conn.execute(f"ALTER TABLE {staged} RENAME TO {_quote(name)}")
                conn.execute(f"ANALYZE {_quote(name)}")
    return counts


def _copy_into(conn, name: str, table: ibis.Table) -> int:
    """Create ``name`` shaped like ``table`` and COPY its rows in as CSV, batch by batch."""
    schema = table.schema()
    columns = ", ".join(f"{_quote(c)} {_pg_type(t)}" for c, t in schema.items())
    conn.execute(f"DROP TABLE IF EXISTS {_quote(name)}")
    conn.execute(f"CREATE TABLE {_quote(name)} ({columns})")
    column_list = ", ".join(_quote(c) for c in schema)
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    rows = 0
    with conn.cursor().copy(f"COPY {_quote(name)} ({column_list}) FROM STDIN (FORMAT csv)") as copy:
        for batch in _batches(table):
            buffer = io.BytesIO()
            pacsv.write_csv(pa.Table.from_batches([batch]), buffer, options)
            copy.write(buffer.getvalue())
            rows += batch.num_rows
    return rows
