"""A model that does not fit the data or the config is refused with a message naming what differs.

Features are built with the model's own vocabulary (event types, milestones), so only the config
(windows, attributes) and the tables present decide the columns: any difference between those and
the model's feature list is an error naming the missing and the extra features. Unseen levels of a
categorical feature are not an error: they score as missing, as documented in ``models/classifier.py``.
A model trained under another ``config_version`` is refused.
"""

from __future__ import annotations

import copy
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from pipeline.steps import score
from pipeline.engine.catalog import Vocabulary
from pipeline.config import CONFIG_VERSION, load_config
from models.errors import ConfigError, ModelError
from pipeline.engine.featurize import build_features
from pipeline.io.sources import open_source
from pipeline.io.warehouse import Warehouse
from scoring_fixtures import NAME, churn, feature_panel, fit_model, register, scoring_config, write_config


@pytest.fixture(scope="module")
def base(small_world, tmp_path_factory):
    """The default config, its feature table and a model trained on it (the registry's champion)."""
    tmp = tmp_path_factory.mktemp("mismatch")
    cfg = scoring_config(small_world, tmp)
    table, panel, end = feature_panel(cfg)
    model = fit_model(table, panel)
    register(cfg, model, panel)
    return cfg, table, model, tmp


def trained_with(cfg, tmp, **overrides):
    """A model trained on ``cfg.data`` under ``cfg`` changed by dotted ``overrides``; and that build's table."""
    table, panel, _ = feature_panel(scoring_config(cfg.data, tmp, **overrides))
    return fit_model(table, panel), table


def assert_refused(cfg, model, warehouse, missing=(), extra=(), changed=()) -> str:
    """Scoring raises a ModelError naming every given feature; the run is recorded as failed, no rows written."""
    with pytest.raises(ModelError) as info:
        score.run(cfg, model=model, warehouse=str(warehouse))
    message = str(info.value)
    for names, label in ((missing, "lacks"), (extra, "does not know"), (changed, "changed kind")):
        if names:
            assert label in message
            part = message[message.index(label):]
            assert all(name in part for name in names), (names, message)
        else:
            assert label not in message
    store = Warehouse(warehouse)
    run = store.runs().iloc[0]
    assert (run["status"], run["row_count"]) == ("failed", 0) and run["error"] == f"ModelError: {message}"
    with store.backend.reading() as con:
        assert store.backend.fetch(con, "SELECT COUNT(*) AS n FROM churn_scores", [])["n"].iloc[0] == 0
    return message


def test_model_trained_with_other_windows_is_refused_by_the_cli(base, tmp_path):
    cfg, table, _, _ = base
    model, other = trained_with(cfg, tmp_path, **{"features.usage.windows": [14, 60]})
    version = register(cfg, model, other.frame, alias=None)
    missing = [f for f in other.feature_names if f not in table.feature_names]
    extra = [f for f in table.feature_names if f not in other.feature_names]
    assert "events_14d" in missing and "events_7d" in extra

    warehouse = tmp_path / "wh.duckdb"
    result = churn("score", "--config", write_config(cfg, tmp_path / "pipeline.yaml"), "--warehouse", warehouse,
                   "--model", f"models:/{NAME}/{version}")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert f"model models:/{NAME}/{version} does not fit the features" in error
    lacks, knows = error.index("lacks"), error.index("does not know")
    assert all(name in error[lacks:knows] for name in missing) and all(name in error[knows:] for name in extra)
    assert "retrain" in error
    run = Warehouse(warehouse).runs().iloc[0]
    assert (run["status"], run["model_version"]) == ("failed", version) and "events_14d" in run["error"]


def without_tickets(world, dest):
    """A copy of ``world`` without the optional support_tickets table."""
    shutil.copytree(world, dest, ignore=shutil.ignore_patterns("_truth", "support_tickets*"))
    return dest


def test_model_and_data_that_disagree_on_the_tickets_table_are_refused_both_ways(base, small_world, tmp_path):
    cfg, table, model, _ = base
    tickets = [f.name for f in table.features if f.family == "tickets"]
    assert len(tickets) >= 5
    no_tickets = scoring_config(without_tickets(small_world, tmp_path / "world"), tmp_path)

    # the data lost the table: the model's ticket features are missing
    assert_refused(no_tickets, model, tmp_path / "lost.duckdb", missing=tickets)

    # a model trained without it meets data that has it: the ticket features are extra
    table_nt, panel_nt, _ = feature_panel(no_tickets)
    assert not set(tickets) & set(table_nt.feature_names)
    assert_refused(cfg, fit_model(table_nt, panel_nt), tmp_path / "gained.duckdb", extra=tickets)


