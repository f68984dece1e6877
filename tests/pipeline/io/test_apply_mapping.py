"""Tests of ``pipeline/io/apply_mapping.py``: a warehouse with none of the contract's names, mapped back.

The tiny world rewritten with other table and column names, MRR in cents, NPS
on 0-100, priorities P1..P4 and New York local time (``tests/renamed_world.py``)
gives, through its sources.yaml, the very features of the tiny world itself, on
DuckDB, PostgreSQL and Spark. Mapping mistakes stop with exit 2 and name the key.

On Spark one test builds the features through a mapping end to end; the other Spark
tests compare the tables the mapping serves with the tiny world's own (contract-typed,
value for value): a Spark feature build costs about a minute even on the tiny world, and
that the Spark engine turns equal tables into equal features is tested in
``tests/pipeline/engine/spark``.
"""

from __future__ import annotations

from datetime import date

import ibis
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import renamed_world
import tiny_world
from pipeline.cli import app
from pipeline.config import load_config
from pipeline.contract.validate import validate
from pipeline.engine.engines import get_engine
from pipeline.engine.featurize import build_features
from pipeline.io.apply_mapping import map_source
from pipeline.io.mapping_file import SourceMapping, load_mapping
from pipeline.io.sources import open_frames, open_source

DATES = [date(2024, 3, 1), date(2024, 4, 1)]
END = date(2024, 9, 1)
CFG = load_config(None, {})


@pytest.fixture(scope="module")
def contract_features():
    with open_frames(tiny_world.frames()) as source:
        return build_features(source, CFG, DATES, end=END).frame


@pytest.fixture
def duckdb_warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = ibis.duckdb.connect(str(path))
    renamed_world.write_database(con)
    con.disconnect()
    return path


def mapping_file(tmp_path, text=None, schemas=True):
    path = tmp_path / "sources.yaml"
    path.write_text(text if text is not None else renamed_world.mapping(schemas))
    return path


@pytest.fixture(scope="module")
def contract_tables():
    with open_frames(tiny_world.frames()) as source:
        return served_tables(source)


def served_tables(source) -> dict[str, pd.DataFrame]:
    """Every contract table as ``source`` serves it (typed per the contract), rows sorted, values in plain pandas
    dtypes (numbers as floats, times as naive nanosecond timestamps, the rest as objects), so engines compare."""
    out = {}
    for name, columns in tiny_world.COLUMNS.items():
        table = source.table(name)
        if table is None:
            continue
        frame = table.select(*columns).execute()
        for col in columns:
            values = frame[col]
            if values.dtype == object and pd.to_numeric(values.dropna(), errors="coerce").notna().all():
                values = pd.to_numeric(values)  # an attribute read from CSV as text, as the feature builder reads it
            if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
                frame[col] = values.astype("float64")
            elif pd.api.types.is_datetime64_any_dtype(values) or values.map(lambda v: hasattr(v, "year")).any():
                frame[col] = pd.to_datetime(values).astype("datetime64[ns]")
            else:
                frame[col] = values.astype(object).where(values.notna(), None)
        out[name] = frame.sort_values(columns, na_position="first").reset_index(drop=True)
    return out


def served_through_spark(cfg) -> dict[str, pd.DataFrame]:
    """:func:`served_tables` of the Spark source ``cfg`` opens, after a clean validation."""
    with get_engine("spark").source(cfg) as source:
        report = validate(source)
        assert report.ok and not report.warnings(), report.render()
        return served_tables(source)


def assert_same_tables(got: dict, expected: dict) -> None:
    assert sorted(got) == sorted(expected)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(got[name], frame, check_exact=False, rtol=1e-9, obj=name)


def mapped_features(source, path):
    map_source(source, load_mapping(path), str(path))
    report = validate(source)
    assert report.ok and not report.warnings(), report.render()
    return build_features(source, CFG, DATES, end=END).frame


def test_duckdb_warehouse_gives_the_contract_features(duckdb_warehouse, tmp_path, contract_features):
    with open_source(duckdb_warehouse) as source:
        got = mapped_features(source, mapping_file(tmp_path))
        assert source.origin("usage_events", "occurred_at") == "from analytics.product_events.event_ts"
        events = source.table("usage_events").execute()
    pd.testing.assert_frame_equal(got, contract_features)
    # New York local time came back as UTC (the last event before T was 23:59:59 UTC)
    assert events["occurred_at"].max() == pd.Timestamp("2024-04-01 00:00:00")


@pytest.mark.postgres
def test_postgres_warehouse_gives_the_contract_features(pg_database, tmp_path, contract_features):
    con = ibis.connect(pg_database.replace("postgresql://", "postgres://", 1))
    renamed_world.write_database(con)
    con.disconnect()
    with open_source(pg_database) as source:
        got = mapped_features(source, mapping_file(tmp_path))
    pd.testing.assert_frame_equal(got, contract_features)


