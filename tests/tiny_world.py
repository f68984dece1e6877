"""A hand-made world small enough to compute every feature by hand.

As-of date T = 2024-04-01. Account A1 has a bit of everything, A2 has a
subscription and nothing else (no events, tickets, milestones or NPS), A3
churned before T. Rows stamped exactly at T exist and must be ignored.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

T = "2024-04-01"

ACCOUNTS = [
    ("A1", "Acme", "SMB", "Ann", "2023-12-01 00:00:00", "retail", 10),
    ("A2", "Bolt", "Enterprise", None, "2024-01-15 00:00:00", "finance", 200),
    ("A3", "Crux", "SMB", "Ann", "2023-10-01 00:00:00", "retail", 5),
]
SUBSCRIPTIONS = [
    ("A1", "2023-12-01", "2024-02-01", 100.0, "basic"),
    ("A1", "2024-02-01", None, 150.0, "pro"),
    ("A2", "2024-01-15", "2024-05-01", 1000.0, "enterprise"),
    ("A3", "2023-10-01", "2024-03-01", 50.0, "basic"),
]
EVENTS = [
    ("A1", "2024-03-31 23:59:59", "login", "u1", 1.0),
    ("A1", "2024-03-25 10:00:00", "report_view", "u2", 3.0),
    ("A1", "2024-03-20 08:00:00", "login", "u1", None),
    ("A1", "2024-02-15 08:00:00", "login", "u1", 1.0),
    ("A1", "2024-04-01 00:00:00", "login", "u3", 1.0),  # at T: unseen
    ("A1", "2023-12-15 08:00:00", "export", "u1", 1.0),
    ("A3", "2024-01-10 08:00:00", "login", "x1", 1.0),
]
TICKETS = [
    ("T1", "A1", "2024-03-10 09:00:00", "2024-03-11 09:00:00", "high", 4.0),
    ("T2", "A1", "2024-03-20 00:00:00", "2024-04-02 00:00:00", "urgent", 1.0),
    ("T3", "A1", "2024-01-01 00:00:00", "2024-01-01 12:00:00", "low", 2.0),
    ("T4", "A1", "2024-04-01 00:00:00", None, "urgent", None),  # at T: unseen
]
MILESTONES = [
    ("A1", "kickoff", "2023-12-08", "2023-12-07 10:00:00"),
    ("A1", "first_report", "2024-01-15", "2024-03-31 12:00:00"),
    ("A1", "team_rollout", "2024-03-01", "2024-04-05 00:00:00"),
    ("A1", "integration_live", "2024-05-01", None),
]
NPS = [
    ("A1", "2024-01-10 10:00:00", 9),
    ("A1", "2024-03-15 10:00:00", 4),
    ("A1", "2024-04-01 00:00:00", 10),  # at T: unseen
]
CS_ACTIVITIES = [
    ("A1", "2024-03-28 10:00:00", "call"),  # read by `churn impact` only, never by a feature
]

COLUMNS = {
    "accounts": ["account_id", "name", "segment", "csm", "created_at", "industry", "seats"],
    "subscriptions": ["account_id", "start_date", "end_date", "mrr", "plan"],
    "usage_events": ["account_id", "occurred_at", "event_type", "user_id", "quantity"],
    "support_tickets": ["ticket_id", "account_id", "created_at", "resolved_at", "priority", "csat"],
    "milestones": ["account_id", "milestone", "due_date", "completed_at"],
    "nps_responses": ["account_id", "responded_at", "score"],
    "cs_activities": ["account_id", "occurred_at", "activity_type"],
}
ROWS = {
    "accounts": ACCOUNTS,
    "subscriptions": SUBSCRIPTIONS,
    "usage_events": EVENTS,
    "support_tickets": TICKETS,
    "milestones": MILESTONES,
    "nps_responses": NPS,
    "cs_activities": CS_ACTIVITIES,
}


def frames() -> dict[str, pd.DataFrame]:
    """The tiny world's tables as typed DataFrames."""
    out = {}
    for table, rows in ROWS.items():
        df = pd.DataFrame(rows, columns=COLUMNS[table])
        for col in df.columns:
            if col.endswith("_at"):
                df[col] = pd.to_datetime(df[col])
            elif col.endswith("_date"):
                df[col] = pd.to_datetime(df[col]).dt.date
        out[table] = df
    return out


def write(folder: Path, skip: tuple[str, ...] = (), fmt: str = "parquet") -> Path:
    """Write the tiny world into ``folder`` as Parquet or CSV files (omitting ``skip`` tables)."""
    folder.mkdir(parents=True, exist_ok=True)
    for table, df in frames().items():
        if table in skip:
            continue
        if fmt == "csv":
            df.to_csv(folder / f"{table}.csv", index=False)
        else:
            df.to_parquet(folder / f"{table}.parquet", index=False)
    return folder


def features(folder: Path, dates, end=None) -> pd.DataFrame:
    """The tiny world written into ``folder``, its feature rows on ``dates`` (default config, data end 2024-09-01)."""
    from datetime import date

    from pipeline.config import load_config
    from pipeline.engine.featurize import build_features
    from pipeline.io.sources import open_source

    write(folder)
    with open_source(folder) as source:
        return build_features(source, load_config(None, {}), list(dates), end=end or date(2024, 9, 1)).frame
