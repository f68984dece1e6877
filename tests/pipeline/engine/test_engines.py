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


def test_the_calendar_moves_the_ratios_compared_here(small_world, folder_panel):
    """The panels compared above hold the calendar's paths, not only the plain ones: with the calendar,
    ``active_users_trend`` (two periods of non-holiday days) and the young accounts' ``*_vs_baseline`` ratios (over
    the non-holiday days of their tenure) differ from the same panel without it on some rows."""
    plain_cfg = load_config(None, {"features.usage.year_ago": True})
    with open_source(small_world) as source:
        dates = snapshot_dates(source, CFG)[-4:]
        plain = build_features(source, plain_cfg, dates).frame
    assert plain[["account_id", "as_of"]].equals(folder_panel[["account_id", "as_of"]])

    def moved(column, rows=slice(None)):
        a, b = folder_panel.loc[rows, column], plain.loc[rows, column]
        return int((~((a - b).abs() < 1e-12) & ~(a.isna() & b.isna())).sum())

    assert moved("active_users_trend") > 0
    young = folder_panel["tenure_days"] < 90
    assert young.sum() > 0 and moved("events_30d_vs_baseline", young) > 0


def test_an_engine_whose_extra_is_not_installed_says_how_to_install_it(monkeypatch):
    from models.errors import ConfigError
    from pipeline.engine import engines

    monkeypatch.setitem(engines.EXTRAS, "spark", ("churn_no_such_module", "pip install -e '.[spark]'"))
    with pytest.raises(ConfigError, match=r"'spark' needs churn_no_such_module, which is not installed: pip install"):
        engines.get_engine("spark")
    with pytest.raises(ConfigError, match="unknown engine 'flink'; use one of duckdb, spark"):
        engines.get_engine("flink")
    assert engines.get_engine("duckdb").name == "duckdb"
