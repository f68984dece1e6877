"""The Spark engine gives the DuckDB feature table, to the last digit (two executor JVMs).

Uses the session-wide ``spark`` fixture of ``conftest.py`` (local-cluster[2,1,1024]). Needs
pyspark and Java 17; skipped without them, except under CI.
"""

from __future__ import annotations

import gc
import uuid

import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.contract.tables import TABLES
from pipeline.errors import SourceError
from pipeline.engine.featurize import build_features
from pipeline.engine.labels import snapshot_dates
from pipeline.io.sources import open_source

pytestmark = pytest.mark.spark

CFG = load_config(None, {})


@pytest.fixture(scope="module")
def dates(small_world):
    with open_source(small_world) as source:
        return snapshot_dates(source, CFG)[-4:]


@pytest.fixture(scope="module")
def duckdb_panel(small_world, dates):
    with open_source(small_world) as source:
        return build_features(source, CFG, dates).frame


def spark_panel(spec, session, dates):
    from pipeline.engine.spark.session import open_spark_source

    with open_spark_source(str(spec), session=session) as source:
        assert source.kind == "spark"
        return build_features(source, CFG, dates).frame


def test_spark_gives_the_duckdb_features(small_world, spark, dates, duckdb_panel):
    """CSV tables and a folder of Parquet parts, read by Spark: every feature and label equal."""
    gc.collect()
    earlier = {t.name for t in spark.catalog.listTables()}  # other modules' tests share the session
    from_spark = spark_panel(small_world, spark, dates)
    pd.testing.assert_frame_equal(from_spark, duckdb_panel, check_exact=False, rtol=1e-9)
    assert len(from_spark) > 100
    assert from_spark["as_of"].nunique() == len(dates)
    # the materialised frames are released with the query; the shared session keeps running
    gc.collect()
    cached = [t.name for t in spark.catalog.listTables() if t.name.startswith("_churn_") and t.name not in earlier]
    assert cached == []
    assert spark.sql("SELECT 1 AS one").collect()[0].one == 1


def test_spark_gives_the_duckdb_features_with_a_calendar(small_world, spark, dates):
    """With ``features.calendar`` (every usage window, trend, slope, recency and young-account denominator counting
    non-holiday days): every feature equal too."""
    cfg = load_config(None, {"features.calendar.holidays": [{"first": "2024-12-24", "last": "2025-01-01"}],
                             "features.calendar.country": "US", "features.calendar.country_years": [2024, 2025]})
    from pipeline.engine.spark.session import open_spark_source

    with open_source(small_world) as source:
        local = build_features(source, cfg, dates).frame
    with open_spark_source(str(small_world), session=spark) as source:
        from_spark = build_features(source, cfg, dates).frame
    pd.testing.assert_frame_equal(from_spark, local, check_exact=False, rtol=1e-9)
    assert "active_users_trend" in set(local.columns)


def test_resolution_times_keep_fractions_of_a_second(world_copy, spark, dates):
    """Tickets stamped to the microsecond: both engines give the exact hours, not whole seconds."""
    path = world_copy / "support_tickets.csv"
    tickets = pd.read_csv(path, parse_dates=["created_at", "resolved_at"])
    tickets["created_at"] += pd.Timedelta(microseconds=250_001)
    tickets["resolved_at"] += pd.Timedelta(microseconds=999_999)
    tickets.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M:%S.%f")
    with open_source(world_copy) as source:
        duck = build_features(source, CFG, dates).frame
    from_spark = spark_panel(world_copy, spark, dates)
    columns = ["median_resolution_hours", "p90_resolution_hours"]
    pd.testing.assert_frame_equal(from_spark[columns], duck[columns], check_exact=False, rtol=1e-12)
    # every ticket took whole seconds plus 0.749998 s: medians over them keep that fraction
    fraction = (duck["median_resolution_hours"] * 3600 % 1).dropna()
    assert len(fraction) and (abs(fraction - 0.749998) < 1e-6).mean() > 0.5


def test_typed_tables_equal_duckdb(small_world, spark):
    """CSV text typed by the Parser on Spark equals DuckDB's sniffed-and-typed columns."""
    from pipeline.engine.spark.session import open_spark_source

    with open_source(small_world) as duck, open_spark_source(str(small_world), session=spark) as spk:
        assert sorted(spk.names) == sorted(duck.names)
        for table in duck.names:
            columns = [c for c in TABLES[table].column_names if c in duck.raw(table).columns]
            a = spk.table(table).select(*columns).execute()
            b = duck.table(table).select(*columns).execute()
            a = a.sort_values(columns, kind="stable").reset_index(drop=True)
            b = b.sort_values(columns, kind="stable").reset_index(drop=True)
            pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=table)
            for col in columns:
                assert a[col].dtype.kind == b[col].dtype.kind or a[col].isna().all(), (table, col)


