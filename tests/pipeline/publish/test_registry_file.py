"""Reading a SQLite registry's file answers as MLflow does, or not at all; a cached model loads without MLflow."""

from __future__ import annotations

import json
import subprocess
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest

from models.classifier import ChurnModel
from pipeline.config import CONFIG_VERSION, load_config
from pipeline.publish import registry_file
from pipeline.publish.pyfunc import log_model
from pipeline.publish.registry import configure
from pipeline.steps.score import load_model

NAME = "file-test"


@pytest.fixture
def registry(tmp_path):
    """Two versions of a small model in a private SQLite store, ``champion`` on version 1; ``(cfg, X)``."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"open_urgent_tickets": rng.poisson(0.5, 600).astype(float), "noise": rng.normal(size=600)})
    y = (rng.random(600) < 0.05 + 0.3 * (X["open_urgent_tickets"] > 1)).astype(int)
    cfg = load_config(None, {"tracking.uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "tracking.model_name": NAME,
                             "tracking.artifact_location": str(tmp_path / "mlruns"),
                             "scoring.model_cache_dir": str(tmp_path / "model_cache")})
    configure(cfg.tracking)
    for seed in (1, 2):
        model = ChurnModel(params={"num_boost_round": 5}, seed=seed, calibration="none").fit(
            X, y, config_version=CONFIG_VERSION)
        with mlflow.start_run():
            log_model(model, X.head(20), registered_model_name=NAME)
    mlflow.MlflowClient().set_registered_model_alias(NAME, "champion", "1")
    return cfg, X


def _mlflow_says(name, alias=None, version=None):
    client = mlflow.MlflowClient()
    found = client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, version)
    return str(found.version), found.run_id


def test_the_file_answers_what_mlflow_answers(registry):
    cfg, _ = registry
    uri, client = cfg.tracking.uri, mlflow.MlflowClient()
    assert registry_file.served(uri, NAME, alias="champion") == _mlflow_says(NAME, alias="champion")
    assert registry_file.served(uri, NAME, version="2") == _mlflow_says(NAME, version="2")
    client.set_registered_model_alias(NAME, "champion", "2")  # the alias moves: the file follows at once
    assert registry_file.served(uri, NAME, alias="champion") == _mlflow_says(NAME, alias="champion")
    assert registry_file.registered(uri, NAME) is True and registry_file.registered(uri, "other") is False
    client.delete_model_version(NAME, "1")
    assert registry_file.served(uri, NAME, version="1") is None  # deleted: MLflow says why


def test_the_file_leaves_to_mlflow_what_it_cannot_say_exactly(registry, monkeypatch, tmp_path):
    cfg, _ = registry
    uri = cfg.tracking.uri
    assert registry_file.served(uri, NAME, alias="latest") is None  # MLflow resolves it (highest version)
    assert registry_file.served(uri, NAME, alias="challenger") is None  # no such alias: MLflow's message
    assert registry_file.served("postgresql://u@h/db", NAME, alias="champion") is None
    assert registry_file.served(f"sqlite:///{tmp_path / 'absent.db'}", NAME, alias="champion") is None
    monkeypatch.setenv("MLFLOW_ENABLE_WORKSPACES", "true")
    assert registry_file.served(uri, NAME, alias="champion") is None
    assert registry_file.registered(uri, NAME) is None


def test_a_cached_model_is_served_without_importing_mlflow(registry):
    """The registry is read every time, but MLflow's import (about 1.5 s) only when the copy must change."""
    cfg, X = registry
    first, _, _, version, _ = load_model(cfg, None)
    assert version == "1"
    code = (
        "import json, sys\n"
        "from pipeline.config import load_config\n"
        "from pipeline.steps.score import load_model\n"
        f"cfg = load_config(None, {json.dumps(_overrides(cfg))})\n"
        "model, _, name, version, _ = load_model(cfg, None)\n"
        "print(json.dumps([name, version, 'mlflow' in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == [NAME, "1", False]
    mlflow.MlflowClient().set_registered_model_alias(NAME, "champion", "2")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == [NAME, "2", True]  # a new version: MLflow downloads it
    served, *_ = load_model(cfg, None)
    assert not np.array_equal(served.predict_proba(X), first.predict_proba(X))


def _overrides(cfg) -> dict:
    return {"tracking.uri": cfg.tracking.uri, "tracking.model_name": NAME,
            "tracking.artifact_location": cfg.tracking.artifact_location,
            "scoring.model_cache_dir": cfg.scoring.model_cache_dir}
