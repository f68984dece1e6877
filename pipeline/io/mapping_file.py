"""``configs/sources.yaml``: how a warehouse's own tables become the contract's tables.

For each contract table the mapping names either a warehouse table or view
(``schema.table``, or a file name in a folder source) with column renames, or
a read-only SQL ``select``; plus value mappings for the common differences:
priority words, NPS on another scale, naive timestamps in a named time zone,
MRR in cents, timestamps stored as epoch numbers. This module reads and checks the file (pydantic, errors name the
key); :mod:`pipeline.io.apply_mapping` applies it to an open source as ibis expressions.

Example
-------
.. code-block:: yaml

    tables:
      usage_events:
        table: analytics.product_events
        columns: {account_id: org_id, occurred_at: event_ts}
        values:
          occurred_at: {unit: epoch_ms}
      support_tickets:
        sql: select id as ticket_id, org_id as account_id, ... from zendesk.tickets
        values:
          priority: {map: {P1: urgent, P2: high, P3: normal, P4: low}}
      nps_responses:
        table: surveys.nps
        values:
          score: {scale: 0-100}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, available_timezones

import sqlglot
import sqlglot.expressions as sge
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.config import read_yaml_mapping
from pipeline.contract.tables import TABLES
from models.errors import ConfigError

SCALE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$")

#: Statements (anywhere in the tree) that write or change the warehouse, or run arbitrary commands.
WRITES = (sge.Insert, sge.Update, sge.Delete, sge.Merge, sge.Create, sge.Drop, sge.Alter, sge.TruncateTable,
          sge.Command, sge.Into, sge.Copy, sge.Set, sge.Transaction, sge.Commit, sge.Rollback, sge.Grant,
          sge.LoadData, sge.Use, sge.Pragma)

#: Epoch units of timestamp columns stored as numbers: the microseconds in one of them.
EPOCH_UNITS = {"epoch_s": 1_000_000, "epoch_ms": 1_000, "epoch_us": 1}

#: The sqlglot dialect of each ibis backend name.
DIALECTS = {"duckdb": "duckdb", "postgres": "postgres", "pyspark": "spark"}


def _zone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError(f"'{value}' is not an IANA time zone name (e.g. Europe/Berlin, America/New_York, UTC)")
    ZoneInfo(value)
    return value


def _scale(value: str) -> str:
    found = SCALE.match(str(value))
    if not found or float(found[1]) >= float(found[2]):
        raise ValueError(f"'{value}' is not a scale LOW-HIGH with LOW < HIGH (e.g. 1-5, 0-100)")
    return value


Zone = Annotated[str, AfterValidator(_zone)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValueMap(_Section):
    """How the values of one contract column differ in the warehouse.

    Attributes
    ----------
    map : dict, optional
        Warehouse word -> contract word (``P1: urgent``); other values pass unchanged.
    scale : str, optional
        ``score`` only: the warehouse's NPS scale ``LOW-HIGH``; converted to the contract's
        0-10 by ``floor((x - LOW) * 10 / (HIGH - LOW) + 0.5)``.
    unit : ``cents``, ``epoch_s``, ``epoch_ms`` or ``epoch_us``, optional
        ``cents``: ``mrr`` only, stored in cents; divided by 100. ``epoch_*``: timestamp and date
        columns stored as numbers of seconds, milliseconds or microseconds since 1970-01-01 UTC.
    timezone : str, optional
        Timestamp columns: naive values are local time in this zone; converted to UTC.
    """

    map: dict[str, str] | None = None
    scale: Annotated[str, AfterValidator(_scale)] | None = None
    unit: Literal["cents", "epoch_s", "epoch_ms", "epoch_us"] | None = None
    timezone: Zone | None = None

    def bounds(self) -> tuple[float, float]:
        """``(LOW, HIGH)`` of :attr:`scale`."""
        found = SCALE.match(self.scale or "")
        if found is None:
            raise ValueError(f"scale '{self.scale}' is not LOW-HIGH")
        return float(found[1]), float(found[2])


class TableMap(_Section):
    """Where one contract table comes from: ``table`` (with ``columns``) or ``sql``, and value mappings."""

    table: Annotated[str, Field(min_length=1)] | None = None
    sql: Annotated[str, Field(min_length=1)] | None = None
    #: Contract (or extra) column -> warehouse column.
    columns: dict[str, str] = {}
    #: Naive timestamps of every timestamp column of this table are local time in this zone.
    timezone: Zone | None = None
    values: dict[str, ValueMap] = {}

    @model_validator(mode="after")
    def _one_origin(self):
        if (self.table is None) == (self.sql is None):
            raise ValueError("give exactly one of 'table' (a warehouse table or view) or 'sql' (a select)")
        return self


class SourceMapping(_Section):
    """The whole file: contract table name -> :class:`TableMap`."""

    tables: dict[str, TableMap] = {}

    @model_validator(mode="after")
    def _contract_names(self):
        for name, spec in self.tables.items():
            if name not in TABLES:
                raise ValueError(f"tables.{name}: not a contract table (one of {', '.join(TABLES)})")
            _check_columns(name, spec)
            _check_values(name, spec)
        return self


def _check_columns(table: str, spec: TableMap) -> None:
    """A ``columns`` key one typo from a contract column the mapping leaves unmapped is an error, not an extra.

    Any other key that is not a contract column is an extra column (an account attribute, say) and is kept.
    """
    contract = TABLES[table].column_names
    unmapped = [c for c in contract if c not in spec.columns]
    for key in spec.columns:
        if key in contract:
            continue
        close = [c for c in unmapped if one_typo_apart(key.lower(), c)]
        if close:
            raise ValueError(f"tables.{table}.columns.{key}: unknown key '{key}' in mapping of table {table}; did "
                             f"you mean '{close[0]}'? (a key that is not a contract column is kept as an extra "
                             f"column, but '{key}' is one typo from the contract column {close[0]}: fix it, or "
                             "give the extra column a name less like it)")


def one_typo_apart(a: str, b: str) -> bool:
    """Whether ``a`` becomes ``b`` by one insertion, deletion, substitution or swap of neighbours (or is ``b``).

    Examples
    --------
    >>> one_typo_apart("segmnet", "segment"), one_typo_apart("segmen", "segment"), one_typo_apart("csn", "csm")
    (True, True, True)
    >>> one_typo_apart("created_by", "created_at"), one_typo_apart("industry", "segment")
    (False, False)
    """
    if abs(len(a) - len(b)) > 1:
        return False
    start = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    tail_a, tail_b = a[start:], b[start:]
    return (tail_a[1:] == tail_b[1:] or tail_a[1:] == tail_b or tail_a == tail_b[1:]
            or (len(tail_a) > 1 and tail_a[:2] == tail_b[1::-1] and tail_a[2:] == tail_b[2:]))


def _check_values(table: str, spec: TableMap) -> None:
    contract = TABLES[table]
    for column, value in spec.values.items():
        key = f"tables.{table}.values.{column}"
        if column not in contract.column_names:
            raise ValueError(f"{key}: {table} has no contract column {column}")
        kind = contract.column(column).kind
        if value.scale is not None and (table, column) != ("nps_responses", "score"):
            raise ValueError(f"{key}.scale: only nps_responses.score has a scale")
        if value.unit == "cents" and (table, column) != ("subscriptions", "mrr"):
            raise ValueError(f"{key}.unit: only subscriptions.mrr can be in cents")
        if value.unit in EPOCH_UNITS and kind not in ("timestamp", "date"):
            raise ValueError(f"{key}.unit: {column} is a {kind}; {value.unit} is for timestamp and date columns")
        if value.unit in EPOCH_UNITS and value.timezone is not None:
            raise ValueError(f"{key}.timezone: {value.unit} values count from 1970-01-01 UTC: they have no "
                             "local time zone")
        if value.timezone is not None and kind != "timestamp":
            raise ValueError(f"{key}.timezone: {column} is a {kind}, not a timestamp")
        if value.map is not None and kind != "string":
            raise ValueError(f"{key}.map: {column} is a {kind}; word mappings are for text columns")


def load_mapping(path: str | Path) -> SourceMapping:
    """Read and check a sources mapping file.

    Raises
    ------
    ConfigError
        Naming the file and the key: unknown keys, a table that is not in the contract,
        both or neither of ``table`` / ``sql``, a bad time zone or scale.
    """
    source = Path(path)
    if not source.is_file():
        raise ConfigError(f"sources mapping '{source}' does not exist (write a draft with `churn init --data SRC`)")
    data = read_yaml_mapping(source, "a mapping with a 'tables' key")
    try:
        return SourceMapping.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: " + _explain(exc)) from None


def _explain(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"unknown key '{key}'")
        else:
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"{key}: {message}" if key else message)
    return "; ".join(lines)


def read_only_select(sql: str, key: str, dialect: str | None = None) -> str:
    """``sql`` if it is one ``SELECT`` (``WITH ... SELECT``, unions allowed) that writes nothing.

    Parameters
    ----------
    sql : str
        The statement of a mapping's ``sql:``.
    key : str
        The mapping key (``tables.usage_events.sql``) the error names.
    dialect : str, optional
        sqlglot dialect of the warehouse (``duckdb``, ``postgres``, ``spark``).

    Raises
    ------
    ConfigError
        For several statements (``;`` chains), anything but a query, or a query
        that contains a write (``INSERT``, ``DELETE``, ``SELECT ... INTO``, DDL, ...).
    """
    text = sql.strip().rstrip(";").strip()
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except sqlglot.errors.ParseError as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"{key}: not a SQL statement sqlglot can read: {first}") from None
    if len(statements) != 1:
        raise ConfigError(f"{key}: {len(statements)} statements; give exactly one select (no ';' chains)")
    tree = statements[0]
    if not isinstance(tree, sge.Query):
        raise ConfigError(f"{key}: only a select is accepted, not {tree.key.upper()}")
    writes = [node for node in tree.walk() if isinstance(node, WRITES)]
    if writes:
        raise ConfigError(f"{key}: the select contains {writes[0].key.upper()}, which writes; only reads are "
                          "accepted")
    return text


def referenced_tables(sql: str, dialect: str | None = None) -> list[str]:
    """The warehouse tables a select reads (``schema.table`` as written), its own CTE names left out."""
    tree = sqlglot.parse_one(sql, read=dialect)
    ctes = {cte.alias_or_name for cte in tree.find_all(sge.CTE)}
    out = []
    for table in tree.find_all(sge.Table):
        if not isinstance(table.this, sge.Identifier) or (not table.db and table.name in ctes):
            continue
        name = ".".join(part for part in (table.catalog, table.db, table.name) if part)
        if name not in out:
            out.append(name)
    return out