def test_validation_runs_the_tables_side_by_side_and_reports_as_duckdb(world_copy, spark):
    """Spark checks the tables at once (``concurrent_queries``); the report is DuckDB's, problem for problem and in
    order, with problems in six tables."""
    from broken import CASES, apply_case

    from pipeline.contract.validate import validate
    from pipeline.engine.spark.session import SparkSource, open_spark_source

    cases = ["null name", "text mrr", "negative quantity", "csat 7", "duplicate milestone", "nps above 10"]
    for case in cases:
        apply_case(world_copy, case)
    with open_source(world_copy) as duck, open_spark_source(str(world_copy), session=spark) as spk:
        expected, got = validate(duck), validate(spk)
    assert SparkSource.concurrent_queries and not type(duck).concurrent_queries

    def lines(report):  # the examples show raw values, which the engines read apart (CSV text on Spark)
        return [(p.severity, p.table, p.column, p.check, p.count, p.message) for p in report.problems]

    assert lines(got) == lines(expected)
    assert [p.example is None for p in got.problems] == [p.example is None for p in expected.problems]
    assert {p.table for p in got.problems} == {CASES[case][0] for case in cases}  # the six tables broken
    assert got.row_counts == expected.row_counts


def test_the_spine_is_computed_once_on_spark_and_left_to_duckdb(small_world, spark, dates):
    """Every frame joins the spine: Spark reads it from one checkpoint (a view of the source) instead of computing
    it again per frame; DuckDB gets the query as it is. The same rows either way."""
    from ibis.expr import operations as ops

    from pipeline.engine.labels import spine
    from pipeline.engine.spark.session import open_spark_source

    with open_source(small_world) as duck, open_spark_source(str(small_world), session=spark) as spk:
        on_spark, on_duckdb = spine(spk, dates), spine(duck, dates)
        assert isinstance(on_spark.op(), ops.DatabaseTable) and on_spark.op().name in spk.views
        assert not isinstance(on_duckdb.op(), ops.DatabaseTable)
        rows = [t.execute().sort_values(["account_id", "as_of"]).reset_index(drop=True) for t in (on_spark, on_duckdb)]
    pd.testing.assert_frame_equal(*rows, check_dtype=False)
    assert len(rows[0]) > 0


def test_spark_catalog_gives_the_duckdb_features(small_world, spark, dates, duckdb_panel):
    """Typed tables saved in a catalog database (spark-catalog:<db>) give the same features."""
    from pipeline.engine.spark.session import open_spark_source

    database = f"churn_test_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE DATABASE {database}")
    try:
        with open_spark_source(str(small_world), session=spark) as folder:
            for table in folder.names:
                folder.backend.create_table(table, folder.table(table), database=database)
        assert spark.catalog.tableExists(f"{database}.usage_events")
        from_catalog = spark_panel(f"spark-catalog:{database}", spark, dates)
        pd.testing.assert_frame_equal(from_catalog, duckdb_panel, check_exact=False, rtol=1e-9)
    finally:
        spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")


def test_sources_that_do_not_exist_are_clear_errors(tmp_path, spark):
    from pipeline.engine.spark.session import open_spark_source

    with pytest.raises(SourceError, match="does not exist"):
        open_spark_source(str(tmp_path / "nowhere"), session=spark)
    with pytest.raises(SourceError, match="no database 'no_such_db'"):
        open_spark_source("spark-catalog:no_such_db", session=spark)


def test_hadoop_uri_finds_the_same_tables(small_world, spark):
    """A folder given as a URI is listed through Hadoop (as hdfs:// or s3a:// would be)."""
    from pipeline.engine.spark.session import open_spark_source

    with open_spark_source(f"file://{small_world}", session=spark) as source, open_source(small_world) as duck:
        assert sorted(source.names) == sorted(duck.names)
        assert source.table("usage_events").count().execute() == duck.table("usage_events").count().execute()


def test_the_suite_runs_on_two_executor_jvms(spark):
    """The session of every Spark test has two executor JVMs; tasks run in both, in other processes."""
    import os

    from conftest import SPARK_TEST_MASTER, spark_executors

    if not SPARK_TEST_MASTER.startswith("local-cluster"):
        pytest.skip(f"CHURN_TEST_SPARK_MASTER={SPARK_TEST_MASTER}")
    assert len(spark_executors(spark)) >= 2
    def parent(_):
        import os
        import time

        time.sleep(0.3)  # long enough that both executors take tasks
        return os.getppid()

    parents = set(spark.sparkContext.parallelize(range(8), 8).map(parent).collect())
    # each executor JVM starts its own Python worker daemon: two executors, two parents
    assert len(parents) >= 2 and os.getpid() not in parents