@pytest.mark.spark
def test_spark_folder_gives_the_contract_features(spark, tmp_path, contract_features):
    folder = renamed_world.write_folder(tmp_path / "exports", "parquet")
    cfg = load_config(None, {"data": str(folder), "engine": "spark",
                             "sources": str(mapping_file(tmp_path, schemas=False))})
    with get_engine("spark").source(cfg) as source:
        assert source.kind == "spark"
        report = validate(source)
        assert report.ok and not report.warnings(), report.render()
        got = build_features(source, CFG, DATES, end=END).frame
    pd.testing.assert_frame_equal(got, contract_features, check_exact=False, rtol=1e-9)
    assert "exports" not in [t.name for t in spark.catalog.listTables()]


@pytest.mark.spark
def test_spark_csv_folder_serves_the_contract_tables(spark, tmp_path, contract_tables):
    folder = renamed_world.write_folder(tmp_path / "exports", "csv")
    cfg = load_config(None, {"data": str(folder), "engine": "spark",
                             "sources": str(mapping_file(tmp_path, schemas=False))})
    assert_same_tables(served_through_spark(cfg), contract_tables)


@pytest.mark.spark
def test_spark_folder_of_pandas_parquet_serves_the_contract_tables(spark, tmp_path, contract_tables):
    """Warehouse-named files written by pandas (nanosecond timestamps) go through the Spark engine's reader."""
    folder = tmp_path / "exports"
    folder.mkdir()
    for table, df in renamed_world.frames().items():
        df.to_parquet(folder / f"{renamed_world.LAYOUT[table][1]}.parquet", index=False)  # pandas: timestamp[ns]
    cfg = load_config(None, {"data": str(folder), "engine": "spark",
                             "sources": str(mapping_file(tmp_path, schemas=False))})
    assert_same_tables(served_through_spark(cfg), contract_tables)


@pytest.mark.spark
def test_spark_catalog_without_contract_names_opens_through_a_mapping(spark, tmp_path, contract_tables):
    """A catalog database that holds only the warehouse's own names is fine once a mapping names them."""
    import uuid

    database = f"churn_test_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE DATABASE {database}")
    try:
        for table, df in renamed_world.frames().items():
            spark.createDataFrame(df).write.saveAsTable(f"{database}.{renamed_world.LAYOUT[table][1]}")
        tables = yaml.safe_load(renamed_world.mapping(schemas=False))["tables"]
        for spec in tables.values():  # a select names its tables in full; a `table:` may leave the database out
            if "sql" in spec:
                spec["sql"] = spec["sql"].replace(" FROM ", f" FROM {database}.")
        text = yaml.safe_dump({"tables": tables})
        cfg = load_config(None, {"data": f"spark-catalog:{database}", "engine": "spark",
                                 "sources": str(mapping_file(tmp_path, text))})
        with get_engine("spark").source(cfg) as source:
            report = validate(source)
            assert report.ok, report.render()
            got = served_tables(source)
    finally:
        spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")
    assert_same_tables(got, contract_tables)


def test_nps_scales_and_cents_follow_the_documented_formula():
    frames = {"nps_responses": pd.DataFrame({"account_id": ["A"] * 5, "responded_at": pd.to_datetime(["2024-01-01"] * 5),
                                              "score": [1, 2, 3, 4, 5]})}
    text = "tables:\n  nps_responses:\n    table: five\n    values: {score: {scale: 1-5}}\n"
    with open_frames({}) as source:
        source.backend.create_table("five", frames["nps_responses"])
        map_source(source, SourceMapping.model_validate(yaml.safe_load(text)))
        scores = source.table("nps_responses").execute()["score"].tolist()
    assert scores == [0, 3, 5, 8, 10]  # floor((x - 1) * 10 / 4 + 0.5)


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def clean_exit(result, code=2):
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit) if code else result.exception is None
    assert "Traceback" not in result.output
    return result.stderr


def test_cli_validate_reads_through_the_mapping(duckdb_warehouse, tmp_path):
    result = invoke("validate", "--data", duckdb_warehouse, "--sources", mapping_file(tmp_path))
    clean_exit(result, 0)
    assert "validation passed: 0 errors, 0 warnings" in result.stdout


def test_the_sources_config_key_does_the_same(duckdb_warehouse, tmp_path):
    config = tmp_path / "pipeline.yaml"
    config.write_text(f"data: {duckdb_warehouse}\nsources: {mapping_file(tmp_path)}\n")
    result = invoke("features", "--config", config, "--as-of", "2024-04-01")
    clean_exit(result, 0)
    frame = pd.read_csv(pd.io.common.StringIO(result.stdout))
    assert sorted(frame["account_id"]) == ["A1", "A2"]


