"""Apply a sources mapping (:mod:`pipeline.io.mapping_file`) to an open source, as ibis expressions.

Each mapped contract table becomes an ibis expression over the warehouse's own
table, view or select: columns renamed to the contract's names, then the value
mappings (priority words, NPS scale, time zone, cents, epoch units). Nothing is copied: the
expressions are compiled into every later query, on DuckDB, PostgreSQL and
Spark alike, and :meth:`pipeline.io.sources.Source.raw` returns them where it
would return a contract-named table, so validation, features and scoring read
them like any contract table. Every contract column remembers the warehouse
column it came from (:attr:`pipeline.io.sources.Source.origins`), so problems
name both.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis

from pipeline.contract.checks import Parser
from pipeline.contract.tables import TABLES
from pipeline.errors import SourceError, mask_secrets
from pipeline.io.mapping_file import DIALECTS, EPOCH_UNITS, SourceMapping, TableMap, read_only_select, referenced_tables
from pipeline.io.folders import folder_entry, folder_names, folder_reader
from pipeline.io.sources import Source

CATALOG_PREFIX = "spark-catalog:"


@ibis.udf.scalar.builtin(name="timezone")
def _timezone(zone: str, stamp: dt.datetime) -> dt.datetime: ...  # type: ignore[empty-body]


@ibis.udf.scalar.builtin(name="to_utc_timestamp")
def _to_utc_timestamp(stamp: dt.datetime, zone: str) -> dt.datetime: ...  # type: ignore[empty-body]


@ibis.udf.scalar.builtin(name="make_timestamp")
def _make_timestamp(micros: int) -> dt.datetime: ...  # type: ignore[empty-body]  # DuckDB: naive UTC


@ibis.udf.scalar.builtin(name="timestamp_micros")
def _timestamp_micros(micros: int) -> dt.datetime: ...  # type: ignore[empty-body]  # Spark


@ibis.udf.scalar.builtin(name="to_timestamp")
def _to_timestamp(seconds: float) -> dt.datetime: ...  # type: ignore[empty-body]  # PostgreSQL: timestamptz


def map_source(source: Source, mapping: SourceMapping, where: str = "sources mapping") -> Source:
    """Replace the contract tables of ``source`` named in ``mapping`` by their mapped expressions.

    Parameters
    ----------
    source : Source
        An open source (any engine); contract tables the mapping does not name stay as they are.
    mapping : SourceMapping
    where : str
        The mapping file, named first in every error.

    Raises
    ------
    SourceError
        Naming the mapping key, the warehouse object and the contract column: a table,
        view, file or column that is not in the warehouse, or a select the warehouse refuses.
    ConfigError
        For a select that would write (see :func:`pipeline.io.mapping_file.read_only_select`).
    """
    resolver = Resolver(source, where)
    parser = Parser(source)
    for table, spec in mapping.tables.items():
        key = f"tables.{table}"
        if spec.table is not None:
            base, label = resolver.table(spec.table, f"{key}.table", table), spec.table
        else:
            base, label = resolver.select(spec.sql or "", f"{key}.sql", table), f"{key}.sql"
        renamed, origins = _renamed(base, table, spec, label, f"{where}: {key}")
        source.mapped[table] = _converted(renamed, table, spec, parser, source.backend.name, f"{where}: {key}")
        source.names[table] = label
        source.origins.update(origins)
    return source


class Resolver:
    """Warehouse objects by name: ``schema.table`` in a database, a file or folder name in a folder."""

    def __init__(self, source: Source, where: str):
        self.source = source
        self.backend = source.backend
        self.where = where
        spec = str(source.spec)
        self.folder = Path(spec) if source.kind in ("folder", "spark") and Path(spec).is_dir() else None
        self.database = spec[len(CATALOG_PREFIX):] if spec.startswith(CATALOG_PREFIX) else None
        self.registered: dict[str, ibis.Table] = {}

    def table(self, name: str, key: str, contract: str) -> ibis.Table:
        if self.folder is not None:
            found = self._file(name)
            if found is None:
                known = ", ".join(folder_names(self.folder)) or "none"
                raise SourceError(f"{self.where}: {key}: the folder {self.folder} has no table, file or folder "
                                  f"'{name}' (.csv, .parquet) for contract table {contract}; it holds: {known}")
            return found
        *parents, leaf = name.split(".")
        database = tuple(parents) if len(parents) > 1 else (parents[0] if parents else self.database)
        try:
            return self.backend.table(leaf, database=database)
        except Exception as exc:
            raise SourceError(f"{self.where}: {key}: the warehouse has no table or view '{name}' for contract "
                              f"table {contract} ({_first_line(exc)})") from None

    def select(self, sql: str, key: str, contract: str) -> ibis.Table:
        dialect = DIALECTS.get(self.backend.name)
        text = read_only_select(sql, f"{self.where}: {key}", dialect)
        for name in referenced_tables(text, dialect):
            self.table(name, key, contract)  # a missing one is named; folder files become views
        try:
            return self.backend.sql(text, dialect=dialect)
        except Exception as exc:
            raise SourceError(f"{self.where}: {key}: the warehouse refused the select of contract table "
                              f"{contract}: {_first_line(exc)}") from None

    def _file(self, name: str) -> ibis.Table | None:
        """A folder's table ``name`` as a view of the source's own engine (registered once)."""
        if name in self.registered:
            return self.registered[name]
        if self.folder is None:
            return None
        entry = folder_entry(self.folder, name)
        if entry is None:
            return None
        quoted = name.replace('"', '""')
        if self.backend.name == "duckdb":
            self.backend.raw_sql(f'CREATE OR REPLACE VIEW "{quoted}" AS SELECT * FROM '
                                 f"{folder_reader(self.backend.con, self.folder, name)}")
            found = self.backend.table(name)
        else:  # Spark: the engine's reader (Parquet timestamp units, errors naming table and file)
            found = self.source.read_file(name)
        if found is not None:
            self.registered[name] = found
        return found


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return mask_secrets(f"{type(exc).__name__}: {lines[0] if lines else ''}")


def _find(columns: list[str], wanted: str) -> str | None:
    if wanted in columns:
        return wanted
    lower = [c for c in columns if c.lower() == wanted.lower()]
    return lower[0] if len(lower) == 1 else None


def _renamed(base: ibis.Table, table: str, spec: TableMap, label: str, key: str):
    """``base`` with the mapped columns under their contract names, and where each contract column came from."""
    columns = list(base.columns)
    picked, used = {}, set()
    for target, wanted in spec.columns.items():
        found = _find(columns, wanted)
        if found is None:
            contract = f"contract column {table}.{target}" if target in TABLES[table].column_names else \
                f"column {target}"
            raise SourceError(f"{key}.columns.{target}: {label} has no column '{wanted}' ({contract}); "
                              f"its columns: {', '.join(columns)}")
        picked[target] = base[found]
        used.add(found)
    rest = [c for c in columns if c not in used and c not in picked]
    out = base.select(*rest, **picked) if picked else base
    def at(column: str | None) -> str:
        return f"from {label}.{column}" if spec.table else f"from column {column} of {label}"

    origins = {(table, ""): f"from {label}"}
    for col in TABLES[table].columns:
        if col.name in picked:
            origins[(table, col.name)] = at(_find(columns, spec.columns[col.name]))
        elif col.name in columns:
            origins[(table, col.name)] = at(col.name)
        else:
            origins[(table, col.name)] = f"not in {label}: map it in {key}.columns.{col.name}"
    return out, origins


def _converted(expr: ibis.Table, table: str, spec: TableMap, parser: Parser, engine: str, where: str) -> ibis.Table:
    """The value mappings of ``spec`` applied to the (renamed) contract columns of ``expr``.

    Raises
    ------
    SourceError
        For a numeric mapping (``scale``, ``unit: cents``) of a column that holds no numbers.
    """
    contract = TABLES[table]
    epochs = {name: v.unit for name, v in spec.values.items() if v.unit in EPOCH_UNITS}
    zones = {c.name: spec.timezone for c in contract.columns
             if c.kind == "timestamp" and spec.timezone and c.name not in epochs}
    zones.update({name: v.timezone for name, v in spec.values.items() if v.timezone})
    changes = {}
    for name in expr.columns:
        value, rule = expr[name], spec.values.get(name)
        if rule is not None and rule.map:
            value = value.cast("string").substitute(dict(rule.map))
        if rule is not None and rule.scale:
            low, high = rule.bounds()
            number = _numbers(parser, value, f"{where}.values.{name}.scale")
            value = ((number - low) * (10.0 / (high - low)) + 0.5).floor().cast("float64")
        if rule is not None and rule.unit == "cents":
            value = _numbers(parser, value, f"{where}.values.{name}.unit") / 100.0
        if name in epochs:
            value = _from_epoch(value, epochs[name], parser, engine, f"{where}.values.{name}.unit")
            value = value.date() if contract.column(name).kind == "date" else value
        if zones.get(name):
            value = _to_utc(value, zones[name], parser, engine)
        if value is not expr[name]:
            changes[name] = value
    return expr.mutate(**changes) if changes else expr


def _to_utc(value: ibis.Value, zone: str, parser: Parser, engine: str) -> ibis.Value:
    """Naive local time in ``zone`` -> naive UTC; values with an offset or time zone are left as they are."""
    dtype = value.type()
    if dtype.is_timestamp() and dtype.timezone is not None:
        return value
    stamp = parser.parse(value, "timestamp") if (dtype.is_string() or dtype.is_date()) else value
    if stamp is None:
        return value
    if engine == "pyspark":
        return _to_utc_timestamp(stamp, zone).cast("timestamp")
    return _timezone("UTC", _timezone(zone, stamp)).cast("timestamp")


def _from_epoch(value: ibis.Value, unit: str, parser: Parser, engine: str, key: str) -> ibis.Value:
    """Numbers of ``unit`` (``epoch_ms``...) since 1970-01-01 UTC -> naive UTC timestamps, to the microsecond."""
    factor = EPOCH_UNITS[unit]
    if value.type().is_integer():
        micros = value.cast("int64") * factor
    else:
        micros = (_numbers(parser, value, key) * factor).round().cast("int64")
    if engine == "pyspark":
        return _timestamp_micros(micros)
    if engine == "postgres":  # to_timestamp gives a timestamptz: its UTC wall time, without the zone
        return _timezone("UTC", _to_timestamp(micros.cast("float64") / 1e6)).cast("timestamp")
    return _make_timestamp(micros).cast("timestamp")


def _numbers(parser: Parser, value: ibis.Value, key: str) -> ibis.Value:
    """``value`` as numbers, or a :class:`SourceError` naming the mapping key when its type holds none."""
    number = parser.parse(value, "float")
    if number is None:
        raise SourceError(f"{key}: the column holds {value.type()} values, not numbers")
    return number
