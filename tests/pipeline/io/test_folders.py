"""Tests mirroring ``pipeline/io/folders.py``: a folder's readers, and a folder opened early taken by the source."""

from __future__ import annotations

import time

import duckdb
import pandas as pd
import pytest

import tiny_world
from pipeline.contract.tables import TABLES
from pipeline.io import folders
from pipeline.io.folders import folder_reader, folder_readers, start_opening
from pipeline.io.sources import open_source


@pytest.fixture(autouse=True)
def no_opening_left():
    """Every test starts and ends with no folder opening early (the slot is the process's)."""
    folders.drop_opening()
    yield
    folders.drop_opening()


def test_csv_files_detected_side_by_side_read_as_one_by_one(tmp_path):
    folder = tiny_world.write(tmp_path / "w", fmt="csv")
    (folder / "milestones.csv").unlink()  # an absent optional table has no reader
    con = duckdb.connect()
    one_by_one = {t: folder_reader(con, folder, t) for t in TABLES if folder_reader(con, folder, t) is not None}
    assert "milestones" not in one_by_one and "read_csv(" in one_by_one["accounts"]
    assert folder_readers(con, folder) == one_by_one


def closed(con, seconds: float = 10.0) -> bool:
    """Whether DuckDB connection ``con`` is closed, or gets closed within ``seconds`` (by the opening's thread,
    which closes it after handing its result)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            con.execute("SELECT 1")
        except duckdb.ConnectionException:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def accounts(source) -> list:
    return sorted(source.table("accounts").execute()["account_id"])


def test_the_source_takes_the_connection_opened_early(tmp_path):
    folder = tiny_world.write(tmp_path / "w", fmt="csv")
    start_opening(folder, 1)
    early = folders._early.future.result()[0]
    with open_source(folder, csv_in_memory_mb=1) as source:
        assert source.backend.con is early and folders._early is None
        assert accounts(source) == sorted(tiny_world.frames()["accounts"]["account_id"])
        kinds = dict(source.backend.raw_sql("SELECT table_name, table_type FROM information_schema.tables").fetchall())
        assert kinds["accounts"] == "LOCAL TEMPORARY"  # the CSV files read into memory, as when opened at once
        assert source.backend.raw_sql("SELECT current_setting('TimeZone')").fetchone()[0] == "UTC"


def test_a_folder_changed_since_is_opened_anew(tmp_path):
    folder = tiny_world.write(tmp_path / "w", fmt="csv")
    start_opening(folder, 1)
    early = folders._early.future
    frame = pd.read_csv(folder / "accounts.csv")
    frame.loc[len(frame)] = frame.iloc[0].to_dict() | {"account_id": "added-later"}
    frame.to_csv(folder / "accounts.csv", index=False)
    with open_source(folder, csv_in_memory_mb=1) as source:
        assert source.backend.con is not early.result()[0]
        assert "added-later" in accounts(source)
    assert closed(early.result()[0])  # the early connection, nobody's


@pytest.mark.parametrize("other", ["another folder", "another limit"])
def test_an_opening_of_something_else_is_not_taken(tmp_path, other):
    folder = tiny_world.write(tmp_path / "w", fmt="csv")
    start_opening(tiny_world.write(tmp_path / "v", fmt="csv") if other == "another folder" else folder, 1)
    early = folders._early.future
    with open_source(folder, csv_in_memory_mb=0) as source:
        assert source.backend.con is not early.result()[0] and folders._early is None
        kinds = dict(source.backend.raw_sql("SELECT table_name, table_type FROM information_schema.tables").fetchall())
        assert kinds["accounts"] == "VIEW"  # as asked: no CSV file read into memory


def test_only_folders_are_opened_early(tmp_path):
    start_opening(tmp_path / "absent", 1)
    start_opening("postgresql://127.0.0.1:5432/test", 1)
    assert folders._early is None


def test_a_new_opening_drops_the_one_nobody_took(tmp_path):
    folder = tiny_world.write(tmp_path / "w", fmt="csv")
    start_opening(folder, 1)
    first = folders._early.future
    start_opening(folder, 1)
    assert folders._early.future is not first
    assert closed(first.result()[0])
