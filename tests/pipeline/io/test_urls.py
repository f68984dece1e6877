"""Addresses: PostgreSQL spellings, DuckDB paths and ``duckdb://`` URLs, masking."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.io.sources import open_source
from pipeline.io.urls import duckdb_path, is_postgres, mask_url, postgres_url
from pipeline.io.warehouse import Warehouse


@pytest.mark.parametrize("url, scheme, expected", [
    ("postgresql+psycopg://bob@db/prod", "postgresql", "postgresql://bob@db/prod"),
    ("postgres://bob@db/prod", "postgresql", "postgresql://bob@db/prod"),
    ("postgresql://bob:pw@db:5432/prod", "postgres", "postgres://bob:pw@db:5432/prod"),
])
def test_postgres_urls_are_rewritten_in_one_place(url, scheme, expected):
    assert is_postgres(url) and postgres_url(url, scheme) == expected


def test_a_non_postgres_url_is_refused_without_its_password():
    with pytest.raises(ValueError) as err:
        postgres_url("mysql://bob:secret@db/prod")
    assert "secret" not in str(err.value) and mask_url("mysql://bob:secret@db/prod") in str(err.value)


@pytest.mark.parametrize("spec, path", [
    ("duckdb:////abs/wh.duckdb", "/abs/wh.duckdb"),
    ("duckdb:///rel/wh.duckdb", "rel/wh.duckdb"),
    ("data/wh.duckdb", "data/wh.duckdb"),
])
def test_duckdb_urls_name_the_file(spec, path):
    assert duckdb_path(spec) == path


def test_duckdb_url_loads_opens_and_warehouses_the_file_without_a_duckdb_folder(small_world, tmp_path, monkeypatch):
    """``--to``/``--data``/``--warehouse duckdb:///...`` used to create a folder named ``duckdb:`` in the cwd."""
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "wh.duckdb"
    done = CliRunner().invoke(app, ["load", "--data", str(small_world), "--to", f"duckdb:///{target}"])
    assert done.exit_code == 0, done.output
    assert target.is_file() and not (tmp_path / "duckdb:").exists()
    with open_source(f"duckdb:///{target}") as source:
        assert source.kind == "duckdb" and "accounts" in source.names
    store = Warehouse(f"duckdb:///{tmp_path / 'scores.duckdb'}")
    assert store.backend.url == str(tmp_path / "scores.duckdb")
    assert not any(name.startswith("duckdb") for name in os.listdir(tmp_path))
