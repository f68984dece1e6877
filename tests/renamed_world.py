"""The tiny world (``tiny_world.py``) as a warehouse that shares none of the contract's names.

Other table and column names, in schemas (``crm.organisations``...), MRR in
cents, NPS on a 0-100 scale, Zendesk-style priorities (P1..P4) and every
timestamp as naive local time in New York. :data:`MAPPING` (a sources.yaml)
maps it back; features through it must equal the tiny world's own.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

import tiny_world

ZONE = "America/New_York"
PRIORITY_WORDS = {"urgent": "P1", "high": "P2", "normal": "P3", "low": "P4"}

#: contract table -> (schema, warehouse table, {contract column: warehouse column})
LAYOUT = {
    "accounts": ("crm", "organisations", {"account_id": "org_id", "name": "org_name", "segment": "tier",
                                          "csm": "owner", "created_at": "signup_ts"}),
    "subscriptions": ("billing", "contracts", {"account_id": "org_id", "start_date": "starts_on",
                                               "end_date": "ends_on", "mrr": "mrr_cents", "plan": "plan_name"}),
    "usage_events": ("analytics", "product_events", {"account_id": "org_id", "occurred_at": "event_ts",
                                                     "event_type": "event_name", "user_id": "member_id",
                                                     "quantity": "qty"}),
    "support_tickets": ("zendesk", "tickets", {"ticket_id": "id", "account_id": "org", "created_at": "opened",
                                               "resolved_at": "closed", "priority": "prio", "csat": "satisfaction"}),
    "milestones": ("cs", "onboarding", {"account_id": "org_id", "milestone": "step", "due_date": "due_on",
                                        "completed_at": "done_ts"}),
    "nps_responses": ("surveys", "nps", {"account_id": "org_id", "responded_at": "answered_ts", "score": "nps_100"}),
}


def local(stamps: pd.Series) -> pd.Series:
    """Naive UTC -> naive local time in :data:`ZONE`."""
    return stamps.dt.tz_localize("UTC").dt.tz_convert(ZONE).dt.tz_localize(None)


def frames() -> dict[str, pd.DataFrame]:
    """Warehouse table name -> its rows (the tiny world, renamed and rescaled)."""
    out = {}
    for table, df in tiny_world.frames().items():
        schema, name, renames = LAYOUT[table]
        df = df.copy()
        for col in df.columns:
            if col.endswith("_at"):
                df[col] = local(df[col])
        if table == "subscriptions":
            df["mrr"] = (df["mrr"] * 100).round().astype("int64")
        if table == "support_tickets":
            df["priority"] = df["priority"].map(PRIORITY_WORDS)
        if table == "nps_responses":
            df["score"] = df["score"] * 10
        out[name] = df.rename(columns=renames)
    return out


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
    tables["support_tickets"]["values"] = {"priority": {"map": {v: k for k, v in PRIORITY_WORDS.items()}}}
    tables["nps_responses"]["values"] = {"score": {"scale": "0-100"}}
    return yaml.safe_dump({"tables": tables}, sort_keys=False)


def write_folder(folder: Path, fmt: str = "parquet") -> Path:
    """The warehouse as a folder of files named after its tables (no schemas)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in frames().items():
        if fmt == "csv":
            df.to_csv(folder / f"{name}.csv", index=False)
        else:
            df.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def write_database(con) -> None:
    """The warehouse into an ibis DuckDB or PostgreSQL connection, one schema per system."""
    by_name = frames()
    for schema, name, _ in LAYOUT.values():
        con.raw_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.create_table(name, by_name[name], database=schema, overwrite=True)
