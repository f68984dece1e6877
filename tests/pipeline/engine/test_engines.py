"""The same feature table, to the last digit, from a folder, a DuckDB file and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.engine.featurize import build_features
from pipeline.engine.labels import snapshot_dates
from pipeline.io.load import load_tables
from pipeline.io.sources import open_source

#: With a calendar, so the holiday days (a sum over literal dates) and the short windows that skip them are
#: compared on every engine too; and with the year-ago comparison (its own frame).
CFG = load_config(None, {"features.calendar.holidays": [{"first": "2024-12-24", "last": "2025-01-01"}],
                         "features.calendar.country": "US", "features.calendar.country_years": [2024, 2025],
                         "features.usage.year_ago": True})


def panel(spec):
    with open_source(spec) as source:
        dates = snapshot_dates(source, CFG)[-4:]
        return build_features(source, CFG, dates).frame


@pytest.fixture(scope="module")
def folder_panel(small_world):
    return panel(small_world)


def test_duckdb_file_gives_the_folder_features(small_world, folder_panel, tmp_path):
    target = tmp_path / "warehouse.duckdb"
    with open_source(small_world) as source:
        load_tables(source, str(target))
    pd.testing.assert_frame_equal(panel(target), folder_panel)


@pytest.mark.postgres
def test_postgres_gives_the_folder_features(small_world, folder_panel, pg_database):
    with open_source(small_world) as source:
        load_tables(source, pg_database)
    from_pg = panel(pg_database)
    pd.testing.assert_frame_equal(from_pg, folder_panel, check_exact=False, rtol=1e-9)
    assert len(from_pg) > 100
