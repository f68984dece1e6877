"""Bad input never ends in a traceback: the corpus through every command that reads data,
plus sources that cannot be opened and configurations that break the rules.

Data cases come from ``tests/broken.py`` (also run through ``churn validate`` in
``test_validate.py``); here they go through ``churn features``, which validates
first and must stop with the same line and exit code 2, or carry on for
warnings and accepted input.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import tiny_world
from broken import CASES, apply_case, exit_code, expected_line
from pipeline.cli import app


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def tiny_csv(tmp_path):
    return tiny_world.write(tmp_path / "tiny", fmt="csv")


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_features_command_stops_on_the_same_error(tiny_csv, tmp_path, case):
    apply_case(tiny_csv, case)
    result = run("features", "--data", tiny_csv, "--as-of", tiny_world.T, "--out", tmp_path / "f.csv")
    assert result.exit_code == exit_code(case), result.output
    expected = expected_line(case)
    if expected and expected.startswith("ERROR"):
        assert any(line.startswith(expected) for line in result.output.splitlines()), result.output
        assert not (tmp_path / "f.csv").exists(), "nothing is written when the input is bad"


def write_config(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


CONFIG_CASES = {
    "unknown key": ("labels:\n  horizon_days: 90\n  horizont: 3\n", "unknown key 'labels.horizont'"),
    "unknown section": ("scorring:\n  table: x\n", "unknown key 'scorring'"),
    "horizon zero": ("labels:\n  horizon_days: 0\n", "bad value for 'labels.horizon_days'"),
    "horizon negative": ("labels:\n  horizon_days: -5\n", "bad value for 'labels.horizon_days'"),
    "negative grace": ("labels:\n  grace_days: -1\n", "bad value for 'labels.grace_days'"),
    "table name with SQL": ("scoring:\n  table: 'scores; drop table accounts'\n", "not a plain SQL name"),
    "runs table with quote": ("scoring:\n  runs_table: 'runs\"x'\n", "not a plain SQL name"),
    "attribute with SQL": ("features:\n  attributes:\n    categorical: ['industry) --']\n", "not a plain SQL name"),
    "no windows": ("features:\n  usage:\n    windows: []\n", "bad value for 'features.usage.windows'"),
    "tier out of range": ("scoring:\n  tiers: {high: 1.5, medium: 0.1}\n",
                          "bad value for 'scoring.tiers': Value error, rule 'probability': high and medium are "
                          "probabilities below 1"),
    "tiers inverted": ("scoring:\n  tiers: {high: 0.05, medium: 0.2}\n", "scoring.tiers"),
    "not a mapping": ("- just\n- a list\n", "expected a mapping"),
    "not yaml": ("labels: [unclosed\n", "not valid YAML"),
}


@pytest.mark.parametrize("case", CONFIG_CASES, ids=list(CONFIG_CASES))
def test_bad_configuration_is_named(tmp_path, tiny_csv, case):
    text, message = CONFIG_CASES[case]
    result = run("features", "--config", write_config(tmp_path, text), "--data", tiny_csv)
    assert result.exit_code == 2
    assert message in result.output, result.output


def test_missing_config_file(tmp_path, tiny_csv):
    result = run("validate", "--config", tmp_path / "nope.yaml", "--data", tiny_csv)
    assert result.exit_code == 2 and "does not exist" in result.output


@pytest.mark.parametrize(
    "spec, message",
    [
        ("/no/such/folder", "does not exist"),
        ("postgresql://postgres:s3cret@127.0.0.1:1/test", "cannot connect"),
        ("data.sqlite", "does not exist"),
    ],
)
def test_sources_that_cannot_be_opened(spec, message):
    result = run("validate", "--data", spec)
    assert result.exit_code == 2
    assert message in result.output
    assert "s3cret" not in result.output


def test_a_file_that_is_not_a_duckdb_database(tmp_path):
    fake = tmp_path / "warehouse.duckdb"
    fake.write_bytes(b"this is not a database" * 100)
    result = run("validate", "--data", fake)
    assert result.exit_code == 2 and "cannot open DuckDB file" in result.output


def test_the_corpus_is_large_enough():
    assert len(CASES) + len(CONFIG_CASES) + 5 >= 40
