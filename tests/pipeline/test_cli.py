"""Tests of ``pipeline/cli.py``: the command list and how user errors become one ``error:`` line."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from pipeline.cli import app, handles_errors
from models.errors import ChurnError
from pipeline.errors import SourceError

COMMANDS = ("generate", "load", "init", "validate", "features", "train", "score", "risk-list")


def invoke(target, *args):
    return CliRunner().invoke(target, [str(a) for a in args])


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def test_help_lists_every_command():
    result = invoke(app, "--help")
    assert result.exit_code == 0, result.output
    for command in COMMANDS:
        assert command in result.stdout, command


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_its_own_help(command):
    result = invoke(app, command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout and "--" in result.stdout


@pytest.mark.parametrize("args, flag", [
    (("features", "--as-of", "2024-13-45"), "--as-of"),
    (("train", "--train-until", "yesterday"), "--train-until"),
])
def test_a_bad_date_flag_is_one_error_line_and_exit_2(tmp_path, args, flag):
    result = invoke(app, *args, "--data", tmp_path)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    (line,) = error_lines(result)
    assert line.startswith(f"error: {flag}: '{args[-1]}' is not a date (YYYY-MM-DD)")
    assert "Traceback" not in result.output


def demo_app(exc: Exception) -> typer.Typer:
    """A one-command app whose command raises ``exc`` under :func:`handles_errors`."""
    demo = typer.Typer()

    @demo.command()
    @handles_errors
    def boom():
        raise exc

    return demo


def test_handled_errors_are_masked_and_keep_their_exit_code():
    class Custom(SourceError):
        exit_code = 3

    result = invoke(demo_app(Custom("cannot connect to postgresql://bob:hunter2@db/prod")))
    assert result.exit_code == 3
    assert error_lines(result) == ["error: cannot connect to postgresql://bob:***@db/prod"]
    assert "hunter2" not in result.output


def test_only_churn_errors_are_turned_into_messages():
    assert ChurnError.exit_code == 2
    result = invoke(demo_app(RuntimeError("a bug, not a user error")))
    assert isinstance(result.exception, RuntimeError) and result.exit_code == 1
    assert not error_lines(result)


@pytest.mark.parametrize("table, column", [("usage_events", "occurred_at"), ("accounts", "segment"),
                                           ("subscriptions", "mrr")])
def test_no_validate_with_a_missing_required_column_names_table_and_column(tmp_path, table, column):
    import duckdb
    import tiny_world

    path = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(path))
    for name, frame in tiny_world.frames().items():
        con.register("frame", frame.drop(columns=[column]) if name == table else frame)
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
        con.unregister("frame")
    con.close()
    result = invoke(app, "features", "--data", path, "--as-of", tiny_world.T, "--no-validate",
                    "--out", tmp_path / "f.csv")
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    (line,) = error_lines(result)
    assert f"table {table} has no column {column}, which the contract requires" in line
    assert not (tmp_path / "f.csv").exists()


HEAVY = ("mlflow", "lightgbm", "pyspark", "sklearn")


def _loaded_after(args: list[str]) -> list[str]:
    """The heavy libraries in ``sys.modules`` after ``churn <args>`` ran in a fresh interpreter."""
    import json
    import subprocess
    import sys

    code = ("import json, sys\nfrom pipeline.cli import app\ntry:\n    app(%r)\nexcept SystemExit:\n    pass\n"
            "print(json.dumps(sorted(m for m in %r if m in sys.modules)))") % (args, HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_help_and_light_commands_import_no_mlflow_lightgbm_or_spark(small_world, tmp_path):
    """``churn --help`` should start in well under a second: the heavy libraries load only in the commands needing them."""
    assert _loaded_after(["--help"]) == []
    assert _loaded_after(["score", "--help"]) == []
    assert _loaded_after(["validate", "--data", str(small_world)]) == []
    assert _loaded_after(["features", "--data", str(small_world), "--out", str(tmp_path / "f.parquet")]) == []


@pytest.mark.parametrize("engine, early", [("duckdb", True), ("spark", False)])
def test_a_command_reading_a_folder_on_duckdb_starts_opening_it_with_its_config(tmp_path, monkeypatch, engine, early):
    """Every command reading data starts opening a folder on DuckDB as soon as its config is read
    (``pipeline.io.folders.start_opening``), before importing its step; not for Spark, which reads it itself."""
    import tiny_world
    from pipeline import cli
    from pipeline.io import folders

    started = []
    monkeypatch.setattr(folders, "start_opening", lambda spec, mb: started.append((str(spec), mb)))
    folder = tiny_world.write(tmp_path / "w", fmt="csv")
    cfg = cli._data_config(None, data=str(folder), engine=engine)
    assert started == ([(str(folder), cfg.csv_in_memory_mb)] if early else [])


def test_the_command_s_source_takes_the_folder_opened_early(tmp_path, monkeypatch):
    import threading

    import tiny_world
    from pipeline.io import folders

    folder = tiny_world.write(tmp_path / "w", fmt="csv")
    threads = []
    opening = folders.connect_folder
    monkeypatch.setattr(folders, "connect_folder",
                        lambda *a: threads.append(threading.current_thread().name) or opening(*a))
    result = invoke(app, "validate", "--data", folder, "--engine", "duckdb")
    assert result.exit_code == 0, result.output
    assert len(threads) == 1 and threads[0].startswith("churn-folder")  # opened once, early, on its own thread
    assert folders._early is None  # and taken by the command's source
