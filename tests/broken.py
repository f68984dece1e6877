"""The bad-input corpus: edits that break one rule of the data contract each.

Each case edits one table of a valid world folder (CSV files, or Parquet files or
folders of Parquet parts) and names the exact line the validator must print.
Used by ``test_validate.py`` (``churn validate``) and ``test_bad_inputs.py``
(every other command that reads data).
"""

from __future__ import annotations

import datetime as dt

import shutil
from pathlib import Path

import pandas as pd


def read_table(world: Path, table: str) -> pd.DataFrame:
    """A table of the world folder; CSV cells stay text so rewriting keeps them as they were."""
    csv, single = world / f"{table}.csv", world / f"{table}.parquet"
    if csv.exists():
        return pd.read_csv(csv, dtype=str)
    if single.exists():
        return pd.read_parquet(single)
    return pd.concat([pd.read_parquet(p) for p in sorted((world / table).glob("*.parquet"))], ignore_index=True)


def write_table(world: Path, table: str, frame: pd.DataFrame) -> None:
    """Replace a table of the world folder (a folder of parquet parts becomes a single part)."""
    csv, single = world / f"{table}.csv", world / f"{table}.parquet"
    if csv.exists():
        frame.to_csv(csv, index=False)
    elif single.exists():
        frame.to_parquet(single, index=False)
    else:
        shutil.rmtree(world / table)
        (world / table).mkdir()
        frame.to_parquet(world / table / "part-0.parquet", index=False)


def apply_case(world: Path, case: str) -> None:
    """Break ``world`` in place as corpus case ``case`` says."""
    table, edit, *_ = CASES[case]
    write_table(world, table, edit(read_table(world, table)))


def setting(column: str, value, row: int = 0):
    """An edit that sets one cell (``row`` counts from the top)."""

    def edit(frame):
        cell = value
        if isinstance(cell, str) and frame[column].dtype != object:  # parquet: column becomes text
            frame[column] = frame[column].map(lambda v: None if pd.isna(v) else str(v))
        if isinstance(cell, pd.Timestamp) and getattr(frame[column].dtype, "tz", None):
            cell = cell.tz_localize(frame[column].dtype.tz)
        frame.loc[frame.index[row], column] = cell
        return frame

    return edit


def dropping(column: str):
    return lambda frame: frame.drop(columns=[column])


def blanking(column: str):
    return lambda frame: frame.assign(**{column: None})


def duplicating(row: int = 0, **changes):
    """An edit that appends a copy of one row, with some cells changed."""
    return lambda frame: pd.concat([frame, frame.iloc[[row]].assign(**changes)], ignore_index=True)


def emptying(frame):
    return frame.iloc[:0]


def copy_key(column: str):
    """Give row 1 the key of row 0."""
    return lambda frame: setting(column, frame[column].iloc[0], row=1)(frame)


FUTURE = "2099-01-01 00:00:00"