@pytest.mark.parametrize("old, new, names", [
    ("table: analytics.product_events", "table: analytics.clicks",
     ["tables.usage_events.table", "analytics.clicks", "usage_events"]),
    ("occurred_at: event_ts", "occurred_at: event_time",
     ["tables.usage_events.columns.occurred_at", "analytics.product_events", "'event_time'",
      "usage_events.occurred_at", "event_ts"]),
    ("FROM zendesk.tickets", "FROM zendesk.issues",
     ["tables.support_tickets.sql", "zendesk", "issues", "support_tickets"]),
])
def test_a_missing_object_fails_with_exit_2_naming_it(duckdb_warehouse, tmp_path, old, new, names):
    text = renamed_world.mapping()
    assert old in text
    result = invoke("validate", "--data", duckdb_warehouse, "--sources", mapping_file(tmp_path, text.replace(old, new)))
    message = clean_exit(result)
    assert message.startswith("error: ") and str(tmp_path / "sources.yaml") in message
    for name in names:
        assert name in message, message


@pytest.mark.postgres
def test_a_missing_postgres_table_fails_the_same_way(pg_database, tmp_path):
    text = renamed_world.mapping().replace("table: crm.organisations", "table: crm.orgs")
    message = clean_exit(invoke("validate", "--data", pg_database, "--sources", mapping_file(tmp_path, text)))
    assert "tables.accounts.table" in message and "crm.orgs" in message and "accounts" in message


@pytest.mark.parametrize("sql", ["SELECT 1 AS ticket_id; DROP TABLE crm.organisations",
                                 "DROP TABLE crm.organisations",
                                 "INSERT INTO crm.organisations SELECT * FROM crm.organisations"])
def test_a_select_that_writes_is_refused_and_nothing_changes(duckdb_warehouse, tmp_path, sql):
    text = renamed_world.mapping()
    start = text.index("    sql: ")
    end = text.index("\n    timezone", start)
    text = text[:start] + f"    sql: \"{sql}\"" + text[end:]
    message = clean_exit(invoke("validate", "--data", duckdb_warehouse, "--sources", mapping_file(tmp_path, text)))
    assert "tables.support_tickets.sql" in message
    con = ibis.duckdb.connect(str(duckdb_warehouse), read_only=True)
    assert con.table("organisations", database="crm").count().execute() == 3


def test_validation_names_the_warehouse_column(duckdb_warehouse, tmp_path):
    text = renamed_world.mapping().replace("      occurred_at: event_ts\n", "")
    text = text.replace("P4: low", "P9: low")  # P4 now passes through: not a contract priority
    result = invoke("validate", "--data", duckdb_warehouse, "--sources", mapping_file(tmp_path, text))
    clean_exit(result)
    lines = result.stdout.splitlines()
    missing = next(line for line in lines if "[missing_column]" in line)
    assert missing.startswith("ERROR usage_events.occurred_at (not in analytics.product_events: map it in "
                              f"{tmp_path / 'sources.yaml'}: tables.usage_events.columns.occurred_at)")
    priority = next(line for line in lines if "[ticket_priority]" in line)
    assert priority.startswith("WARNING support_tickets.priority (from column priority of tables.support_tickets.sql)")


def test_load_copies_the_mapped_tables_in_contract_form(duckdb_warehouse, tmp_path):
    target = tmp_path / "copy.duckdb"
    result = invoke("load", "--data", duckdb_warehouse, "--sources", mapping_file(tmp_path), "--to", target)
    clean_exit(result, 0)
    assert "usage_events: 7 rows" in result.stdout
    with open_source(target) as source:
        assert validate(source).ok
        events = source.table("usage_events").execute()
    assert events["occurred_at"].max() == pd.Timestamp("2024-04-01 00:00:00")


@pytest.mark.parametrize("command", ["validate", "features", "train", "score"])
@pytest.mark.parametrize("how", ["flag", "config"])
def test_every_data_command_takes_the_mapping(duckdb_warehouse, tmp_path, command, how):
    """--sources and sources: reach the command: a missing mapping file stops it, naming the file."""
    missing = tmp_path / "missing.yaml"
    config = tmp_path / "pipeline.yaml"
    config.write_text(f"data: {duckdb_warehouse}\ntracking: {{uri: \"sqlite:///{tmp_path}/mlflow.db\"}}\n"
                      + (f"sources: {missing}\n" if how == "config" else ""))
    args = ["--sources", missing] if how == "flag" else []
    message = clean_exit(invoke(command, "--config", config, *args))
    assert f"sources mapping '{missing}' does not exist" in message


