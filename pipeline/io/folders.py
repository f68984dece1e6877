"""A folder of CSV/Parquet files on DuckDB: which file holds which table, how each is read, and the connection.

Only DuckDB is imported here, so a command can start opening its folder before its heavy imports
(:func:`start_opening`): detecting the CSV files' dialects and reading the small ones into memory is DuckDB's
work, done without the GIL, while the command imports pandas, ibis and the pipeline (at 10 M events that work is
about 0.3 s, and `churn features` for one date took 0.1-0.2 s less). :mod:`pipeline.io.sources` wraps the connection.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import duckdb

from pipeline.contract.tables import TABLES
from pipeline.io.csv_types import quote, sniffed_call


def connect_folder(path: Path, csv_in_memory_mb: float = 0) -> tuple[duckdb.DuckDBPyConnection, dict[str, str]]:
    """An in-memory DuckDB connection (time zone UTC) with one table or view per contract table of ``path``,
    and the contract table -> table name map.

    A CSV file of at most ``csv_in_memory_mb`` megabytes is read once into a temporary table
    (:func:`kept_in_memory`); every other file is a view reading it.
    """
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    names = {}
    for table, reader in folder_readers(con, path).items():
        if not kept_in_memory(con, path, table, reader, csv_in_memory_mb):
            con.execute(f'CREATE VIEW "{table}" AS SELECT * FROM {reader}')
        names[table] = table
    return con, names


def kept_in_memory(con, path: Path, table: str, reader: str, limit_mb: float) -> bool:
    """Read a CSV file of at most ``limit_mb`` MB, typed as detected, into a temporary table named ``table``.

    ``False`` (and nothing created) for other files and for a file that does not read: its
    view then reports the problem where a query uses it, as before.
    """
    entry = folder_entry(path, table)
    if entry is None or entry[0] != "csv" or not entry[1].is_file() or not reader.startswith("read_csv("):
        return False
    if entry[1].stat().st_size > limit_mb * 1e6:
        return False
    try:
        con.execute(f'CREATE TEMP TABLE "{table}" AS SELECT * FROM {reader}')
    except Exception:
        return False
    return True


def folder_entry(path: Path, table: str) -> tuple[str, Path] | None:
    """Format and location of ``table`` in a folder: ``("parquet" | "csv", file or glob)``, if present.

    The first of ``<table>.parquet``, ``<table>.csv``, ``<table>/*.parquet``, ``<table>/*.csv``.
    """
    for fmt in ("parquet", "csv"):
        if (path / f"{table}.{fmt}").is_file():
            return fmt, path / f"{table}.{fmt}"
    folder = path / table
    if folder.is_dir():
        for fmt in ("parquet", "csv"):
            if any(folder.glob(f"*.{fmt}")):
                return fmt, folder / f"*.{fmt}"
    return None


def folder_names(path: Path) -> list[str]:
    """Every table name a folder holds (file stems and folders of files), sorted."""
    names = {f.stem for f in path.iterdir() if f.is_file() and f.suffix in (".csv", ".parquet")}
    names |= {f.name for f in path.iterdir() if f.is_dir() and folder_entry(path, f.name) is not None}
    return sorted(names)


def folder_readers(con, path: Path) -> dict[str, str]:
    """:func:`folder_reader` of every contract table the folder holds, the CSV files detected side by side
    (DuckDB detects one file on one thread), each on its own cursor of the DuckDB connection ``con``."""
    present = [table for table in TABLES if folder_entry(path, table) is not None]
    cursors = [con.cursor() for _ in present]  # opened here: each thread then uses only its own
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(len(present), os.cpu_count() or 1))) as pool:
            readers = list(pool.map(lambda table, cursor: folder_reader(cursor, path, table), present, cursors))
    finally:
        for cursor in cursors:
            cursor.close()
    return {table: reader for table, reader in zip(present, readers) if reader is not None}


def folder_reader(con, path: Path, table: str) -> str | None:
    """The DuckDB table function reading ``table`` from a folder, if present (``con``: a DuckDB connection)."""
    entry = folder_entry(path, table)
    if entry is None:
        return None
    fmt, location = entry
    if fmt == "parquet":
        return f"read_parquet({quote(location)})"
    if location.is_file():
        return sniffed_call(con, location)
    return f"read_csv({quote(location)}, header = true, auto_detect = true, sample_size = -1)"


class _Opening:
    """A folder being opened by :func:`connect_folder` on a thread of its own, and what it was asked for."""

    def __init__(self, path: Path, csv_in_memory_mb: float):
        self.key = (str(path.resolve()), float(csv_in_memory_mb))
        self.files = files_seen(path)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="churn-folder")
        self.future: Future = pool.submit(connect_folder, path, csv_in_memory_mb)
        pool.shutdown(wait=False)  # the thread ends with its one task

    def discard(self) -> None:
        """Close the connection once it is open: nobody took it."""
        self.future.add_done_callback(_close)


def _close(done: Future) -> None:
    if done.exception() is None:
        done.result()[0].close()


_lock = threading.Lock()
_early: _Opening | None = None  # at most one: a command opens one folder


def _swap(opening: _Opening | None) -> _Opening | None:
    """Put ``opening`` in the one slot; the opening it held, if any."""
    global _early
    with _lock:
        previous, _early = _early, opening
    return previous


def start_opening(spec, csv_in_memory_mb: float = 0) -> None:
    """Start :func:`connect_folder` of ``spec`` on a thread of its own when ``spec`` is a folder; a later
    :func:`opened` of the same folder and limit takes the connection (an earlier opening nobody took is dropped)."""
    path = Path(str(spec))
    if not path.is_dir():
        return
    try:
        opening = _Opening(path, csv_in_memory_mb)
    except OSError:  # a folder that cannot be listed: the source, opened as before, says why
        return
    if (previous := _swap(opening)) is not None:
        previous.discard()


def opened(path: Path, csv_in_memory_mb: float = 0) -> tuple[duckdb.DuckDBPyConnection, dict[str, str]]:
    """:func:`connect_folder` of ``path``: the connection :func:`start_opening` started for it if its files are
    still those it saw (names, sizes and modification times), else a new one."""
    opening = _swap(None)
    if opening is not None:
        if opening.key == (str(path.resolve()), float(csv_in_memory_mb)) and opening.files == _files_or_none(path):
            return opening.future.result()
        opening.discard()
    return connect_folder(path, csv_in_memory_mb)


def drop_opening() -> None:
    """Drop the folder opening early, if any (nobody will take it)."""
    if (opening := _swap(None)) is not None:
        opening.discard()


def _files_or_none(path: Path) -> tuple | None:
    try:
        return files_seen(path)
    except OSError:
        return None


def files_seen(path: Path) -> tuple:
    """(name, size, modification time) of every file of a folder and of its folders of files, sorted."""
    found = []
    for entry in sorted(path.iterdir()):
        for file in (sorted(entry.iterdir()) if entry.is_dir() else [entry]):
            if file.is_file():
                stat = file.stat()
                found.append((str(file), stat.st_size, stat.st_mtime_ns))
    return tuple(found)
