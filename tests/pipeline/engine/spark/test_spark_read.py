"""Parquet files as users have them (pandas' nanoseconds, pyarrow's ms/us with a time zone) read on Spark.

The small world's events and tickets are rewritten through pandas (``timestamp[ns]``,
dictionary-encoded categoricals) and through pyarrow (``ms`` and ``us`` with a
time zone, plain strings); the features built on Spark (``local-cluster``, the
``spark`` fixture) equal those DuckDB builds from the original CSV/Parquet
world, and DuckDB and PostgreSQL give the same on the rewritten files.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import load_config
from pipeline.engine.featurize import build_features
from pipeline.engine.labels import snapshot_dates
from pipeline.engine.spark.read import FileSystem, parquet_timestamps
from pipeline.errors import SourceError
from pipeline.io.load import load_tables
from pipeline.io.sources import open_source

CFG = load_config(None, {})
TIMESTAMPS = {"usage_events": ["occurred_at"], "support_tickets": ["created_at", "resolved_at"]}


def _rewrite(world, dest, write):
    """A copy of ``world`` whose events and tickets are Parquet files written by ``write(table, frame, folder)``."""
    shutil.copytree(world, dest, ignore=shutil.ignore_patterns("_truth", "usage_events", "support_tickets.csv"))
    with open_source(world) as source:
        for table, columns in TIMESTAMPS.items():
            frame = source.table(table).execute()
            write(table, frame.astype({c: "datetime64[ns]" for c in columns}), dest)
    return dest


def _pandas_ns(table, frame, dest):
    """pandas' defaults: timestamp[ns] (naive for events, tz-aware for tickets), categoricals dictionary-encoded."""
    if table == "usage_events":
        frame = frame.astype({"event_type": "category", "account_id": "category"})
    else:
        frame = frame.assign(**{c: frame[c].dt.tz_localize("UTC") for c in TIMESTAMPS[table]})
    frame.to_parquet(dest / f"{table}.parquet", index=False)


def _pyarrow_ms_us(table, frame, dest):
    """pyarrow, plain strings: events in two parts (ms in New York time, us in UTC), tickets in us, Tokyo time."""
    def arrow(part, unit, zone):
        data = pa.Table.from_pandas(part, preserve_index=False)
        for column in TIMESTAMPS[table]:
            stamps = data[column].cast(pa.timestamp(unit)).cast(pa.timestamp(unit, "UTC")).cast(pa.timestamp(unit, zone))
            data = data.set_column(data.schema.get_field_index(column), column, stamps)
        return data

    if table == "usage_events":
        (dest / table).mkdir()
        half = len(frame) // 2
        pq.write_table(arrow(frame.iloc[:half], "ms", "America/New_York"), dest / table / "part-0.parquet",
                       use_dictionary=False, coerce_timestamps="ms")
        pq.write_table(arrow(frame.iloc[half:], "us", "UTC"), dest / table / "part-1.parquet", use_dictionary=False)
    else:
        pq.write_table(arrow(frame, "us", "Asia/Tokyo"), dest / f"{table}.parquet", use_dictionary=False)


WRITERS = {"pandas_ns": _pandas_ns, "pyarrow_ms_us": _pyarrow_ms_us}


@pytest.fixture(scope="module")
def worlds(small_world, tmp_path_factory):
    root = tmp_path_factory.mktemp("parquet-worlds")
    return {name: _rewrite(small_world, root / name, write) for name, write in WRITERS.items()}


@pytest.fixture(scope="module")
def dates(small_world):
    with open_source(small_world) as source:
        return snapshot_dates(source, CFG)[-3:]


@pytest.fixture(scope="module")
def expected(small_world, dates):
    """The features DuckDB builds from the original world (CSV tickets, microsecond event parts)."""
    with open_source(small_world) as source:
        return build_features(source, CFG, dates).frame


def test_the_files_hold_the_types_users_have(worlds):
    fs = FileSystem(None, str(worlds["pandas_ns"]))
    ns = worlds["pandas_ns"]
    assert parquet_timestamps(fs, "usage_events", [str(ns / "usage_events.parquet")]) == {"occurred_at": "ns"}
    assert pq.read_schema(ns / "usage_events.parquet").field("event_type").type == pa.dictionary(pa.int8(), pa.string())
    assert pq.read_schema(ns / "support_tickets.parquet").field("created_at").type == pa.timestamp("ns", "UTC")
    parts = sorted(str(p) for p in (worlds["pyarrow_ms_us"] / "usage_events").glob("*.parquet"))
    assert [pq.read_schema(p).field("occurred_at").type for p in parts] == [
        pa.timestamp("ms", "America/New_York"), pa.timestamp("us", "UTC")]
    assert parquet_timestamps(fs, "usage_events", parts) == {"occurred_at": "ms"}


@pytest.mark.spark
@pytest.mark.parametrize("name", sorted(WRITERS))
def test_spark_reads_them_into_the_duckdb_features(worlds, name, spark, dates, expected, caplog):
    from pipeline.engine.spark.session import open_spark_source

    with caplog.at_level("INFO", logger="churn"):
        with open_spark_source(str(worlds[name]), session=spark) as source:
            on_spark = build_features(source, CFG, dates).frame
    pd.testing.assert_frame_equal(on_spark, expected, check_exact=False, rtol=1e-9)
    converted = "column occurred_at is stored as nanosecond timestamps" in caplog.text
    assert converted == (name == "pandas_ns")  # the conversion is said, and only when made


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_duckdb_reads_them_into_the_same_features(worlds, name, dates, expected):
    with open_source(worlds[name]) as source:
        pd.testing.assert_frame_equal(build_features(source, CFG, dates).frame, expected, check_exact=False, rtol=1e-9)


@pytest.mark.postgres
def test_postgres_loaded_from_them_gives_the_same_features(worlds, pg_database, dates, expected):
    with open_source(worlds["pandas_ns"]) as source:
        load_tables(source, pg_database)
    with open_source(pg_database) as source:
        pd.testing.assert_frame_equal(build_features(source, CFG, dates).frame, expected, check_exact=False, rtol=1e-9)


def test_nanoseconds_beside_another_unit_name_both_files(tmp_path):
    stamps = pd.to_datetime(["2025-01-01 10:00:00"])
    pd.DataFrame({"occurred_at": stamps}).to_parquet(tmp_path / "a.parquet")
    pq.write_table(pa.table({"occurred_at": pa.array(stamps, pa.timestamp("us"))}), tmp_path / "b.parquet")
    files = [str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")]
    with pytest.raises(SourceError, match=r"table usage_events: column occurred_at is stored in ns in .*a\.parquet "
                                          r"but in us in .*b\.parquet"):
        parquet_timestamps(FileSystem(None, str(tmp_path)), "usage_events", files)


def test_a_file_that_is_not_parquet_is_named(tmp_path):
    (tmp_path / "part-0.parquet").write_bytes(b"not a parquet file at all")
    with pytest.raises(SourceError, match=r"table usage_events: .*part-0\.parquet is not a readable Parquet file"):
        parquet_timestamps(FileSystem(None, str(tmp_path)), "usage_events", [str(tmp_path / "part-0.parquet")])
