"""``churn train-uplift``: the experiment frame (no outcome before its window closed), bad input, MLflow."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from models import folds
from pipeline.cli import app
from pipeline.io.experiment_tables import EXPERIMENT_COLUMNS, TABLE, _create
from pipeline.io.warehouse import Warehouse
from pipeline.steps import uplift
from pipeline.steps.impact import outcomes
from pipeline.engine.labels import data_end
from pipeline.io.sources import open_source
from pipeline.synthetic import generate_world
from scoring_fixtures import scoring_config, write_config

NAME = "retention-2025"
EXPERIMENT = {"name": NAME, "start": "2023-06-01", "threshold": 0.05, "holdout_share": 0.3}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A varied-effect world and its CS team's experiment as ``churn_experiments`` would hold it."""
    tmp = tmp_path_factory.mktemp("uplift")
    generate_world(tmp / "world", accounts=1500, days=730, seed=4, preset="outreach-varied",
                   params={"outreach_start_day": 150}, events=80_000)
    truth = pd.read_parquet(tmp / "world" / "_truth" / "outreach.parquet")
    assigned = pd.DataFrame({"account_id": truth["account_id"].astype(str), "arm": truth["arm"],
                             "assigned_date": pd.to_datetime(truth["listed_on"]).dt.date})
    cfg = scoring_config(tmp / "world", tmp, experiments=[EXPERIMENT])
    return cfg, assigned, tmp


def test_only_outcomes_whose_window_closed_before_the_training_date_are_used(world):
    cfg, assigned, _ = world
    window = folds.label_window_days(cfg.labels)
    until = date(2024, 3, 1)
    frame, features, _ = uplift.experiment_frame(cfg, assigned, until)
    assert len(features) > 20 and len(frame) > 100
    assert folds.closed_before(frame["assigned_date"], until, window).all()
    # leaking would help: later cohorts' outcomes (unknown on the date) are there in the data, but not used
    open_then = assigned[(pd.to_datetime(assigned["assigned_date"]) < pd.Timestamp(until))
                         & ~folds.closed_before(assigned["assigned_date"], until, window)]
    assert len(open_then) > 20 and not set(open_then["account_id"]) & set(frame["account_id"])
    # each outcome used is the one the pipeline's labels give on the full data: nothing later changes it
    with open_source(cfg.data) as source:
        full = outcomes(source, assigned.merge(frame[["account_id"]]), cfg, data_end(source))
    merged = frame.merge(full[["account_id", "churned"]], on="account_id", suffixes=("", "_full"))
    assert (merged["churned"] == merged["churned_full"]).all()


def test_baseline_risk_of_an_assignment_uses_no_label_closed_after_its_date(world):
    """``base_risk``: the churn model of every account as of the assignment date, the same whatever came later."""
    cfg, assigned, _ = world
    early = uplift.experiment_data(cfg, assigned, date(2024, 3, 1))
    assert uplift.BASE_RISK in early.features and early.frame[uplift.BASE_RISK].notna().mean() > 0.5
    known = early.frame[uplift.BASE_RISK].dropna()
    assert ((known > 0) & (known < 1)).all()
    # leaking would help: on the full data, a year more of outcomes (the later cohorts' and these
    # accounts' own) is there; a baseline fitted on them would differ. It must not.
    full = uplift.experiment_data(cfg, assigned)
    assert len(full.frame) > len(early.frame)
    both = early.frame.merge(full.frame, on=["account_id", "assigned_date"], suffixes=("", "_full"))
    assert len(both) == len(early.frame)
    assert np.allclose(both[uplift.BASE_RISK], both[f"{uplift.BASE_RISK}_full"], equal_nan=True)
    # the churn model of the pipeline ranks churn better than chance on the experiment's accounts
    rows = full.frame.dropna(subset=[uplift.BASE_RISK])
    assert roc_auc_score(rows["churned"], rows[uplift.BASE_RISK]) > 0.5


def test_too_few_accounts_give_a_message_and_no_model(world):
    cfg, assigned, _ = world
    result = uplift.run(cfg, NAME, assigned.head(60), track=False)
    assert result.model is None and not result.validated
    assert "no uplift model" in result.message and "`uplift` stays null" in result.message
    nothing = uplift.run(cfg, NAME, assigned, until=date(2023, 7, 1), track=False)
    assert nothing.model is None and nothing.n_closed == 0


def test_train_uplift_registers_its_own_model_with_a_validated_flag(world):
    cfg, assigned, tmp = world
    result = uplift.run(cfg, NAME, assigned, track=True, min_per_arm=20)
    assert result.model is not None and result.registered and result.registered.startswith("churn-uplift v")
    from mlflow import MlflowClient

    version = MlflowClient().get_model_version("churn-uplift", result.registered.split(" v")[1])
    assert version.tags["validated"] == str(result.validated).lower() and version.tags["learner"] in ("t", "x", "dr", "rr")


def test_cli_without_assignments_says_so(world):
    cfg, _, tmp = world
    config = write_config(cfg, tmp / "pipeline.yaml")
    out = CliRunner().invoke(app, ["train-uplift", "--config", str(config), "--experiment", NAME])
    assert out.exit_code != 0 and "run `churn score` first" in out.output
    store = Warehouse.from_config(cfg)
    with store.backend.transaction() as con:
        _create(store.backend, con, TABLE, EXPERIMENT_COLUMNS)
    out = CliRunner().invoke(app, ["train-uplift", "--config", str(config), "--experiment", NAME])
    assert out.exit_code == 0, out.output
    assert f"no account is assigned to experiment '{NAME}' yet" in out.output
    unknown = CliRunner().invoke(app, ["train-uplift", "--config", str(config), "--experiment", "nope"])
    assert unknown.exit_code != 0 and "no experiment 'nope'" in unknown.output


def test_cli_trains_from_churn_experiments(world):
    cfg, assigned, tmp = world
    store = Warehouse.from_config(cfg)
    rows = assigned.assign(experiment=NAME, probability=0.2, tier="high", mrr=100.0, segment="SMB", run_id="r",
                           assigned_at=datetime(2025, 1, 1))
    with store.backend.transaction() as con:
        store.backend.insert(con, TABLE, rows[[c.name for c in EXPERIMENT_COLUMNS]], EXPERIMENT_COLUMNS)
    config = write_config(cfg, tmp / "pipeline.yaml")
    out = CliRunner().invoke(app, ["train-uplift", "--config", str(config), "--experiment", NAME])
    assert out.exit_code == 0, out.output
    assert f"experiment {NAME}: {len(assigned):,} assigned" in out.output
    assert "Qini" in out.output or "no uplift model" in out.output