#: Stamps of the tiny world stored as numbers since 1970-01-01 UTC (nulls among them: open tickets).
EPOCHS = {("usage_events", "occurred_at"): "epoch_ms", ("support_tickets", "created_at"): "epoch_s",
          ("support_tickets", "resolved_at"): "epoch_ms", ("nps_responses", "responded_at"): "epoch_us",
          ("subscriptions", "start_date"): "epoch_s"}


def epoch_frames() -> dict[str, pd.DataFrame]:
    from pipeline.io.mapping_file import EPOCH_UNITS

    out = tiny_world.frames()
    for (table, column), unit in EPOCHS.items():
        since = pd.to_datetime(out[table][column]) - pd.Timestamp(0)
        out[table][column] = (since // pd.Timedelta(microseconds=EPOCH_UNITS[unit])).astype("Int64")
    return out


def epoch_mapping(tmp_path):
    tables: dict = {}
    for (table, column), unit in EPOCHS.items():
        tables.setdefault(table, {"table": table, "values": {}})["values"][column] = {"unit": unit}
    return mapping_file(tmp_path, yaml.safe_dump({"tables": tables}))


def test_epoch_stamps_give_the_contract_features_on_duckdb(tmp_path, contract_features):
    path = tmp_path / "epochs.duckdb"
    con = ibis.duckdb.connect(str(path))
    for table, frame in epoch_frames().items():
        con.create_table(table, frame)
    con.disconnect()
    with open_source(path) as source:
        got = mapped_features(source, epoch_mapping(tmp_path))
        events = source.table("usage_events").execute()
    pd.testing.assert_frame_equal(got, contract_features)
    assert events["occurred_at"].max() == pd.Timestamp("2024-04-01 00:00:00")


@pytest.mark.postgres
def test_epoch_stamps_give_the_contract_features_on_postgres(pg_database, tmp_path, contract_features):
    con = ibis.connect(pg_database.replace("postgresql://", "postgres://", 1))
    for table, frame in epoch_frames().items():
        con.create_table(table, frame, overwrite=True)
    con.disconnect()
    with open_source(pg_database) as source:
        got = mapped_features(source, epoch_mapping(tmp_path))
    pd.testing.assert_frame_equal(got, contract_features)


@pytest.mark.spark
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_epoch_stamps_give_the_contract_tables_on_spark(spark, tmp_path, contract_tables, fmt):
    folder = tmp_path / "exports"
    folder.mkdir()
    for table, frame in epoch_frames().items():
        if fmt == "csv":
            frame.to_csv(folder / f"{table}.csv", index=False)
        else:
            frame.to_parquet(folder / f"{table}.parquet", index=False)
    cfg = load_config(None, {"data": str(folder), "engine": "spark", "sources": str(epoch_mapping(tmp_path))})
    assert_same_tables(served_through_spark(cfg), contract_tables)


#: Sub-second, pre-1970 and fractional values, in each unit: the naive UTC timestamp each must give.
EPOCH_VALUES = [("epoch_ms", 1_700_000_000_123, "2023-11-14 22:13:20.123"), ("epoch_ms", -1_500, "1969-12-31 23:59:58.5"),
                ("epoch_us", 1_700_000_000_123_456, "2023-11-14 22:13:20.123456"), ("epoch_s", 0, "1970-01-01"),
                ("epoch_s", 1.25, "1970-01-01 00:00:01.25")]


def epoch_values(source, store) -> list:
    """The completed_at of one milestone stored as each of :data:`EPOCH_VALUES`; ``store(name, frame)`` saves it."""
    stamps = []
    for i, (unit, number, _) in enumerate(EPOCH_VALUES):
        store(f"stamps_{i}", pd.DataFrame({"account_id": ["A"], "milestone": ["m"], "due_date": ["2024-01-01"],
                                           "completed_at": [float(number)]}))
        text = f"tables:\n  milestones:\n    table: stamps_{i}\n    values: {{completed_at: {{unit: {unit}}}}}\n"
        map_source(source, SourceMapping.model_validate(yaml.safe_load(text)))
        stamps.append(source.table("milestones").execute()["completed_at"].iloc[0])
    return stamps


def test_epoch_units_keep_fractions_of_a_second():
    with open_frames({}) as source:
        stamps = epoch_values(source, lambda name, frame: source.backend.create_table(name, frame))
    assert stamps == [pd.Timestamp(text) for *_, text in EPOCH_VALUES]


@pytest.mark.spark
def test_epoch_units_keep_fractions_of_a_second_on_spark(spark, tmp_path):
    folder = tiny_world.write(tmp_path / "world")
    cfg = load_config(None, {"data": str(folder), "engine": "spark"})
    with get_engine("spark").source(cfg) as source:
        stamps = epoch_values(source, lambda name, frame: frame.to_parquet(folder / f"{name}.parquet", index=False))
    assert stamps == [pd.Timestamp(text) for *_, text in EPOCH_VALUES]