#: (table edited, edit, severity, table.column reported, check, offending rows or None)
CASES = {
    "empty accounts": ("accounts", emptying, "ERROR", "accounts", "empty_table", None),
    "missing column": ("subscriptions", dropping("mrr"), "ERROR", "subscriptions.mrr", "missing_column", None),
    "text mrr": ("subscriptions", setting("mrr", "abc"), "ERROR", "subscriptions.mrr", "bad_type", 1),
    "free-text timestamp": ("accounts", setting("created_at", "not a date"), "ERROR", "accounts.created_at", "bad_type", 1),
    "boolean quantity": ("usage_events", lambda f: f.assign(quantity=True), "ERROR", "usage_events.quantity", "bad_type", None),
    "null name": ("accounts", setting("name", None), "ERROR", "accounts.name", "not_null", 1),
    "all-null segment": ("accounts", blanking("segment"), "ERROR", "accounts.segment", "all_null", None),
    "all-null csm": ("accounts", blanking("csm"), "WARNING", "accounts.csm", "all_null_nullable", None),
    "duplicate account": ("accounts", duplicating(), "ERROR", "accounts.account_id", "unique_key", 2),
    "duplicate ticket": ("support_tickets", copy_key("ticket_id"), "ERROR", "support_tickets.ticket_id", "unique_key", 2),
    "duplicate milestone": ("milestones", duplicating(), "ERROR", "milestones.milestone", "unique_key", 2),
    "orphan subscription": ("subscriptions", setting("account_id", "ghost"), "ERROR", "subscriptions.account_id", "foreign_key", 1),
    "orphan event": ("usage_events", setting("account_id", "ghost"), "ERROR", "usage_events.account_id", "foreign_key", 1),
    "future event": ("usage_events", setting("occurred_at", pd.Timestamp(FUTURE)), "ERROR", "usage_events.occurred_at", "future_timestamp", 1),
    "negative quantity": ("usage_events", setting("quantity", -1.0), "ERROR", "usage_events.quantity", "negative_value", 1),
    "end before start": ("subscriptions", setting("end_date", "2000-01-01"), "ERROR", "subscriptions.end_date", "end_before_start", 1),
    "renewal before start": ("subscriptions", lambda f: f.assign(renewal_date=[dt.date(2000, 1, 1)] + [None] * (len(f) - 1)),
                             "ERROR", "subscriptions.renewal_date", "renewal_before_start", 1),
    "fractional billing period": ("subscriptions", lambda f: f.assign(billing_period_months=["1.5"] + [None] * (len(f) - 1)),
                                  "ERROR", "subscriptions.billing_period_months", "billing_period_range", 1),
    "nps above 10": ("nps_responses", setting("score", "11"), "ERROR", "nps_responses.score", "nps_score", 1),
    "fractional nps": ("nps_responses", setting("score", "7.5"), "ERROR", "nps_responses.score", "nps_score", 1),
    "resolved before created": ("support_tickets", setting("resolved_at", "2000-01-01 00:00:00"), "ERROR", "support_tickets.resolved_at", "resolved_before_created", 1),
    "overlapping subscription": ("subscriptions", duplicating(), "WARNING", "subscriptions.start_date", "overlapping_subscriptions", 1),
    "csat 7": ("support_tickets", setting("csat", "7"), "WARNING", "support_tickets.csat", "csat_range", 1),
    "critical priority": ("support_tickets", setting("priority", "critical"), "WARNING", "support_tickets.priority", "ticket_priority", 1),
    "account without subscription": ("accounts", duplicating(account_id="acc_nosub"), "WARNING", "accounts.account_id", "no_subscription", 1),
    # one more per rule and table, as the hardening issue lists them
    "missing segment": ("accounts", dropping("segment"), "ERROR", "accounts.segment", "missing_column", None),
    "missing occurred_at": ("usage_events", dropping("occurred_at"), "ERROR", "usage_events.occurred_at", "missing_column", None),
    "missing priority": ("support_tickets", dropping("priority"), "ERROR", "support_tickets.priority", "missing_column", None),
    "missing due_date": ("milestones", dropping("due_date"), "ERROR", "milestones.due_date", "missing_column", None),
    "free-text start_date": ("subscriptions", setting("start_date", "next tuesday"), "ERROR", "subscriptions.start_date", "bad_type", 1),
    "impossible timestamp": ("usage_events", setting("occurred_at", "2024-02-31 25:00:00"), "ERROR", "usage_events.occurred_at", "bad_type", 1),
    "comma decimal mrr": ("subscriptions", setting("mrr", "12,5"), "ERROR", "subscriptions.mrr", "bad_type", 1),
    "null account_id in events": ("usage_events", setting("account_id", None), "ERROR", "usage_events.account_id", "not_null", 1),
    "null occurred_at": ("usage_events", setting("occurred_at", None), "ERROR", "usage_events.occurred_at", "not_null", 1),
    "orphan ticket": ("support_tickets", setting("account_id", "ghost"), "ERROR", "support_tickets.account_id", "foreign_key", 1),
    "orphan milestone": ("milestones", setting("account_id", "ghost"), "ERROR", "milestones.account_id", "foreign_key", 1),
    "orphan nps": ("nps_responses", setting("account_id", "ghost"), "ERROR", "nps_responses.account_id", "foreign_key", 1),
    "negative mrr": ("subscriptions", setting("mrr", "-10"), "ERROR", "subscriptions.mrr", "negative_value", 1),
    "subnormal mrr": ("subscriptions", setting("mrr", "2.2e-313"), "ERROR", "subscriptions.mrr", "amount_range", 1),
    "huge quantity": ("usage_events", setting("quantity", 1e300), "ERROR", "usage_events.quantity", "amount_range", 1),
    "nps below 0": ("nps_responses", setting("score", "-1"), "ERROR", "nps_responses.score", "nps_score", 1),
    "future ticket": ("support_tickets", setting("created_at", FUTURE), "ERROR", "support_tickets.created_at", "future_timestamp", 1),
    "future nps": ("nps_responses", setting("responded_at", FUTURE), "ERROR", "nps_responses.responded_at", "future_timestamp", 1),
    "future milestone completion": ("milestones", setting("completed_at", FUTURE), "ERROR", "milestones.completed_at", "future_timestamp", 1),
    "future account creation": ("accounts", setting("created_at", FUTURE), "ERROR", "accounts.created_at", "future_timestamp", 1),
    "empty subscriptions": ("subscriptions", emptying, "ERROR", "subscriptions", "empty_table", None),
    "empty usage_events": ("usage_events", emptying, "ERROR", "usage_events", "empty_table", None),
    # accepted: extra columns are kept, time-zone offsets are normalised to UTC (naive = UTC)
    "extra column": ("accounts", lambda f: f.assign(favourite_colour="teal"), "OK", None, None, None),
    "mixed time-zone offsets": ("accounts", lambda f: setting("created_at", "2023-06-01T10:00:00+02:00", row=1)(
        setting("created_at", "2023-06-01T10:00:00Z")(f)), "OK", None, None, None),
    "naive and aware timestamps": ("support_tickets", setting("created_at", "2023-06-01T10:00:00-05:00"), "OK", None, None, None),
}


def expected_line(case: str) -> str | None:
    """The start of the line the validator must print for ``case`` (None: accepted)."""
    _, _, severity, where, check, count = CASES[case]
    if severity == "OK":
        return None
    line = f"{severity} {where} [{check}]"
    if count:
        line += f" {count} row{'s' if count > 1 else ''}: "
    return line


def exit_code(case: str) -> int:
    """2 for errors, 0 for warnings and accepted input."""
    return 2 if CASES[case][2] == "ERROR" else 0
