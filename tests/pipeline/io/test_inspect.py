"""Tests of ``pipeline/io/inspect.py``: a warehouse's tables, columns and values, as ``churn init`` reads them."""

from __future__ import annotations

import ibis

import renamed_world
from pipeline.io.inspect import distinct_values, resolver, value_range, warehouse_tables
from pipeline.io.sources import open_source


def test_duckdb_schemas_are_listed_qualified(tmp_path):
    path = tmp_path / "wh.duckdb"
    con = ibis.duckdb.connect(str(path))
    renamed_world.write_database(con)
    con.raw_sql("CREATE VIEW main.plain AS SELECT 1 AS x")
    con.disconnect()
    with open_source(path) as source:
        found = resolver(source)
        tables = {t.ref: t.columns for t in warehouse_tables(found)}
        assert set(tables) == {"analytics.product_events", "billing.contracts", "crm.organisations", "cs.onboarding",
                               "cs.touchpoints", "surveys.nps", "zendesk.tickets", "plain"}
        assert tables["analytics.product_events"]["event_ts"] == "timestamp(6)"
        assert distinct_values(found, "zendesk.tickets", "prio") == ["P1", "P2", "P4"]
        assert value_range(found, "surveys.nps", "nps_score") == (40.0, 100.0)
        assert value_range(found, "zendesk.tickets", "prio") == (None, None)


def test_a_folder_lists_its_files_and_folders(tmp_path):
    folder = renamed_world.write_folder(tmp_path / "exports", "csv")
    (folder / "parts").mkdir()
    (folder / "parts" / "a.csv").write_text("x\n1\n")
    (folder / "readme.txt").write_text("not a table")
    with open_source(folder) as source:
        refs = [t.ref for t in warehouse_tables(resolver(source))]
    assert refs == ["contracts", "nps", "onboarding", "organisations", "parts", "product_events", "tickets",
                    "touchpoints"]
