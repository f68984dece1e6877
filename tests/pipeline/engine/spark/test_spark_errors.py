"""Spark failures end as one message naming the table and the file, exit code 2, never a Java stack.

The CLI runs in this process (typer's CliRunner), so ``--engine spark`` uses the
session-wide ``spark`` fixture (two executor JVMs): the failures below happen
on real executors, as on a cluster.
"""

from __future__ import annotations

import logging

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.engine.spark.errors import describe, headline
from pipeline.engine.spark.read import TableRead

AS_OF = "2025-01-15"


def churn(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_one_clear_error(result, *expected):
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    message = result.stderr[result.stderr.index("error: "):]
    for text in expected:
        assert text in message, message
    for trace in ("Traceback", "\tat ", "at org.apache", "py4j.protocol", "Py4JJavaError"):
        assert trace not in result.output, result.output


def first_part(world):
    return sorted((world / "usage_events").glob("*.parquet"))[0]


@pytest.mark.spark
@pytest.mark.parametrize("validate", ["--validate", "--no-validate"])
def test_a_file_that_is_not_parquet(world_copy, spark, validate):
    part = first_part(world_copy)
    part.write_bytes(b"PAR1 this is not a Parquet file")
    result = churn("features", "--engine", "spark", "--data", world_copy, "--as-of", AS_OF, validate)
    assert_one_clear_error(result, "table usage_events", str(part), "not a readable Parquet file")


@pytest.mark.spark
def test_a_parquet_file_broken_inside_fails_on_the_executors_as_one_message(world_copy, spark):
    """The footer is intact (the schema reads), the data pages are not: Spark fails in a task."""
    part = first_part(world_copy)
    data = bytearray(part.read_bytes())
    footer = pq.read_metadata(part).serialized_size + 8
    data[4:len(data) - footer] = bytes(len(data) - footer - 4)  # zero every data page
    part.write_bytes(bytes(data))
    result = churn("features", "--engine", "spark", "--data", world_copy, "--as-of", AS_OF, "--no-validate")
    assert_one_clear_error(result, "Spark failed on table usage_events", part.name, "Spark log:")


@pytest.mark.spark
@pytest.mark.parametrize("validate", ["--validate", "--no-validate"])
def test_a_missing_column_names_the_table(world_copy, spark, validate):
    accounts = (world_copy / "accounts.csv").read_text().splitlines()
    header = accounts[0].split(",")
    keep = [i for i, name in enumerate(header) if name != "created_at"]
    (world_copy / "accounts.csv").write_text(
        "\n".join(",".join(line.split(",")[i] for i in keep) for line in accounts) + "\n")
    result = churn("features", "--engine", "spark", "--data", world_copy, "--as-of", AS_OF, validate)
    assert_one_clear_error(result, "accounts", "created_at")


@pytest.mark.spark
def test_a_schema_mismatch_between_parts_names_the_file(world_copy, spark):
    import pandas as pd

    folder = world_copy / "usage_events"
    frame = pd.concat([pd.read_parquet(part) for part in sorted(folder.glob("*.parquet"))], ignore_index=True)
    for part in folder.glob("*.parquet"):
        part.unlink()
    half = len(frame) // 2
    frame.iloc[:half].to_parquet(folder / "part-0.parquet", index=False)
    frame.iloc[half:].astype({"quantity": "string"}).to_parquet(folder / "part-1.parquet", index=False)  # text, not double
    result = churn("features", "--engine", "spark", "--data", world_copy, "--as-of", AS_OF, "--no-validate")
    assert_one_clear_error(result, "Spark failed on table usage_events", "/usage_events/part-1.parquet",
                           "PARQUET_COLUMN_DATA_TYPE_MISMATCH")


@pytest.mark.spark
def test_a_real_process_prints_one_line_and_no_java(small_world, tmp_path, spark):
    """``churn`` in its own process and JVM (``local[1]``), a job failing in Spark: stderr holds one error line.

    The driver refuses the task results (``spark.driver.maxResultSize`` of 1 kB), a
    failure of the kind a too small driver gives; the JVM's log4j output goes
    to the log file, not to the terminal.
    """
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[4]
    cfg = yaml.safe_load((root / "configs" / "pipeline.yaml").read_text())
    cfg["spark"] = {"master": "local[1]", "conf": {"spark.driver.maxResultSize": "1k"}}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    done = subprocess.run([str(Path(sys.executable).parent / "churn"), "features", "-c", str(tmp_path / "cfg.yaml"),
                           "--engine", "spark", "--data", str(small_world), "--as-of", AS_OF],
                          capture_output=True, text=True, cwd=root, env={**__import__("os").environ,
                                                                         "CHURN_SPARK_LOG": str(tmp_path / "spark.log")})
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if "incubator modules" not in line]  # the JVM's own notice
    assert len(lines) == 1 and lines[0].startswith("error: Spark failed on table usage_events"), done.stderr
    assert "raise spark.driver.maxResultSize" in lines[0] and str(tmp_path / "spark.log") in lines[0]
    assert "Traceback" not in done.stderr and "\tat " not in done.stderr
    assert "maxResultSize" in (tmp_path / "spark.log").read_text()  # the JVM's side of it, in the log file


