"""Tests mirroring ``pipeline/io/csv_types.py``: the sampled detection is used only when the whole file agrees."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.io import csv_types

#: More rows than DuckDB's detection sample (20,480), so the last row is outside it.
ROWS = 25_000


def csv_file(tmp_path, first: str, last: str, newline: str = "\n"):
    path = tmp_path / "t.csv"
    lines = ["id,name,v", *(f"x{i},Ann,{first}" for i in range(ROWS)), f"y,Bob,{last}"]
    path.write_text(newline.join(lines) + newline, newline="")
    return path


def whole_file(con: duckdb.DuckDBPyConnection, path) -> str:
    """The call whole-file detection gives (the auto-detecting call when it cannot tell)."""
    try:
        prompt = con.execute(f"SELECT Prompt FROM sniff_csv('{path}', sample_size = -1)").fetchone()[0]
    except duckdb.Error:
        return f"read_csv('{path}', header = true, auto_detect = true, sample_size = -1)"
    return prompt.strip().removeprefix("FROM ").rstrip(";").strip()


@pytest.mark.parametrize("first,last", [
    ("7", "8"), ("7", "-3"), ("1.5", "3"), ("2024-01-02", "2024-03-04"), ("2024-01-02 10:11:12", "2024-03-04 05:06:07"),
    ("", "hello"), ("abc", "5"),
    # the whole file reads the column otherwise: the sample's answer must not be used
    ("7", "7.5"), ("7", "1e3"), ("7", "+8"), ("7", "007"), ("7", "abc"), ("7", "99999999999999999999999"),
    ("", "5"), ("", "2024-01-02"), ("2024-01-02", "2024-01-02 10:11:12"), ("2024-01-02", "2024-02-30"),
    ("true", "2"), ("1.5", "n/a"), ("abc", '"q"'), ("7", "7,8"), ("2024-01-02 10:11:12", "2024-01-02T10:11:12"),
])
def test_the_call_is_the_whole_files(tmp_path, first, last):
    con = duckdb.connect()
    path = csv_file(tmp_path, first, last)
    assert csv_types.sniffed_call(con, path) == whole_file(con, path)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_plain_file_is_proven_from_the_sample(tmp_path, newline):
    con = duckdb.connect()
    path = csv_file(tmp_path, "2024-01-02 10:11:12", "2024-03-04 05:06:07", newline)
    sampled = csv_types._call(con, f"sniff_csv('{path}')")
    assert csv_types._holds(con, sampled)
    assert csv_types.sniffed_call(con, path) == whole_file(con, path)


def test_an_unreadable_file_gets_the_auto_detecting_call(tmp_path):
    path = tmp_path / "missing.csv"
    assert "auto_detect = true" in csv_types.sniffed_call(duckdb.connect(), path)
