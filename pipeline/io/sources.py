"""Open a data source: the one place that knows where raw tables come from.

A source is a folder of CSV/Parquet files (one file, or one folder of files,
per table), a DuckDB database file, or a PostgreSQL URL. Whatever it is,
downstream code sees the same thing: ibis tables named after the contract,
typed per the contract and queried where the data lives.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from pathlib import Path

import ibis

from pipeline.contract.checks import Parser
from pipeline.contract.tables import KINDS, TABLES
from pipeline.errors import SourceError, mask_secrets
from pipeline.io.folders import opened
from pipeline.io.urls import duckdb_path, is_postgres, mask_url, postgres_url

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Source:
    """Raw contract tables behind one ibis backend.

    Attributes
    ----------
    spec : str
        What the user passed (``--data``); printed only through :attr:`label`.
    kind : str
        ``folder``, ``duckdb`` or ``postgres``.
    backend : ibis.BaseBackend
        The engine the queries run on.
    """

    spec: str
    kind: str
    backend: Any
    names: dict[str, str] = field(default_factory=dict)
    _parser: Parser | None = field(default=None, repr=False)
    #: Contract tables built by a sources mapping (:mod:`pipeline.io.apply_mapping`), as ibis expressions.
    mapped: dict[str, ibis.Table] = field(default_factory=dict, repr=False)
    #: (contract table, contract column) -> where it came from in the warehouse, for messages.
    origins: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    _event_summary: Any = field(default=None, repr=False)
    #: Whether independent queries may run at once from several threads: one DuckDB or PostgreSQL connection runs
    #: one query at a time; a Spark session takes jobs from many (:class:`pipeline.engine.spark.session.SparkSource`).
    concurrent_queries: ClassVar[bool] = False

    @property
    def label(self) -> str:
        """The source as it may be printed or logged (passwords masked)."""
        return mask_url(self.spec)

    def has(self, table: str) -> bool:
        """Whether the source holds the contract table ``table``."""
        return table in self.names

    def raw(self, table: str) -> ibis.Table:
        """The table exactly as stored (types as the source declares them)."""
        if not self.has(table):
            raise SourceError(f"{self.label}: table '{table}' not found")
        if table in self.mapped:
            return self.mapped[table]
        return self.backend.table(self.names[table])

    def origin(self, table: str, column: str | None) -> str | None:
        """Where a contract column came from in the warehouse (``None`` without a mapping)."""
        return self.origins.get((table, column)) if column is not None else self.origins.get((table, ""))

    def table(self, table: str) -> ibis.Table | None:
        """The table typed per the contract, or ``None`` if it is absent.

        Contract columns are cast to their kinds (timestamps to naive UTC,
        dates to dates, ids to strings); ``quantity`` defaults to 1; extra
        columns pass through unchanged. Call :func:`pipeline.contract.validate.validate`
        first: a value that cannot be cast becomes null here.

        Raises
        ------
        SourceError
            Naming the table and the column when a column the contract requires is absent
            (reached when validation was skipped, ``--no-validate``).
        """
        if not self.has(table):
            return None
        if self._parser is None:
            self._parser = Parser(self)
        raw = self.raw(table)
        self._require_columns(table, raw)
        return typed(raw, table, self._parser)

    def event_summary(self):
        """Per ``event_type`` of ``usage_events``: events with a timestamp (``n``), the first and the last
        timestamp, as a pandas frame; read once per open source, so one pass over the events gives the data's
        start, its end and the event types' counts (:mod:`pipeline.engine.labels`,
        :func:`pipeline.engine.catalog.resolve_vocabulary`)."""
        if self._event_summary is None:
            ev = self.required("usage_events")
            self._event_summary = ev.group_by("event_type").aggregate(**self.event_summary_metrics(ev.occurred_at)
                                                                      ).execute()
        return self._event_summary

    @staticmethod
    def event_summary_metrics(occurred_at: ibis.Value) -> dict:
        """The aggregates of :meth:`event_summary` per event type, from the typed ``occurred_at``: events with a
        timestamp (``n``), the first and the last timestamp."""
        return {"n": occurred_at.count(), "first": occurred_at.min(), "last": occurred_at.max()}

    def keep_event_summary(self, summary) -> None:
        """Keep ``summary`` as :meth:`event_summary`, read by a query that scanned the events anyway (the contract
        checks: :mod:`pipeline.contract.validate`), so the events are read once."""
        self._event_summary = summary

    def _require_columns(self, table: str, raw: ibis.Table) -> None:
        missing = [c.name for c in TABLES[table].columns if not c.optional and c.name not in raw.columns]
        if not missing:
            return
        where = "; ".join(filter(None, (self.origin(table, c) for c in missing)))
        raise SourceError(
            f"{self.label}: table {table} has no column {', '.join(missing)}, which the contract requires"
            + (f" ({where})" if where else "") + f"; its columns: {', '.join(raw.columns)}. "
            "Run `churn validate` for every problem (--no-validate skipped the checks)")

    def required(self, table: str) -> ibis.Table:
        """:meth:`table` for a table the step cannot do without.

        Raises
        ------
        SourceError
            Naming the table when the source lacks it.
        """
        found = self.table(table)
        if found is None:
            raise SourceError(f"{self.label}: table '{table}' not found")
        return found

    def read_file(self, name: str) -> ibis.Table | None:
        """A folder file read by the engine itself; only engines that read files themselves (Spark) can."""
        raise SourceError(f"{self.label}: this engine reads folder files through its backend, not one by one")

    def fetch(self, expr) -> pd.DataFrame:
        """The rows of ``expr`` as a pandas frame, each column as the engine types it (the caller types them:
        :func:`pipeline.engine.featurize.tidy`). On DuckDB through Arrow's own conversion: ibis's conversion to
        pandas costs more than the query (a 65,000 x 130 feature table: 0.9 s over 2.1 s); elsewhere ibis's."""
        if self.backend.name == "duckdb":
            return expr.to_pyarrow().to_pandas(date_as_object=False)
        return expr.execute()

    def materialise(self, expr) -> ibis.Table:
        """Compute ``expr`` once into a temporary table that later queries read."""
        return self.backend.create_table(f"_churn_{uuid.uuid4().hex[:12]}", expr, temp=True)

    def reused(self, expr) -> ibis.Table:
        """``expr``, a small table that later steps read several times and build on: as it is (the engine reuses
        a subquery it reads twice); an engine that computes every reading anew (Spark) computes it once."""
        return expr

    def close(self) -> None:
        """Release the connection."""
        disconnect = getattr(self.backend, "disconnect", None)
        if disconnect is not None:
            disconnect()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def typed(raw: ibis.Table, table: str, parser: Parser) -> ibis.Table:
    """Cast the contract columns of ``raw`` to the contract's kinds, as the validator reads them."""
    casts = {}
    for col in TABLES[table].columns:
        if col.name not in raw.columns:
            continue
        parsed = parser.parse(raw[col.name], col.kind)
        casts[col.name] = parsed if parsed is not None else raw[col.name].cast(KINDS[col.kind])
    if "quantity" in casts:
        casts["quantity"] = casts["quantity"].fill_null(1.0)
    return raw.mutate(**casts)


