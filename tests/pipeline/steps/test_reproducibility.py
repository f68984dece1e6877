"""Same data + config + seed -> byte-identical feature table, identical model metrics, identical scores."""

from __future__ import annotations

import hashlib

import pandas as pd
from mlflow import MlflowClient

from pipeline.publish.pyfunc import load_churn_model
from pipeline.publish.registry import point_at
from pipeline.config import load_config
from pipeline.engine.featurize import build_features
from pipeline.engine.labels import snapshot_dates
from pipeline.io.sources import open_source
from pipeline.io.warehouse import Warehouse
from scoring_fixtures import NAME, SMALL_TRAINING, Lines, comparable, scoring_config, start_churn, write_config


def feature_bytes(world, path):
    cfg = load_config(None, {})
    with open_source(world) as source:
        table = build_features(source, cfg, snapshot_dates(source, cfg))
    table.frame.to_parquet(path, index=False)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_feature_table_is_byte_identical_across_runs(small_world, tmp_path):
    assert feature_bytes(small_world, tmp_path / "a.parquet") == feature_bytes(small_world, tmp_path / "b.parquet")


def together(*commands: list) -> list[Lines]:
    """Run ``churn`` commands as separate processes at the same time (each its own hash seed); all must succeed."""
    runs = [Lines(start_churn(*command)) for command in commands]
    for run in runs:
        assert run.finish() == 0, run.stderr
    return runs


def test_feature_table_is_byte_identical_across_processes(small_world, tmp_path):
    out = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    together(*[["features", "--data", small_world, "--panel", "--out", path] for path in out])
    assert hashlib.sha256(out[0].read_bytes()).digest() == hashlib.sha256(out[1].read_bytes()).digest()


def test_two_trainings_with_one_seed_give_identical_metrics_models_and_scores(small_world, tmp_path):
    """Two `churn train` runs (separate tracking stores), then each model scores: only ids and times differ."""
    cfgs = [scoring_config(small_world, tmp_path / name, **SMALL_TRAINING) for name in ("a", "b")]
    configs = [write_config(cfg, tmp_path / f"{name}.yaml") for cfg, name in zip(cfgs, ("a", "b"))]
    trained = together(*[["train", "--config", config, "--seed", "7"] for config in configs])
    assert trained[0].stdout.replace(str(tmp_path / "a"), "") == trained[1].stdout.replace(str(tmp_path / "b"), "")

    runs = []
    for cfg in cfgs:
        client = MlflowClient(cfg.tracking.uri)
        (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
        runs.append(run)
    a, b = (run.data for run in runs)
    assert len(a.metrics) > 20 and a.metrics == b.metrics
    assert a.params["training.seed"] == "7"
    assert {k: v for k, v in a.params.items() if k != "training.report_dir"} == \
        {k: v for k, v in b.params.items() if k != "training.report_dir"}
    assert a.tags["data_fingerprint"] == b.tags["data_fingerprint"]

    models = []
    for cfg in cfgs:
        point_at(cfg.tracking)  # not mlflow.set_tracking_uri: it would hand MLFLOW_TRACKING_URI to the processes below
        models.append(load_churn_model(f"models:/{NAME}/1"))
    assert models[0].booster_.model_to_string() == models[1].booster_.model_to_string()
    assert models[0].feature_names_ == models[1].feature_names_

    together(*[["score", "--config", config, "--model", f"models:/{NAME}/1"] for config in configs])
    stores = [Warehouse(cfg.warehouse) for cfg in cfgs]
    rows = [store.scores(store.latest_as_of()) for store in stores]
    assert len(rows[0]) > 100 and rows[0]["run_id"].iloc[0] != rows[1]["run_id"].iloc[0]
    pd.testing.assert_frame_equal(comparable(rows[0]), comparable(rows[1]), check_exact=True)
    recorded = [store.runs().iloc[0] for store in stores]
    assert recorded[0]["drift"] == recorded[1]["drift"] and recorded[0]["row_count"] == recorded[1]["row_count"]
