"""The train step: what was known at --train-until, short histories, the unvalidated path and --promote."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.publish import registry
from pipeline.cli import app
from pipeline.steps import train
from training_fixtures import WINDOW, train_config


def test_train_until_uses_only_what_was_known_then(demo, tmp_path):
    cfg = train_config(demo["folder"], tmp_path)
    until = date(2025, 5, 15)
    result = train.run(cfg, train_until=until, track=False)
    assert result.train_until == until and result.table.data_end == until
    assert (pd.to_datetime(result.panel["as_of"]) + pd.Timedelta(days=WINDOW) < pd.Timestamp(until)).all()
    # a snapshot usable on that date has the same features and label as in the full data
    full = demo["table"].frame.set_index(["account_id", "as_of"])
    past = result.panel.set_index(["account_id", "as_of"])
    columns = [*result.table.feature_names, "churned"]
    pd.testing.assert_frame_equal(past[columns], full.loc[past.index, columns], check_dtype=False)
    assert result.report.is_file()
    # the time-to-churn model rides along, trained on what was known then (censored snapshots included)
    hazard = result.model.hazard_
    assert result.model.serving_ in ("classifier", "hazard") and hazard.events_ > 0
    assert hazard.rows_ > len(result.panel)  # several periods per snapshot, and snapshots the classifier cannot use
    assert (hazard.predict_curve(result.panel.head(50))[:, -1] <= 1).all()


@pytest.fixture(scope="module")
def short_world(tmp_path_factory):
    """About four months of history, weekly snapshots, a 30-day horizon: fight-churn's setting."""
    from pipeline.synthetic import generate_world

    folder = tmp_path_factory.mktemp("short") / "world"
    generate_world(folder, accounts=1500, days=130, seed=5)
    return folder


def short_config(folder, tmp, **overrides):
    return train_config(folder, tmp, **{
        "labels.horizon_days": 30, "labels.grace_days": 0, "snapshots.frequency": "weekly",
        "snapshots.warmup_days": 14, "training.folds": 3, "training.test_days": 91, **overrides})


def test_three_months_of_weekly_snapshots_train_and_report_out_of_time(short_world, tmp_path):
    result = train.run(short_config(short_world, tmp_path), track=False)
    assert result.validated and len(result.backtest.folds) == 1
    fold = result.backtest.latest.fold
    assert max(fold.train_dates) + timedelta(days=30) < fold.test_start
    assert result.backtest.latest.model["roc_auc"] == result.backtest.latest.model["roc_auc"]  # measured, not NaN
    assert "UNVALIDATED" not in train.summary(result)
    # the drift check's recent reference holds tenure as of the training's last snapshot date (it ages by construction)
    last = result.model.reference_recent_["tenure_days"]["aged_to"]
    assert last == str(max(d for d in result.table.frame["as_of"] if d <= result.train_until))
    assert "aged_to" not in result.model.reference_recent_["events_30d"]
    # a 90-day window is compared only among accounts with 90 days of tenure (in both references)
    assert result.model.reference_["events_90d"]["history_days"] == 90
    assert result.model.reference_recent_["events_90d"]["tenure"] == "tenure_days"
    # measured against all accounts on the same date: a date-wide shift cannot show in it, left out of the check
    relative = [f.name for f in result.table.features if f.definition.date_relative]
    assert relative and not set(relative) & (set(result.model.reference_) | set(result.model.reference_recent_))


@pytest.mark.parametrize("promote", [False, True])
def test_too_short_a_history_trains_unvalidated_and_promotes_only_with_promote(short_world, tmp_path, promote):
    cfg = short_config(short_world, tmp_path, **{"training.min_train_dates": 50})  # no fold can train: unvalidated
    config_file = tmp_path / "pipeline.yaml"
    config_file.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    args = ["train", "--config", str(config_file)] + (["--promote"] if promote else [])
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "UNVALIDATED" in done.output and "no out-of-time test block fits" in done.output
    client = registry.configure(cfg.tracking)
    version = client.search_model_versions(f"name='{cfg.tracking.model_name}'")[0]
    assert version.tags["validated"] == "false"
    run = client.get_run(version.run_id)
    assert run.data.params["validated"] == "False" and not [m for m in run.data.metrics if m.startswith("latest_")]
    aliases = client.get_registered_model(cfg.tracking.model_name).aliases
    assert ("champion" in aliases) is promote


def test_mlflow_tracking_uri_from_the_environment_is_where_train_logs_and_score_reads(small_world, tmp_path,
                                                                                      monkeypatch):
    """``MLFLOW_TRACKING_URI`` beats ``tracking.uri`` of the file (``--tracking-uri`` beats both: test_config)."""
    store = tmp_path / "store"
    store.mkdir()
    config_file = tmp_path / "pipeline.yaml"
    config_file.write_text(yaml.safe_dump({
        "data": str(small_world), "warehouse": str(tmp_path / "wh.duckdb"),
        "training": {"folds": 1, "test_days": 31, "lightgbm": {"num_boost_round": 40},
                     "report_dir": str(tmp_path / "reports"), "promotion_min_auc_gain_vs_health": -1.0},
        "tracking": {"uri": "sqlite:///mlflow.db", "model_name": "churn-env"}}))
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    where = f"MLflow tracking at sqlite:///{store / 'mlflow.db'} (from MLFLOW_TRACKING_URI)"
    trained = CliRunner().invoke(app, ["train", "--config", str(config_file)])
    assert trained.exit_code == 0, trained.output
    assert where in trained.stderr.splitlines()
    assert (store / "mlflow.db").is_file() and (store / "mlruns").is_dir()
    assert list(workdir.iterdir()) == []  # nothing in the working directory: no mlflow.db, no mlruns
    scored = CliRunner().invoke(app, ["score", "--config", str(config_file)])
    assert scored.exit_code == 0, scored.output
    assert where in scored.stderr.splitlines()
    assert "churn-env v1" in scored.stdout
    assert list(workdir.iterdir()) == []


def test_many_level_categoricals_must_earn_their_place_and_scoring_accepts_those_left_out(short_world, tmp_path):
    from pipeline.steps.score_table import check_features

    screened = train.run(short_config(short_world, tmp_path, **{"training.screen_categorical_levels": 1}),
                         track=False)  # one fold: every categorical with 2+ levels is measured with and without
    measured = [f for f in screened.table.categorical if screened.panel[f].nunique() > 1]
    assert measured and set(screened.model.screened_out_) <= set(measured)
    assert all("out-of-time ROC-AUC" in why for why in screened.model.screened_out_.values())
    assert not set(screened.model.screened_out_) & set(screened.model.feature_names_)
    check_features(screened.model, screened.table.features, "m")  # a left-out column is no mismatch
    blind = train.run(short_config(short_world, tmp_path, **{"training.screen_categorical_levels": 1,
                                                             "training.min_train_dates": 50}), track=False)
    # no out-of-time fold: each is judged by a permutation test of its levels against churn over accounts
    assert all("permutation p" in why for why in blind.model.screened_out_.values())
    assert set(blind.model.screened_out_) | set(blind.model.feature_names_) >= set(measured)
