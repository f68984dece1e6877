"""Tests mirroring ``pipeline/config.py``: defaults, the file, dotted overrides and errors that name the key.

The CLI path of bad files (unknown keys, out-of-range values, bad YAML) is in
``contract/test_bad_inputs.py``; an unsupported config_version in ``steps/test_mismatch.py``.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.config import DEFAULT_CONFIG, Config, load_config
from models.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def write(folder: Path, text: str, name: str = "pipeline.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_built_in_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/pipeline.yaml here
    assert load_config() == Config()
    assert load_config(write(tmp_path, "")) == Config()  # an empty file is all defaults


def test_the_default_file_is_read_when_present(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "labels:\n  horizon_days: 60\n", str(DEFAULT_CONFIG))
    assert load_config().labels.horizon_days == 60


def test_the_repositorys_config_file_is_valid():
    assert load_config(REPO / DEFAULT_CONFIG).config_version == Config().config_version


def test_dotted_overrides_beat_the_file_and_none_leaves_it_alone(tmp_path):
    path = write(tmp_path, "labels:\n  horizon_days: 60\n  grace_days: 10\n")
    cfg = load_config(path, {"labels.horizon_days": 30, "labels.grace_days": None,
                             "features.usage.windows": [14, 28], "scoring.tiers.high": 0.5})
    assert (cfg.labels.horizon_days, cfg.labels.grace_days) == (30, 10)
    assert cfg.features.usage.windows == [14, 28] and cfg.features.tickets == Config().features.tickets
    # a threshold without a rule is read as before the rules existed: a probability
    assert (cfg.scoring.tiers.rule, cfg.scoring.tiers.high, cfg.scoring.tiers.medium) == ("probability", 0.5, 0.1)


@pytest.mark.parametrize("key, value, repeated", [
    ("features.usage.windows", [7, 7], "7"),
    ("features.tickets.windows", [30, 90, 30, 90], "30, 90"),
    ("training.trees", [50, 100, 50], "50"),
    ("features.attributes.numeric", ["seats", "seats"], "seats"),
])
def test_a_repeated_value_names_the_key_and_the_value(key, value, repeated):
    with pytest.raises(ConfigError, match=rf"bad value for '{key}'.*repeated: {repeated}\b"):
        load_config(None, {key: value})


def test_an_attribute_of_two_kinds_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"'features\.attributes'.*not both: seats"):
        load_config(None, {"features.attributes.categorical": ["seats"], "features.attributes.numeric": ["seats"]})


@pytest.mark.parametrize("key, value", [
    ("labels.horizon_days", "soon"), ("snapshots.frequency", "daily"), ("engine", "pandas"),
    ("training.calibration", "platt"), ("snapshots.first", "next monday"), ("duckdb_memory_limit", "3 parsecs"),
    ("duckdb_memory_limit", "80%"),
])
def test_a_bad_value_names_the_key_and_what_was_given(key, value):
    with pytest.raises(ConfigError, match=rf"bad value for '{key}'.*\(got {value!r}\)"):
        load_config(None, {key: value})


def test_every_problem_is_named_together_with_the_file(tmp_path):
    path = write(tmp_path, "labels:\n  horizont: 3\ntraining:\n  folds: 0\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    assert "unknown key 'labels.horizont'" in message and "bad value for 'training.folds'" in message


def test_an_explicit_path_that_is_missing_or_a_folder_is_an_error(tmp_path):
    for path in (tmp_path / "nope.yaml", tmp_path):
        with pytest.raises(ConfigError, match="does not exist"):
            load_config(path)


def test_a_loaded_config_is_frozen():
    cfg = load_config(None, {"labels.horizon_days": 30})
    with pytest.raises(ValidationError):
        cfg.labels.horizon_days = 1


def test_an_override_fills_an_empty_section_and_refuses_a_value_where_a_section_belongs(tmp_path):
    cfg = load_config(write(tmp_path, "training:\n"), {"training.seed": 7})
    assert cfg.training.seed == 7
    with pytest.raises(ConfigError, match=r"labels: expected a section of settings, got 5"):
        load_config(write(tmp_path, "labels: 5\n"), {"labels.horizon_days": 30})


def test_errors_without_a_file_do_not_name_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^built-in defaults and overrides: .*horizon_days"):
        load_config(None, {"labels.horizon_days": -3})


# ------------------------------------------------------------------ experiments
def test_experiments_are_validated_and_bad_keys_named():
    from models.errors import ConfigError

    good = {"name": "q1", "start": "2025-01-01", "tiers": ["high", "medium"], "holdout_share": 0.1}
    (e,) = load_config(None, {"experiments": [good]}).experiments
    assert (e.name, e.holdout_share, e.show_holdout, e.end) == ("q1", 0.1, False, None)
    assert e.active_on(date(2025, 1, 1)) and not e.active_on(date(2024, 12, 31))
    bad = [({"holdout": 0.1}, "unknown key 'experiments.0.holdout'"),
           ({"holdout_share": 1.5}, "bad value for 'experiments.0.holdout_share'"),
           ({"tiers": ["urgent"]}, "experiments.0.tiers.0"),
           ({"tiers": None}, "give its population as tiers and/or a threshold"),
           ({"end": "2024-06-01"}, "end (2024-06-01) is before start"),
           ({"name": "has space"}, "experiments.0.name")]
    for change, message in bad:
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_config(None, {"experiments": [{**good, **change}]})
    with pytest.raises(ConfigError, match="repeated: q1"):
        load_config(None, {"experiments": [good, good]})


def test_tracking_uri_precedence_flag_then_environment_then_file(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    path = write(tmp_path, "tracking:\n  uri: sqlite:///file.db\n")
    from_file = load_config(path).tracking
    assert (from_file.uri, from_file.origin) == ("sqlite:///file.db", f"tracking.uri in {path}")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///env.db")
    from_env = load_config(path).tracking
    assert (from_env.uri, from_env.origin) == ("sqlite:///env.db", "MLFLOW_TRACKING_URI")
    from_flag = load_config(path, {"tracking.uri": "sqlite:///flag.db"}).tracking
    assert (from_flag.uri, from_flag.origin) == ("sqlite:///flag.db", "--tracking-uri")
    unset_flag = load_config(path, {"tracking.uri": None}).tracking
    assert unset_flag.uri == "sqlite:///env.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")  # set but empty: as if unset
    assert load_config(path).tracking.uri == "sqlite:///file.db"
    monkeypatch.chdir(tmp_path)  # no configs/pipeline.yaml here
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert load_config().tracking.origin == "the default tracking.uri"
