"""The MLflow pyfunc: probabilities and contributions, and the health scorecard the model was compared against."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from models.classifier import ChurnModel
from models.health_score import HealthScore
from pipeline.publish.pyfunc import CONTRIB_PREFIX, load_churn_model, load_churn_model_and_scorecard, log_model
from pipeline.publish.registry import configure
from pipeline.config import CONFIG_VERSION, load_config
from pipeline.steps.score import load_model


@pytest.fixture
def tracked(tmp_path):
    """A small model logged with a scorecard into a private tracking store; ``(cfg, uri, model, scorecard)``."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"open_urgent_tickets": rng.poisson(0.5, 3000).astype(float), "noise": rng.normal(size=3000)})
    y = (rng.random(3000) < 0.05 + 0.2 * (X["open_urgent_tickets"] > 1)).astype(int)
    model = ChurnModel(params={"num_boost_round": 20}, seed=1, calibration="none").fit(
        X, y, config_version=CONFIG_VERSION)
    cfg = load_config(None, {"tracking.uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "tracking.model_name": "pyfunc-test",
                             "tracking.artifact_location": str(tmp_path / "mlruns"),
                             "scoring.model_cache_dir": str(tmp_path / "model_cache")})
    scorecard = HealthScore.from_config("configs/health_score.yaml")
    configure(cfg.tracking)
    with mlflow.start_run():
        info = log_model(model, X.head(20), registered_model_name="pyfunc-test", scorecard=scorecard.to_dict())
    return cfg, f"models:/pyfunc-test/{info.registered_model_version}", model, scorecard, X


def test_pyfunc_serves_probabilities_and_contributions(tracked):
    _, uri, model, _, X = tracked
    served = mlflow.pyfunc.load_model(uri).predict(X.head(50))
    np.testing.assert_allclose(served["churn_probability"], model.predict_risk(X.head(50)))
    contrib = served[[CONTRIB_PREFIX + f for f in model.feature_names_] + ["base_value"]].sum(axis=1)
    np.testing.assert_allclose(contrib, model.raw_score(X.head(50)), atol=1e-9)
    np.testing.assert_array_equal(load_churn_model(uri).predict_proba(X), model.predict_proba(X))


def test_the_scorer_uses_the_scorecard_logged_with_the_model_not_todays_file(tracked, tmp_path):
    """``churn_scores.health_score`` used to follow whatever ``health_score.yaml`` said at scoring time."""
    cfg, uri, _, scorecard, _ = tracked
    changed = scorecard.to_dict()
    changed["categories"]["support"]["weight"] = 90
    edited = tmp_path / "health_score.yaml"
    edited.write_text(yaml.safe_dump(changed))
    cfg = cfg.model_copy(update={"training": cfg.training.model_copy(update={"health_score": str(edited)})})
    loaded, logged = load_churn_model_and_scorecard(uri)
    assert logged == scorecard.to_dict()
    _, health, *_ = load_model(cfg, uri)
    assert health.to_dict() == scorecard.to_dict() != HealthScore.from_config(edited).to_dict()


def test_the_cached_model_is_replaced_when_the_registry_serves_a_new_version(tracked, tmp_path):
    """The scorer keeps a local copy of the served model, but the registry still decides which version serves."""
    from pipeline.publish import model_cache

    cfg, uri, model, _, X = tracked
    mlflow.MlflowClient().set_registered_model_alias("pyfunc-test", "champion", uri.rsplit("/", 1)[1])
    alias = "models:/pyfunc-test@champion"
    first, _, _, version, _ = load_model(cfg, alias)
    here = model_cache.slot(tmp_path / "model_cache", cfg.tracking.uri, "pyfunc-test")
    assert json.loads((here / model_cache.KEY_FILE).read_text())["version"] == version == "1"
    again, *_ = load_model(cfg, alias)  # served from the copy: same model, same slot
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))

    other = ChurnModel(params={"num_boost_round": 5}, seed=2, calibration="none").fit(
        X, (X["noise"] > 1).astype(int), config_version=CONFIG_VERSION)
    with mlflow.start_run():
        info = log_model(other, X.head(20), registered_model_name="pyfunc-test")
    mlflow.MlflowClient().set_registered_model_alias("pyfunc-test", "champion", info.registered_model_version)
    served, _, _, version, _ = load_model(cfg, alias)
    assert version == "2"
    assert json.loads((here / model_cache.KEY_FILE).read_text())["version"] == "2"
    np.testing.assert_array_equal(served.predict_proba(X), other.predict_proba(X))
    assert [p.name for p in (tmp_path / "model_cache").iterdir()] == [here.name]  # the old copy is gone


def test_a_cache_slot_holding_another_run_is_downloaded_again(tmp_path):
    """Same name and version from a re-created registry (another run id) is another model."""
    from pipeline.publish import model_cache

    calls = []

    def download(dst):
        calls.append(dst)
        dst.mkdir(parents=True)
        (dst / "MLmodel").write_text(f"run {len(calls)}")
        return dst

    one = model_cache.cached(tmp_path, "sqlite:///a.db", "m", "1", "run-a", download)
    assert model_cache.cached(tmp_path, "sqlite:///a.db", "m", "1", "run-a", download) == one
    assert len(calls) == 1
    two = model_cache.cached(tmp_path, "sqlite:///a.db", "m", "1", "run-b", download)
    assert len(calls) == 2 and (two / "MLmodel").read_text() == "run 2"
    model_cache.cached(tmp_path, "sqlite:///b.db", "m", "1", "run-b", download)  # another store: its own slot
    assert len(calls) == 3 and len(list(tmp_path.iterdir())) == 2


def test_a_failed_download_leaves_the_cached_copy_alone(tmp_path):
    from pipeline.publish import model_cache

    def download(dst):
        dst.mkdir(parents=True)
        (dst / "MLmodel").write_text("good")
        return dst

    def broken(dst):
        raise OSError("connection reset")

    good = model_cache.cached(tmp_path, "u", "m", "1", "r", download)
    with pytest.raises(OSError):
        model_cache.cached(tmp_path, "u", "m", "2", "s", broken)
    assert (good / "MLmodel").read_text() == "good" and len(list(tmp_path.iterdir())) == 1
