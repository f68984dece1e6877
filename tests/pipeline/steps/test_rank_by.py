"""Whom to call: ``uplift`` and ``expected_saved_mrr`` in churn_scores, and ``risk-list --rank-by``."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import numpy as np
import pytest

from models.errors import ChurnError
from pipeline.io.score_tables import KEYS, SCORE_COLUMNS
from pipeline.io.warehouse import Run, Warehouse
from pipeline.steps.risk_list import RANK_BY, load
from pipeline.steps.score_table import expected_saved
from tests.pipeline.steps.test_risk_list import rows_for

DAY = date(2025, 1, 1)


def _with_uplift(uplift):
    rows = rows_for(DAY, 0)
    if uplift is not None:
        rows["uplift"] = uplift
        rows["expected_saved_mrr"] = expected_saved(rows["churn_probability"].to_numpy(), rows["mrr"].to_numpy(),
                                                    np.asarray(uplift))
    return rows


def test_expected_saved_mrr_is_probability_times_mrr_until_an_uplift_exists():
    p, mrr = np.array([0.5, 0.1]), np.array([100.0, 1000.0])
    assert np.allclose(expected_saved(p, mrr, None), [50.0, 100.0])
    assert np.allclose(expected_saved(p, mrr, np.array([0.0, 0.05])), [0.0, 50.0])


def test_with_an_uplift_the_list_ranks_by_saved_mrr_and_says_so(tmp_path):
    wh = Warehouse(tmp_path / "wh.duckdb")
    uplift = np.linspace(0.0, 0.3, 30)  # the least at risk are the most savable here
    wh.write(_with_uplift(uplift), Run("r0", DAY, datetime(2025, 1, 1), status="succeeded", rows=30))
    rl = load(wh, DAY, top=3)
    assert list(rl.rows["account_id"]) == ["A029", "A028", "A027"] and "ranked by MRR a call" in rl.subtitle
    by_p = load(wh, DAY, top=3, rank_by="probability")
    assert list(by_p.rows["account_id"]) == ["A000", "A001", "A002"] and "ranked by churn probability" in by_p.subtitle
    assert load(wh, DAY, top=1, rank_by="revenue").rows["account_id"].iloc[0] == "A000"
    with pytest.raises(ChurnError, match="--rank-by must be one of saved, probability, revenue"):
        load(wh, DAY, rank_by="luck")


def test_without_an_uplift_the_list_ranks_by_probability_and_uplift_is_null(tmp_path):
    wh = Warehouse(tmp_path / "wh.duckdb")
    wh.write(_with_uplift(None), Run("r0", DAY, datetime(2025, 1, 1), status="succeeded", rows=30))
    rl = load(wh, DAY, top=2)
    assert list(rl.rows["account_id"]) == ["A000", "A001"] and "ranked by churn probability" in rl.subtitle
    assert rl.rows["uplift"].isna().all()
    assert set(RANK_BY) == {"saved", "probability", "revenue", "urgency"}


def _old_table(backend, con):
    """churn_scores as a version before issue 22 made it: no uplift, no expected_saved_mrr."""
    old = [c for c in SCORE_COLUMNS if c.name not in ("uplift", "expected_saved_mrr")]
    backend.execute(con, backend.ddl("churn_scores", old, KEYS["scores"]))


def _upgrade(url):
    wh = Warehouse(url)
    with wh.backend.transaction() as con:
        _old_table(wh.backend, con)
    wh.write(_with_uplift(np.full(30, 0.1)), Run("r0", DAY, datetime(2025, 1, 1), status="succeeded", rows=30))
    rows = load(wh, DAY)
    assert rows.rows["uplift"].notna().all() and "ranked by MRR a call" in rows.subtitle


def test_an_older_duckdb_table_gets_the_new_columns(tmp_path):
    _upgrade(tmp_path / "old.duckdb")
    names = [r[0] for r in duckdb.connect(str(tmp_path / "old.duckdb")).execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'churn_scores'").fetchall()]
    assert {"uplift", "expected_saved_mrr"} <= set(names)


def test_an_older_postgres_table_gets_the_new_columns(pg_database):
    _upgrade(pg_database)