def open_source(spec: str | Path, csv_in_memory_mb: float = 0, postgres_jit: bool = False,
                duckdb_memory_limit: str | None = None) -> Source:
    """Open a data source from a folder path, a DuckDB file or a PostgreSQL URL.

    A folder's CSV files of at most ``csv_in_memory_mb`` megabytes are read once into
    the session's memory (config ``csv_in_memory_mb``), so validation and features scan
    typed columns instead of parsing the text again per query; larger ones, and every
    one at 0, are read from the file by each query.

    A PostgreSQL session runs without the server's JIT unless ``postgres_jit`` (config
    ``postgres_jit``): the feature queries are wide (hundreds of expressions), so their
    estimated cost passes ``jit_above_cost`` and LLVM compiled them for longer than they
    ran (one date of 1 M events: 25 s with JIT, 2 s without; README, "Scale").

    A folder or DuckDB file is queried with at most ``duckdb_memory_limit`` of memory (config
    ``duckdb_memory_limit``, such as ``3GB``; ``None``: DuckDB's default), beyond which DuckDB spills to disk:
    the panel of 100 M events peaked at 3.6-3.9 GiB of the process by default, 3.2 GiB with ``3GB`` (10 % slower)
    and 2.3 GiB with ``2GB`` (25 % slower).

    Raises
    ------
    SourceError
        If the path does not exist or the database refuses the connection.
    """
    text = str(spec)
    if is_postgres(text):
        return _open_postgres(text, postgres_jit)
    path = Path(duckdb_path(text))
    if not path.exists():
        raise SourceError(f"data source '{text}' does not exist")
    if path.is_dir():
        return _limited(_open_folder(path, csv_in_memory_mb), duckdb_memory_limit)
    if path.suffix in (".duckdb", ".db", ".ddb"):
        return _limited(_open_duckdb_file(path), duckdb_memory_limit)
    raise SourceError(
        f"data source '{text}' is neither a folder, a DuckDB file (.duckdb) nor a PostgreSQL URL"
    )


def open_frames(tables: dict, label: str = "in-memory tables") -> Source:
    """A source over pandas DataFrames (tests, notebooks), on an in-memory DuckDB."""
    con = _utc_duckdb()
    names = {}
    for table, frame in tables.items():
        if table in TABLES:
            con.create_table(table, frame)
            names[table] = table
    return Source(label, "frames", con, names)


def _limited(source: Source, memory_limit: str | None) -> Source:
    """``source`` (on DuckDB) with DuckDB's ``memory_limit`` set, if one is given (see :func:`open_source`)."""
    if memory_limit is not None:
        try:
            source.backend.raw_sql("SET memory_limit = '" + memory_limit.replace("'", "''") + "'")
        except Exception as exc:
            source.close()
            raise SourceError(f"DuckDB refuses duckdb_memory_limit '{memory_limit}': {exc}") from exc
    return source


def _utc_duckdb(path: str = ":memory:", read_only: bool = False):
    con = ibis.duckdb.connect(path, read_only=read_only)
    con.raw_sql("SET TimeZone = 'UTC'")
    return con


def _open_folder(path: Path, csv_in_memory_mb: float = 0) -> Source:
    con, names = opened(path, csv_in_memory_mb)
    return Source(str(path), "folder", ibis.duckdb.from_connection(con), names)


def _open_duckdb_file(path: Path) -> Source:
    try:
        con = _utc_duckdb(str(path), read_only=True)
    except Exception as exc:  # duckdb raises IOException subclasses with clear text
        raise SourceError(f"cannot open DuckDB file '{path}': {exc}") from exc
    present = set(con.list_tables())
    return Source(str(path), "duckdb", con, {t: t for t in TABLES if t in present})


def _open_postgres(url: str, jit: bool) -> Source:
    try:
        con = ibis.connect(postgres_url(url, "postgres"))
        con.raw_sql("SET TIME ZONE 'UTC'")
        if not jit:  # see open_source
            con.raw_sql("SET jit = off")
    except Exception as exc:
        raise SourceError(f"cannot connect to {mask_url(url)}: {mask_secrets(exc)}") from exc
    present = set(con.list_tables())
    return Source(url, "postgres", con, {t: t for t in TABLES if t in present})
