"""Tests of ``pipeline/steps/init.py``: ``churn init`` on the README's two examples.

A generated world rewritten as (1) a PostgreSQL warehouse with other schema,
table and column names and MRR in cents, (2) a folder of CSV exports with other
names, severities for priorities, NPS on 0-100 and New York local time
(``benchmarks/worlds/foreign.py``). The draft ``churn init`` writes validates
once its marked guesses are confirmed: as written for (1); for (2) after the
one line no data can tell, the time zone, is uncommented.
"""

from __future__ import annotations

import ibis
import pytest
import yaml
from typer.testing import CliRunner

from benchmarks.worlds import foreign
from pipeline.cli import app


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def world(small_world):
    return foreign.read_world(small_world)


def init(data, out):
    result = invoke("init", "--data", data, "--out", out)
    assert result.exit_code == 0, result.output
    assert "next:" in result.stdout and f"churn validate --data {data} --sources {out}" in result.stdout
    return out.read_text()


def todos(text):
    return [line for line in text.splitlines() if line.strip().startswith("# TODO ")]


def validates(data, out):
    result = invoke("validate", "--data", data, "--sources", out)
    assert result.exit_code == 0, result.output
    assert "validation passed: 0 errors" in result.stdout
    return result.stdout


@pytest.mark.postgres
def test_postgres_warehouse_draft_validates_as_written(world, pg_database, tmp_path):
    con = ibis.connect(pg_database.replace("postgresql://", "postgres://", 1))
    foreign.write_database(foreign.convert(world, "warehouse", cents=True), "warehouse", con)
    con.disconnect()
    text = init(pg_database, tmp_path / "sources.yaml")
    mapping = yaml.safe_load(text)["tables"]
    assert mapping["usage_events"]["table"] == "analytics.product_events"
    assert mapping["usage_events"]["columns"]["occurred_at"] == "event_ts"
    assert mapping["subscriptions"]["values"] == {"mrr": {"unit": "cents"}}
    assert mapping["support_tickets"]["values"]["priority"]["map"] == {"P1": "urgent", "P2": "high", "P3": "normal",
                                                                      "P4": "low"}
    assert not todos(text) and text.count("# guess") > 20
    validates(pg_database, tmp_path / "sources.yaml")


def test_folder_of_exports_validates_once_the_time_zone_is_confirmed(world, tmp_path):
    tables = foreign.convert(world, "exports", zone="America/New_York", nps_100=True)
    folder = foreign.write_folder(tables, "exports", tmp_path / "exports")
    out = tmp_path / "sources.yaml"
    text = init(folder, out)
    mapping = yaml.safe_load(text)["tables"]
    assert {t: m["table"] for t, m in mapping.items()} == {t: foreign.LAYOUTS["exports"][t][1] for t in mapping}
    assert len(mapping) == 6
    assert mapping["nps_responses"]["values"] == {"score": {"scale": "0-100"}}
    assert mapping["support_tickets"]["values"]["priority"]["map"] == {
        "critical": "urgent", "major": "high", "medium": "normal", "minor": "low"}
    assert text.count("# timezone: Europe/Berlin") == 5 and not todos(text)
    out.write_text(text.replace("# timezone: Europe/Berlin", "timezone: America/New_York"))  # the confirmation
    validates(folder, out)


def test_an_unknown_layout_marks_what_is_missing(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "companies.csv").write_text("company_id,label\nA,x\n")
    (folder / "events.csv").write_text("company_id,event,blob\nA,login,1\n")
    text = init(folder, tmp_path / "sources.yaml")
    assert "# TODO subscriptions (required): no table found" in text
    assert "# support_tickets (optional): no table found" in text
    assert "# not mapped:" in text or "companies" in text
    result = invoke("validate", "--data", folder, "--sources", tmp_path / "sources.yaml")
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_init_keeps_an_existing_file_unless_forced(tmp_path, world):
    folder = foreign.write_folder(foreign.convert(world, "exports"), "exports", tmp_path / "exports")
    out = tmp_path / "sources.yaml"
    out.write_text("keep me\n")
    result = invoke("init", "--data", folder, "--out", out)
    assert result.exit_code == 2 and "--force" in result.stderr
    assert out.read_text() == "keep me\n"
    assert invoke("init", "--data", folder, "--out", out, "--force").exit_code == 0


def test_issue_21_warehouse_draft_has_no_todo_and_validates_as_written(world, tmp_path):
    """``org_ref``, ``begins_on``, ``event_ts`` in epoch milliseconds, ``actor``, ``ticket_no``, ``nps_0_100``..."""
    tables = foreign.convert(world, "ops", nps_100=True, epoch_ms=True)
    path = tmp_path / "ops.duckdb"
    con = ibis.duckdb.connect(str(path))
    foreign.write_database(tables, "ops", con)
    con.disconnect()
    out = tmp_path / "sources.yaml"
    text = init(path, out)
    assert not todos(text), text
    mapping = yaml.safe_load(text)["tables"]
    for table, (schema, name, renames) in foreign.LAYOUTS["ops"].items():
        if table in tables:
            assert mapping[table]["table"] == f"{schema}.{name}"
            assert {k: mapping[table]["columns"][k] for k in renames} == renames, table
    assert mapping["usage_events"]["values"] == {"occurred_at": {"unit": "epoch_ms"}}
    assert mapping["nps_responses"]["values"] == {"score": {"scale": "0-100"}}
    validates(path, out)


def test_a_stamp_stored_as_numbers_no_epoch_unit_fits_is_a_todo(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "accounts.csv").write_text("account_id,name,segment,csm,created_at\nA,x,SMB,,2024-01-01\n")
    (folder / "subscriptions.csv").write_text("account_id,start_date,end_date,mrr,plan\nA,2024-01-01,,10,p\n")
    (folder / "usage_events.csv").write_text("account_id,occurred_at,event_type,user_id,quantity\nA,20240105,login,u,1\n")
    text = init(folder, tmp_path / "sources.yaml")
    assert [line.strip() for line in todos(text)] == [
        "# TODO occurred_at: {unit: epoch_s|epoch_ms|epoch_us}  # numbers from 20240105 to 20240105: no epoch unit fits"]
