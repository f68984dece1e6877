"""``churn validate`` on a generated world and on copies broken one check at a time."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.checks import CHECKS
from pipeline.cli import app
from pipeline.sources import open_source
from pipeline.validate import validate


def run_validate(path: Path):
    """Run ``churn validate --data path``; it must never end in a traceback."""
    result = CliRunner().invoke(app, ["validate", "--data", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def read_table(world: Path, table: str) -> pd.DataFrame:
    """A table of the world folder; CSV cells stay text so rewriting keeps them as they were."""
    csv = world / f"{table}.csv"
    if csv.exists():
        return pd.read_csv(csv, dtype=str)
    return pd.concat([pd.read_parquet(p) for p in sorted((world / table).glob("*.parquet"))], ignore_index=True)


def write_table(world: Path, table: str, frame: pd.DataFrame) -> None:
    """Replace a table of the world folder (a parquet table becomes a single part)."""
    csv = world / f"{table}.csv"
    if csv.exists():
        frame.to_csv(csv, index=False)
        return
    shutil.rmtree(world / table)
    (world / table).mkdir()
    frame.to_parquet(world / table / "part-0.parquet", index=False)


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
    "nps above 10": ("nps_responses", setting("score", "11"), "ERROR", "nps_responses.score", "nps_score", 1),
    "fractional nps": ("nps_responses", setting("score", "7.5"), "ERROR", "nps_responses.score", "nps_score", 1),
    "resolved before created": ("support_tickets", setting("resolved_at", "2000-01-01 00:00:00"), "ERROR", "support_tickets.resolved_at", "resolved_before_created", 1),
    "overlapping subscription": ("subscriptions", duplicating(), "WARNING", "subscriptions.start_date", "overlapping_subscriptions", 1),
    "csat 7": ("support_tickets", setting("csat", "7"), "WARNING", "support_tickets.csat", "csat_range", 1),
    "critical priority": ("support_tickets", setting("priority", "critical"), "WARNING", "support_tickets.priority", "ticket_priority", 1),
    "account without subscription": ("accounts", duplicating(account_id="acc_nosub"), "WARNING", "accounts.account_id", "no_subscription", 1),
}


def test_generated_world_is_valid(small_world):
    result = run_validate(small_world)
    assert result.exit_code == 0, result.output
    assert "ERROR" not in result.output
    assert "validation passed: 0 errors" in result.output


def test_missing_table(world_copy):
    shutil.rmtree(world_copy / "usage_events")
    result = run_validate(world_copy)
    assert result.exit_code == 2
    assert "ERROR usage_events [missing_table]" in result.output


def test_optional_tables_may_be_absent(world_copy):
    for table in ("support_tickets", "milestones", "nps_responses"):
        (world_copy / f"{table}.csv").unlink()
    result = run_validate(world_copy)
    assert result.exit_code == 0, result.output
    assert "info: optional table nps_responses not present" in result.output


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_broken_copy(world_copy, case):
    table, edit, severity, where, check, count = CASES[case]
    write_table(world_copy, table, edit(read_table(world_copy, table)))
    result = run_validate(world_copy)
    assert result.exit_code == (2 if severity == "ERROR" else 0), result.output
    expected = f"{severity} {where} [{check}]"
    if count:
        expected += f" {count} row{'s' if count > 1 else ''}: "
    lines = [line for line in result.output.splitlines() if line.startswith(expected)]
    assert lines, f"no '{expected}' in:\n{result.output}"
    assert count is None or "; example: {" in lines[0]


def test_every_check_is_listed_and_exercised():
    names = [c.name for c in CHECKS]
    assert len(names) == len(set(names))
    assert all(c.severity in ("error", "warning") and c.description.endswith(".") for c in CHECKS)
    exercised = {case[4] for case in CASES.values()} | {"missing_table", "check_failed"}
    assert exercised == set(names)


def test_engine_error_becomes_a_problem(world_copy):
    with open_source(world_copy) as source:
        for part in (world_copy / "usage_events").glob("*.parquet"):
            part.write_bytes(b"not parquet")
        report = validate(source)
    failed = [p for p in report.problems if p.check == "check_failed"]
    assert failed and failed[0].table == "usage_events" and not report.ok
    assert "usage_events [check_failed]" in report.render()


def test_offsets_are_normalised_to_utc(world_copy):
    edit = setting("created_at", "2030-01-01T03:00:00+05:00")  # 2029-12-31 22:00 UTC
    write_table(world_copy, "accounts", edit(read_table(world_copy, "accounts")))
    with open_source(world_copy) as source:
        before = validate(source, now=dt.datetime(2029, 12, 31, 21, tzinfo=dt.UTC))
        after = validate(source, now=dt.datetime(2029, 12, 31, 23))
    assert [(p.table, p.column, p.check) for p in before.errors()] == [("accounts", "created_at", "future_timestamp")]
    assert before.errors()[0].example["created_at"] == "2029-12-31T22:00:00"
    assert after.ok, after.render()
