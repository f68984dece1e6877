"""How each warehouse stores the score tables' JSON documents: DuckDB's JSON type and ZSTD (FSST in files of an
earlier format), PostgreSQL's jsonb and lz4."""

from __future__ import annotations

import json

import duckdb
import psycopg
import pytest

from pipeline.io.score_tables import SCORE_COLUMNS
from pipeline.io.warehouse import Warehouse
from warehouse_rows import ACCOUNTS, D1, D2, fake_scores, run_for, write


def test_duckdb_stores_the_documents_as_json_text_unchanged(tmp_path):
    store = Warehouse(tmp_path / "wh.duckdb")
    rows = fake_scores(D1, ACCOUNTS[:5], 1, "r1")
    rows["reasons"] = ['{"base_value": -2.0, "other": 0.0, "risk": [],   "protective": [], "context": []}'] * 5
    store.write(rows, run_for(D1, "r1", 5))
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        found = con.execute("SELECT DISTINCT typeof(reasons), typeof(contributions), reasons::VARCHAR, "
                            "json_valid(reasons) FROM churn_scores").fetchall()
    assert found == [("JSON", "JSON", rows["reasons"][0], True)]


def _document_compression(path) -> dict:
    with duckdb.connect(str(path), read_only=True) as con:
        return dict(con.execute("SELECT column_name, string_agg(DISTINCT compression) FROM "
                                "pragma_storage_info('churn_scores') WHERE column_name IN ('reasons', "
                                "'contributions') AND segment_type = 'JSON' GROUP BY ALL").fetchall())


def _documents(path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return [r[0] for r in con.execute("SELECT contributions::VARCHAR FROM churn_scores ORDER BY account_id").fetchall()]


def test_duckdb_compresses_the_documents_with_zstd_in_a_new_file_and_fsst_in_a_file_of_an_earlier_format(tmp_path):
    """A new warehouse file is made in DuckDB 1.2's format, whose tables store the JSON documents ZSTD-compressed;
    a file made before in DuckDB's default format (no ZSTD) gets FSST, chosen up front; a table made by an earlier
    version, without the choice, is written and read as before. Every document reads back as written."""
    rows = fake_scores(D1, [f"A{i:05d}" for i in range(3000)], 1, "r1")
    rows["contributions"] = [json.dumps({"usage": i % 7, "nps": [i / 3, "nps_last", 4.0, "NPS"]}) for i in range(3000)]
    Warehouse(tmp_path / "new's.duckdb").write(rows, run_for(D1, "r1", len(rows)))
    duckdb.connect(str(tmp_path / "older.duckdb")).close()  # a file made before, in DuckDB's default format
    Warehouse(tmp_path / "older.duckdb").write(rows, run_for(D1, "r1", len(rows)))
    old = Warehouse(tmp_path / "old.duckdb")
    with duckdb.connect(str(tmp_path / "old.duckdb")) as con:  # the DDL of an earlier version: no storage choice
        con.execute(old.backend.ddl("churn_scores", SCORE_COLUMNS, "as_of_date, account_id").replace(
            " USING COMPRESSION fsst", ""))
    old.write(rows, run_for(D1, "r1", len(rows)))
    for path in ("new's.duckdb", "older.duckdb", "old.duckdb"):
        assert _documents(tmp_path / path) == rows["contributions"].tolist()
    with duckdb.connect(str(tmp_path / "new's.duckdb"), read_only=True) as con:
        assert con.execute("SELECT tags['storage_version'] FROM duckdb_databases() "
                           "WHERE database_name = current_database()").fetchone()[0].startswith("v1.2.0")
    assert _document_compression(tmp_path / "new's.duckdb") == {"reasons": "ZSTD", "contributions": "ZSTD"}
    assert _document_compression(tmp_path / "older.duckdb") == {"reasons": "FSST", "contributions": "FSST"}
    assert _document_compression(tmp_path / "old.duckdb")["reasons"] != "FSST"  # left to DuckDB: a dictionary


@pytest.mark.postgres
def test_postgres_json_and_nulls_round_trip(pg_database):
    store = Warehouse(pg_database)
    write(store, D1, ACCOUNTS[:5], 1, "r1")
    with psycopg.connect(pg_database) as con:
        kinds = con.execute("SELECT jsonb_typeof(reasons), probability_change IS NULL, csm FROM churn_scores "
                            "ORDER BY account_id").fetchall()
    assert kinds[0] == ("object", True, None) and kinds[1] == ("object", True, "Ann")


@pytest.mark.postgres
def test_postgres_compresses_the_documents_with_lz4_tables_of_earlier_versions_too(pg_database):
    store = Warehouse(pg_database)
    write(store, D1, ACCOUNTS[:5], 1, "r1")
    with psycopg.connect(pg_database, autocommit=True) as con:  # as an earlier version left it: the default pglz
        con.execute("ALTER TABLE churn_scores ALTER COLUMN reasons SET COMPRESSION pglz")
    rows = fake_scores(D2, ACCOUNTS[:5], 2, "r2")
    long = {"base_value": -2.0, "other": 0.0, "protective": [], "context": [],
            "risk": [{"group": "nps", "feature": "nps_last", "value": float(i), "sentence": f"Last NPS answer was {i}",
                      "contribution": 0.1} for i in range(200)]}  # 12 KB: stored compressed, out of line
    rows["reasons"] = json.dumps(long)
    store.write(rows, run_for(D2, "r2", 5))
    with psycopg.connect(pg_database) as con:
        methods = dict(con.execute("SELECT attname, attcompression FROM pg_attribute WHERE attrelid = "
                                   "'churn_scores'::regclass AND attname IN ('reasons', 'contributions')").fetchall())
        stored = con.execute("SELECT DISTINCT pg_column_compression(reasons), reasons = %s::jsonb FROM churn_scores "
                             "WHERE as_of_date = %s", [json.dumps(long), D2]).fetchall()
    assert methods == {"reasons": "l", "contributions": "l"}
    assert stored == [("lz4", True)]
