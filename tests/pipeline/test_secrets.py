"""A database password given in a URL is never printed, logged or stored.

``load``, ``train``, ``score`` and ``risk-list`` run against the real PostgreSQL server with a URL
holding a password (trust authentication ignores it): their output, every log record (down to DEBUG),
the MLflow run (params, tags, metrics, artifacts, registry), ``score_runs``/``churn_scores`` and every
file the run wrote must show the masked form only.
"""

from __future__ import annotations

import logging

import psycopg
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.errors import mask_secrets
from pipeline.io.urls import mask_url
from scoring_fixtures import NAME, SMALL_TRAINING, churn, scoring_config, write_config

PASSWORD = "s3cr3t-pw"


@pytest.mark.parametrize("url, password", [
    (f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/db", PASSWORD),
    (f"postgres://app:{PASSWORD}@db.internal/prod?sslmode=require", PASSWORD),
    (f"postgresql+psycopg://app:{PASSWORD}@h1,h2:5433/prod", PASSWORD),
    (f"postgresql://:{PASSWORD}@localhost/db", PASSWORD),
    ("postgresql://app:p%40ss%3Aw%2Frd@db/prod", "p%40ss%3Aw%2Frd"),  # '@', ':', '/' percent-encoded as required
    (f"postgresql://app:{PASSWORD}@x@db/prod", f"{PASSWORD}@x"),  # an unencoded '@' in the password
    (f"postgresql://app@db/prod?password={PASSWORD}", PASSWORD),  # a password=... query parameter
])
def test_urls_are_masked_alone_and_inside_messages(url, password):
    expected = url.replace(password, "***")  # all of the password masked, nothing else
    assert mask_url(url) == expected
    assert mask_secrets(f"cannot connect to {url}: refused; retry {url}") == \
        f"cannot connect to {expected}: refused; retry {expected}"


def with_password(url: str) -> str:
    user, rest = url.removeprefix("postgresql://").split("@", 1)
    return f"postgresql://{user}:{PASSWORD}@{rest}"


@pytest.mark.postgres
@pytest.mark.slow
def test_password_is_never_printed_logged_or_stored(small_world, pg_database, tmp_path, caplog, capfd):
    secret = with_password(pg_database)
    bad = secret.rsplit("/", 1)[0] + "/no_such_database"
    store = tmp_path / "store"  # tracking store, model artifacts, reports: every file is searched below
    cfg = scoring_config(small_world, store, **SMALL_TRAINING)
    config = write_config(cfg, tmp_path / "pipeline.yaml")  # the secret URL is given on the command line only
    caplog.set_level(logging.DEBUG)
    runner, printed = CliRunner(), []

    def invoke(*args, code: int = 0):
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == code, (result.output, result.exception)
        printed.extend([result.stdout, result.stderr])
        return result

    model = f"models:/{NAME}/1"
    loaded = invoke("load", "--data", small_world, "--to", secret)
    assert mask_url(secret) in loaded.stdout
    trained = invoke("train", "--config", config, "--data", secret)
    assert "model version 1 ->" in trained.stdout
    invoke("score", "--config", config, "--data", secret, "--warehouse", secret, "--model", model)
    invoke("risk-list", "--config", config, "--warehouse", secret, "--top", "5")
    failed = invoke("score", "--config", config, "--data", bad, "--warehouse", secret, "--model", model, code=2)
    assert f"cannot connect to {mask_url(bad)}" in failed.stderr
    invoke("risk-list", "--warehouse", bad, code=2)
    # a real process: the CLI's own logging set-up, warnings printed by libraries, the summary
    process = churn("score", "--config", config, "--data", secret, "--warehouse", secret, "--model", model)
    assert process.returncode == 0, process.stderr
    printed.extend([process.stdout, process.stderr, *capfd.readouterr()])

    assert len(caplog.records) > 0
    for text in [*printed, caplog.text]:
        assert PASSWORD not in text
    assert "postgres:***@" in process.stdout

    client = MlflowClient(cfg.tracking.uri)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.data.tags["data_source"] == mask_url(secret)
    for mapping in (run.data.params, run.data.tags, run.data.metrics):
        assert PASSWORD not in repr(mapping)
    for version in client.search_model_versions(f"name = '{NAME}'"):
        assert PASSWORD not in repr(version.tags) + str(version.source)
    assert PASSWORD not in repr(client.get_registered_model(NAME))

    with psycopg.connect(pg_database) as con:
        runs = con.execute("SELECT status, source, row_to_json(r)::text FROM score_runs r ORDER BY started_at").fetchall()
        scores = con.execute("SELECT row_to_json(s)::text FROM churn_scores s").fetchall()
    assert [(status, source) for status, source, _ in runs] == [
        ("succeeded", mask_url(secret)), ("failed", mask_url(bad)), ("succeeded", mask_url(secret))]
    assert scores and all(PASSWORD not in text for (text,) in scores)
    assert all(PASSWORD not in text for _, _, text in runs)

    files = [f for f in store.rglob("*") if f.is_file()]
    assert any(f.name == "mlflow.db" for f in files) and any(f.suffix == ".html" for f in files)
    assert [f for f in files if PASSWORD.encode() in f.read_bytes()] == []
