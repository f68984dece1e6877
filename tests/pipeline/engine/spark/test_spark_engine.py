"""Scoring on Spark (mapInPandas over the feature partitions) writes the rows scoring on DuckDB writes.

Uses the session-wide ``spark`` fixture of ``conftest.py``; skipped without
pyspark or Java, except under CI.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from pipeline.steps import score
from pipeline.io.warehouse import Warehouse
from scoring_fixtures import feature_panel, fit_model, scoring_config

pytestmark = pytest.mark.spark
#: An experiment running on the scored date: both engines assign its entrants.
EXPERIMENT = {"name": "spark-check", "start": "2020-01-01", "tiers": ["high", "medium", "low"], "holdout_share": 0.3}
#: A calendar, so the holiday days and the short windows that skip them are computed on Spark too (usage against
#: all accounts always is); and the year-ago comparison (its own frame).
CALENDAR = {"features.calendar.holidays": [{"first": "2024-12-24", "last": "2025-01-01"}],
            "features.calendar.country": "US", "features.calendar.country_years": [2024, 2025],
            "features.usage.year_ago": True}


@pytest.fixture(scope="module")
def runs(small_world, spark, tmp_path_factory):
    """The same small model scores the small world on DuckDB and on Spark, into two warehouse files."""
    tmp = tmp_path_factory.mktemp("spark-score")
    cfg = scoring_config(small_world, tmp, **CALENDAR)
    table, panel, end = feature_panel(cfg)
    model = fit_model(table, panel, rounds=40)
    out = {}
    for engine in ("duckdb", "spark"):
        engine_cfg = scoring_config(small_world, tmp, engine=engine, experiments=[EXPERIMENT], **CALENDAR)
        result = score.run(engine_cfg, model=model, warehouse=str(tmp / f"{engine}.duckdb"))
        out[engine] = (result, Warehouse.from_config(engine_cfg, str(tmp / f"{engine}.duckdb")).scores(end))
    return out


def test_spark_writes_the_duckdb_scores(runs):
    (duck_run, duck), (spark_run, spk) = runs["duckdb"], runs["spark"]
    assert len(duck) > 50 and duck["account_id"].is_unique
    duck, spk = (rows.sort_values("account_id").reset_index(drop=True) for rows in (duck, spk))
    assert spk["account_id"].tolist() == duck["account_id"].tolist()
    np.testing.assert_allclose(spk["churn_probability"], duck["churn_probability"], rtol=0, atol=1e-9)
    assert spk["reason_summary"].tolist() == duck["reason_summary"].tolist()
    assert spk["risk_rank"].tolist() == duck["risk_rank"].tolist()
    assert spk["risk_tier"].tolist() == duck["risk_tier"].tolist()
    for col in ("mrr", "revenue_at_risk", "health_score"):
        np.testing.assert_allclose(spk[col], duck[col], rtol=1e-9, err_msg=col)
    for col in ("account_name", "csm", "segment", "as_of_date"):
        pd.testing.assert_series_equal(spk[col], duck[col], check_dtype=False, obj=col)
    assert (spark_run.run.status, spark_run.run.rows) == ("succeeded", len(spk))
    assert spark_run.run.drift == duck_run.run.drift  # drift checked on the collected features
    assert set(spark_run.run.timings) == {"model", "spark", "curves", "drift", "reasons", "write"}


def test_spark_assigns_the_experiment_exactly_as_duckdb(runs):
    (duck_run, _), (spark_run, _) = runs["duckdb"], runs["spark"]
    duck, spk = ([r.sort_values("account_id").reset_index(drop=True) for r in run_.assigned]
                 for run_ in (duck_run, spark_run))
    assert len(duck) == len(spk) == 1 and len(duck[0]) > 5 and (duck[0]["arm"] == "holdout").any()
    columns = ["experiment", "account_id", "arm", "assigned_date", "tier", "segment"]
    pd.testing.assert_frame_equal(spk[0][columns], duck[0][columns])
    np.testing.assert_allclose(spk[0]["probability"], duck[0]["probability"], rtol=0, atol=1e-9)
