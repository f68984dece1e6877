"""The tiny world (``tiny_world.py``) as a warehouse that shares none of the contract's names.

The ``warehouse`` layout of ``benchmarks/worlds/foreign.py`` with every difference
at once: other table and column names in schemas (``crm.organisations``...),
MRR in cents, NPS on a 0-100 scale, priorities P1..P4 and every timestamp as
naive local time in New York. :func:`mapping` (a sources.yaml) maps it back;
features through it must equal the tiny world's own.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

import tiny_world
from benchmarks.worlds import foreign

ZONE = "America/New_York"
LAYOUT = foreign.LAYOUTS["warehouse"]


def frames() -> dict[str, pd.DataFrame]:
    """Contract table -> its rows in the warehouse's names and units."""
    return foreign.convert(tiny_world.frames(), "warehouse", zone=ZONE, cents=True, nps_100=True)


def mapping(schemas: bool = True) -> str:
    """The sources.yaml mapping this warehouse back to the contract (tickets through a select)."""
    tables = {}
    for table, (schema, name, renames) in LAYOUT.items():
        ref = f"{schema}.{name}" if schemas else name
        if table == "support_tickets":
            select = ", ".join(f"{src} AS {dst}" for dst, src in renames.items())
            spec = {"sql": f"SELECT {select} FROM {ref}"}
        else:
            spec = {"table": ref, "columns": dict(renames)}
        if table != "subscriptions":
            spec["timezone"] = ZONE
        tables[table] = spec
    tables["subscriptions"]["values"] = {"mrr": {"unit": "cents"}}
    words = {v: k for k, v in foreign.PRIORITIES["warehouse"].items()}
    tables["support_tickets"]["values"] = {"priority": {"map": words}}
    tables["nps_responses"]["values"] = {"score": {"scale": "0-100"}}
    return yaml.safe_dump({"tables": tables}, sort_keys=False)


def write_folder(folder: Path, fmt: str = "parquet") -> Path:
    """The warehouse as a folder of files named after its tables (no schemas)."""
    return foreign.write_folder(frames(), "warehouse", folder, fmt)


def write_database(con) -> None:
    """The warehouse into an ibis DuckDB or PostgreSQL connection, one schema per system."""
    foreign.write_database(frames(), "warehouse", con)