LOSE_AN_EXECUTOR = """
import os, sys
from pipeline.engine.spark.session import open_spark_source, spark_session
from pipeline.errors import SourceError

def kill_my_executor(rows):  # runs in a Python worker: its daemon's parent is the executor JVM
    daemon = os.getppid()
    jvm = int(open(f"/proc/{daemon}/stat").read().rsplit(")", 1)[1].split()[1])
    os.kill(jvm, 9)
    yield from rows

session = spark_session("local-cluster[1,1,1024]", {"spark.task.maxFailures": "1", "spark.executor.memory": "1g"})
try:
    with open_spark_source(sys.argv[1], session=session) as source:
        session.table(source.names["usage_events"]).rdd.mapPartitions(kill_my_executor).count()
except SourceError as exc:
    print(exc)
"""


@pytest.mark.spark
def test_a_lost_executor_is_one_message(small_world, spark):
    """An executor JVM killed (SIGKILL) under its task, in a session of its own (one try per task)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[4]
    done = subprocess.run([sys.executable, "-c", LOSE_AN_EXECUTOR, str(small_world)], capture_output=True,
                          text=True, cwd=root, env={**__import__("os").environ, "PYTHONPATH": str(root)}, timeout=300)
    message = done.stdout.strip()
    assert message.startswith(f"Spark failed on data source {small_world} (tables: accounts,"), done.stdout + done.stderr
    assert "ExecutorLostFailure" in message and "an executor was lost" in message
    assert "\tat " not in message and "Traceback" not in done.stderr


class _JavaError(Exception):
    """What Py4J raises: the call, then the Java exception and its stack."""


def test_describe_keeps_the_first_line_and_logs_the_stack(caplog):
    text = ("An error occurred while calling o81.collectToPython.\n"
            ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 3.0 failed 4 times: "
            "ExecutorLostFailure (executor 1 exited caused by one of the running tasks) Reason: Command exited with code 137\n"
            "\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:2856)\n")
    reads = {"usage_events": TableRead(None, "/data/usage_events", ["/data/usage_events/part-0.parquet"]),
             "accounts": TableRead(None, "/data/accounts.csv", ["/data/accounts.csv"])}
    with caplog.at_level(logging.DEBUG, logger="churn"):
        message = describe(_JavaError(text), "/data", reads)
    assert message.startswith("Spark failed on data source /data (tables: accounts, usage_events): Job aborted")
    assert "an executor was lost" in message and "DAGScheduler" not in message
    assert "DAGScheduler.failJobAndIndependentStages" in caplog.text  # the stack is in the log


def test_out_of_memory_says_which_setting_to_raise():
    text = "java.lang.OutOfMemoryError: Java heap space\n\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)"
    message = describe(_JavaError(text), "s3a://lake/crm", {})
    assert "OutOfMemoryError: Java heap space" in message and "spark.executor.memory" in message
    assert headline(_JavaError(text)) == "OutOfMemoryError: Java heap space"


def test_a_catalog_table_is_named_by_its_object():
    text = "[FAILED_READ_FILE.NO_HINT] Error while reading table `spark_catalog`.`crm`.`usage_events`."
    reads = {"usage_events": TableRead(None, "crm.usage_events", []), "accounts": TableRead(None, "crm.accounts", [])}
    assert describe(_JavaError(text), "spark-catalog:crm", reads).startswith(
        "Spark failed on table usage_events (crm.usage_events): [FAILED_READ_FILE.NO_HINT]")
