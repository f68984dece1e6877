"""Tests mirroring ``pipeline/engine/snapshot.py``: the one open -> validate -> dates -> build sequence."""

from __future__ import annotations

from datetime import date

import pytest

import tiny_world
from pipeline.config import Config
from pipeline.engine.snapshot import open_snapshot
from models.errors import ChurnError
from pipeline.errors import DataContractError


def config(folder, **snapshots) -> Config:
    return Config.model_validate({"data": str(folder), "snapshots": snapshots})


def test_a_panel_has_every_snapshot_date_up_to_the_training_cutoff(tmp_path):
    tiny_world.write(tmp_path)
    with open_snapshot(config(tmp_path, warmup_days=30), panel=True, until=date(2024, 3, 15), validate=False) as snap:
        assert snap.known_until == date(2024, 3, 15) and snap.known_until < snap.data_end
        assert snap.dates and max(snap.dates) <= snap.known_until
        assert all(d.day == 1 for d in snap.dates)  # monthly snapshots on month starts


def test_one_date_is_the_data_end_unless_given_and_never_after_it(tmp_path):
    tiny_world.write(tmp_path)
    with open_snapshot(config(tmp_path), validate=False) as snap:
        assert snap.dates == [snap.data_end]
    with pytest.raises(ChurnError, match="after the end of the data"):
        with open_snapshot(config(tmp_path), as_of=date(2099, 1, 1), validate=False):
            pass


def test_a_history_shorter_than_the_warm_up_is_a_clear_error(tmp_path):
    tiny_world.write(tmp_path)
    with pytest.raises(ChurnError, match=r"no monthly snapshot date fits .*warmup_days \(3650\)"):
        with open_snapshot(config(tmp_path, warmup_days=3650), panel=True, validate=False):
            pass


def test_validation_runs_before_anything_is_built(tmp_path):
    tiny_world.write(tmp_path, fmt="csv")
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(accounts.read_text() + accounts.read_text().splitlines()[1] + "\n")  # a duplicate id
    with pytest.raises(DataContractError, match="accounts"):
        with open_snapshot(config(tmp_path), panel=True):
            pass
