"""MLflow logging, the pyfunc round trip and the promotion gate, on a temporary tracking store."""

from __future__ import annotations

import json
import os

import mlflow
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.publish import registry
from pipeline.publish.pyfunc import CONTRIB_PREFIX, load_churn_model
from pipeline.steps import train
from pipeline.cli import app
from pipeline.config import load_config
from training_fixtures import TRAINING, train_config

NAME = "churn-model"


def test_sqlite_store_keeps_artifacts_beside_it(tmp_path):
    cfg = load_config(None, {"tracking.uri": f"sqlite:///{tmp_path}/x/mlflow.db"})
    assert registry.artifact_location(cfg.tracking) == (tmp_path / "x" / "mlruns").as_uri()


# ------------------------------------------------------------ end to end in MLflow
@pytest.fixture(scope="module")
def runs(tmp_path_factory, demo):
    """Three trainings against one temporary store: the CLI, a shuffled-label model, a good model again."""
    tmp = tmp_path_factory.mktemp("tracking")
    cfg = train_config(demo["folder"], tmp)
    config_file = tmp / "pipeline.yaml"
    config_file.write_text(yaml.safe_dump(_nested({**TRAINING, "tracking.uri": cfg.tracking.uri})))
    cli = CliRunner().invoke(app, [
        "train", "--data", str(demo["folder"]), "--config", str(config_file), "--report-dir", str(tmp / "cli")])
    assert cli.exit_code == 0, cli.output
    client = registry.configure(cfg.tracking)
    first = client.get_model_version_by_alias(NAME, "champion")

    shuffled = train.run(cfg, table=demo["table"], fit=_on_shuffled_labels(train.make_fitter(cfg, demo["table"])))
    champion_after_shuffled = client.get_model_version_by_alias(NAME, "champion").version
    # pretend the shuffled model had been promoted: a good model must now replace it
    client.set_registered_model_alias(NAME, "champion", shuffled.version)
    good = train.run(cfg, table=demo["table"])
    return dict(cli=cli, first=first, shuffled=shuffled, good=good, client=client,
                champion_after_shuffled=champion_after_shuffled)


def _on_shuffled_labels(fit):
    """A training recipe that learns from shuffled labels (and is then judged on the real ones)."""
    rng = np.random.default_rng(0)

    def shuffle(rows):
        return rows.assign(churned=rng.permutation(rows["churned"].to_numpy()))

    def shuffled_fit(rows, trees, *rest):
        return fit(shuffle(rows), trees, *rest)

    return shuffled_fit


def _nested(dotted: dict) -> dict:
    out: dict = {}
    for key, value in dotted.items():
        *parents, leaf = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def test_cli_trains_registers_and_reports(runs):
    out = runs["cli"].output
    assert "roc_auc" in out and "health" in out and "-> champion: promoted" in out
    assert str(runs["first"].version) == "1"


def test_gate_refuses_a_model_trained_on_shuffled_labels(runs):
    shuffled = runs["shuffled"]
    assert shuffled.decision.alias == "challenger" and not shuffled.decision.promote
    assert "health score" in shuffled.decision.reason and "champion v1" in shuffled.decision.reason
    assert shuffled.decision.new_auc < shuffled.decision.health_auc
    assert str(runs["champion_after_shuffled"]) == "1"
    challenger = runs["client"].get_model_version_by_alias(NAME, "challenger")
    assert str(challenger.version) == shuffled.version
    assert challenger.tags["promotion_reason"].startswith("not promoted")


def test_gate_promotes_a_better_model_over_a_worse_champion(runs):
    good = runs["good"]
    assert good.decision.promote, good.decision.reason
    assert good.decision.champion_version == runs["shuffled"].version
    assert str(runs["client"].get_model_version_by_alias(NAME, "champion").version) == good.version


def test_pyfunc_from_the_registry_gives_the_in_memory_probabilities(runs):
    good = runs["good"]
    rows = good.panel.head(500)
    expected = good.model.predict_risk(rows)
    loaded = load_churn_model(f"models:/{NAME}@champion")
    np.testing.assert_array_equal(loaded.predict_proba(rows), good.model.predict_proba(rows))
    served = mlflow.pyfunc.load_model(f"models:/{NAME}@champion").predict(rows[good.model.feature_names_])
    np.testing.assert_allclose(served["churn_probability"].to_numpy(), expected, rtol=0, atol=1e-12)
    contrib = served[[CONTRIB_PREFIX + f for f in good.model.feature_names_] + ["base_value"]]
    np.testing.assert_allclose(contrib.sum(axis=1), good.model.raw_score(rows), atol=1e-9)


def test_run_and_version_record_what_the_scorer_and_auditors_need(runs):
    good, client = runs["good"], runs["client"]
    version = client.get_model_version(NAME, good.version)
    assert json.loads(version.tags["features"]) == good.model.feature_names_
    assert version.tags["config_version"] == str(good.model.config_version_)
    assert version.tags["run_id"] == good.run_id == version.run_id
    run = client.get_run(good.run_id)
    assert run.data.metrics["model_roc_auc"] > run.data.metrics["health_roc_auc"]
    assert {"latest_model_ece", "fold2_health_pr_auc", "model_brier"} <= set(run.data.metrics)
    assert run.data.tags["data_fingerprint"] == good.fingerprint and run.data.tags["git_commit"]
    assert run.data.params["training.seed"] == "42"
    artifacts = {a.path for a in client.list_artifacts(good.run_id, "report")}
    assert "report/train_report.html" in artifacts and "report/figures" in artifacts
    assert good.report.is_file() and "champion" in good.report.read_text()


@pytest.mark.parametrize("user", [None, "sqlite:///users-own.db"])
def test_pointing_mlflow_leaves_mlflow_tracking_uri_as_the_user_set_it(tmp_path, monkeypatch, user):
    """mlflow.set_tracking_uri writes the variable; a later config (or a `churn` started from here) must not read it."""
    if user is None:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", user)
    cfg = load_config(None, {"tracking.uri": f"sqlite:///{tmp_path}/mlflow.db"})
    registry.configure(cfg.tracking)
    assert mlflow.get_tracking_uri() == cfg.tracking.uri
    assert os.environ.get("MLFLOW_TRACKING_URI") == user
    after = load_config(None).tracking
    assert (after.origin == "MLFLOW_TRACKING_URI") == (user is not None) and after.uri != cfg.tracking.uri