def test_a_feature_whose_kind_changed_is_refused(base, tmp_path):
    cfg, table, _, _ = base
    model, _ = trained_with(cfg, tmp_path, **{"features.attributes.categorical": ["industry", "region", "billing_term",
                                                                         "seats_purchased"],
                                    "features.attributes.numeric": []})
    assert "attr_seats_purchased" in model.categorical_ and "attr_seats_purchased" not in table.categorical
    message = assert_refused(cfg, model, tmp_path / "wh.duckdb", changed=["attr_seats_purchased"])
    assert "attr_seats_purchased (categorical in the model)" in message


def test_unseen_categorical_levels_score_as_missing(base, small_world, tmp_path):
    """Documented: unseen levels become missing (LightGBM's missing-value branch), with a drift record."""
    cfg, _, model, _ = base
    world = tmp_path / "world"
    shutil.copytree(small_world, world, ignore=shutil.ignore_patterns("_truth"))
    accounts = pd.read_csv(world / "accounts.csv")
    changed = accounts["account_id"].iloc[::3].tolist()
    accounts.loc[accounts["account_id"].isin(changed), "segment"] = "Galactic"
    accounts.to_csv(world / "accounts.csv", index=False)
    assert "Galactic" not in model.categories_["segment"]

    new_cfg = scoring_config(world, tmp_path)
    result = score.run(new_cfg, model=model, warehouse=str(tmp_path / "wh.duckdb"))
    rows = result.scores.set_index("account_id")
    scored = [a for a in changed if a in rows.index]
    assert scored and (rows.loc[scored, "segment"] == "Galactic").all()

    with open_source(world) as source:
        frame = build_features(source, new_cfg, [result.run.as_of], vocab=Vocabulary.from_dict(model.vocabulary_),
                               with_labels=False).frame.set_index("account_id")
    assert (frame.loc[scored, "segment"] == "Galactic").all()
    as_missing = frame.copy()
    as_missing.loc[scored, "segment"] = pd.NA
    expected = pd.Series(model.predict_risk(as_missing.reset_index()), index=as_missing.index)
    np.testing.assert_allclose(rows.loc[scored, "churn_probability"], expected.loc[scored], rtol=0, atol=1e-12)
    assert result.run.status == "succeeded" and result.run.drift["segment"] > 0
    assert json.loads(Warehouse(tmp_path / "wh.duckdb").runs().iloc[0]["drift"])["segment"] > 0


def test_model_from_another_config_version_is_refused_by_the_cli(base, tmp_path):
    cfg, table, model, _ = base
    old = copy.deepcopy(model)
    old.config_version_ = CONFIG_VERSION + 1
    version = register(cfg, old, table.frame, alias=None)
    warehouse = tmp_path / "wh.duckdb"
    result = churn("score", "--config", write_config(cfg, tmp_path / "pipeline.yaml"), "--warehouse", warehouse,
                   "--model", f"models:/{NAME}/{version}")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert (f"error: model models:/{NAME}/{version} was trained under config_version {CONFIG_VERSION + 1}, "
            f"this pipeline is version {CONFIG_VERSION}: retrain it") in result.stderr
    run = Warehouse(warehouse).runs().iloc[0]
    assert (run["status"], run["row_count"]) == ("failed", 0) and "config_version" in run["error"]


def test_a_config_file_of_another_version_does_not_score_todays_models(base, tmp_path):
    cfg, _, _, _ = base
    other = cfg.model_copy(update={"config_version": CONFIG_VERSION + 1})  # a config object built around the check
    with pytest.raises(ModelError, match=rf"config_version {CONFIG_VERSION}, this pipeline is version "
                                         rf"{CONFIG_VERSION} \(the config file says {CONFIG_VERSION + 1}\)"):
        score.run(other, model_uri=f"models:/{NAME}@champion", warehouse=str(tmp_path / "wh.duckdb"))


def test_a_config_file_of_another_version_is_refused_before_training(tmp_path):
    """It used to train and register a model (possibly the champion) that the scorer then refused every night."""
    path = tmp_path / "pipeline.yaml"
    path.write_text(f"config_version: {CONFIG_VERSION + 1}\n")
    with pytest.raises(ConfigError, match=rf"'config_version'.*reads config_version {CONFIG_VERSION} only"):
        load_config(path)
