"""Look inside a warehouse or a folder: its tables, their columns and types, a few values.

What ``churn init`` reads to draft a sources mapping. Names are given as a
mapping writes them: ``schema.table`` outside the default schema, the file or
folder name in a folder source.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.io.apply_mapping import Resolver
from pipeline.io.folders import folder_names
from pipeline.io.sources import Source

#: Schemas of the database itself, never a customer's data.
SYSTEM_SCHEMAS = {"information_schema", "pg_catalog", "pg_toast"}


@dataclass(frozen=True)
class WarehouseTable:
    """One table or view: its name as a mapping writes it and its columns with their ibis types.

    Attributes
    ----------
    ref : str
        ``schema.table`` (or ``table`` in the default schema, a file name in a folder).
    columns : dict of str to str
        Column name -> ibis type (``string``, ``timestamp``, ``timestamp('UTC')``, ``int64``...).
    """

    ref: str
    columns: dict[str, str]


def resolver(source: Source) -> Resolver:
    """What the functions below read the warehouse's objects through (one per source: folder views are made once)."""
    return Resolver(source, "churn init")


def warehouse_tables(resolver: Resolver) -> list[WarehouseTable]:
    """Every user table and view behind ``resolver`` (a folder, DuckDB file or PostgreSQL), sorted by name."""
    backend = resolver.backend
    if resolver.folder is not None:
        refs = folder_names(resolver.folder)
    else:
        default = backend.current_database
        refs = []
        for schema in backend.list_databases():
            if schema in SYSTEM_SCHEMAS or schema.startswith("pg_temp"):
                continue
            for name in backend.list_tables(database=schema):
                if not name.startswith("_churn_"):
                    refs.append(name if schema == default else f"{schema}.{name}")
    out = []
    for ref in sorted(refs):
        table = resolver.table(ref, "table", "(any)")
        out.append(WarehouseTable(ref, {name: str(dtype) for name, dtype in table.schema().items()}))
    return out


def distinct_values(resolver: Resolver, ref: str, column: str, limit: int = 30) -> list[str]:
    """Up to ``limit`` distinct non-null values of a column, as text, most frequent first."""
    table = resolver.table(ref, "table", "(any)")
    values = table.select(v=table[column].cast("string"))
    values = values.filter(values.v.notnull())
    counts = values.group_by("v").aggregate(n=values.count())
    rows = counts.order_by([counts.n.desc(), counts.v]).limit(limit).to_pyarrow().to_pylist()
    return [row["v"] for row in rows]


def value_range(resolver: Resolver, ref: str, column: str) -> tuple[float | None, float | None]:
    """Smallest and largest value of a numeric column (``None, None`` when it holds none or is not numeric)."""
    table = resolver.table(ref, "table", "(any)")
    value = table[column]
    if not value.type().is_numeric():
        return None, None
    row = table.aggregate(lo=value.min(), hi=value.max()).to_pyarrow().to_pylist()[0]
    return (None if row["lo"] is None else float(row["lo"]), None if row["hi"] is None else float(row["hi"]))
