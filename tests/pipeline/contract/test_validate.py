"""``churn validate`` on a generated world and on copies broken one check at a time."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from broken import CASES, apply_case, exit_code, expected_line, read_table, setting, write_table

from pipeline.contract.checks import CHECKS
from pipeline.cli import app
from pipeline.io.sources import open_source
from pipeline.contract.validate import validate


def run_validate(path: Path):
    """Run ``churn validate --data path``; it must never end in a traceback."""
    result = CliRunner().invoke(app, ["validate", "--data", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


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
    apply_case(world_copy, case)
    result = run_validate(world_copy)
    assert result.exit_code == exit_code(case), result.output
    expected = expected_line(case)
    if expected is None:
        assert "ERROR" not in result.output
        return
    lines = [line for line in result.output.splitlines() if line.startswith(expected)]
    assert lines, f"no '{expected}' in:\n{result.output}"
    assert CASES[case][5] is None or "; example: {" in lines[0]


def test_every_check_is_listed_and_exercised():
    names = [c.name for c in CHECKS]
    assert len(names) == len(set(names))
    assert all(c.severity in ("error", "warning") and c.description.endswith(".") for c in CHECKS)
    exercised = {case[4] for case in CASES.values() if case[4]} | {"missing_table", "check_failed"}
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


def test_the_events_are_read_once_for_the_checks_and_the_event_summary(world_copy):
    events = read_table(world_copy, "usage_events")
    undated = events.iloc[:2].assign(occurred_at=pd.NaT, event_type="undated")  # counted by the checks only
    write_table(world_copy, "usage_events", pd.concat([events, undated], ignore_index=True))
    with open_source(world_copy) as fresh:
        expected = fresh.event_summary()
    with open_source(world_copy) as source:
        report = validate(source)
    kept = source.event_summary()  # the source is closed: a query would fail, so the checks' scan gave it

    def ordered(summary):
        return summary.sort_values("event_type").reset_index(drop=True)

    pd.testing.assert_frame_equal(ordered(kept), ordered(expected))
    assert kept.set_index("event_type").loc["undated", "n"] == 0
    assert report.row_counts["usage_events"] == len(events) + 2
    assert [(p.column, p.check, p.count) for p in report.errors() if p.table == "usage_events"] == [
        ("occurred_at", "not_null", 2)]
