"""``churn_experiment_subgroups`` written with the results on DuckDB and PostgreSQL; first reasons read back."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from models.experiments import by_tier
from models.subgroups import subgroup_effects
from pipeline.io.experiment_tables import read_results, result_rows, write_results
from pipeline.io.subgroup_table import first_reasons, read_subgroups, subgroup_rows
from pipeline.io.warehouse import Run, Warehouse
from tests.pipeline.steps.test_risk_list import rows_for

DAY, NOW = date(2025, 4, 1), datetime(2025, 4, 1, 6)


def outcomes() -> pd.DataFrame:
    n = 400
    return pd.DataFrame({"arm": ["holdout" if i % 4 == 0 else "outreach" for i in range(n)],
                         "churned": [int(i % 5 == 0 or (i % 4 == 0 and i % 3 == 0)) for i in range(n)],
                         "tier": ["high" if i % 2 else "medium" for i in range(n)], "mrr": 100.0,
                         "segment": [["SMB", "Mid", "Ent"][i % 3] for i in range(n)]})


@pytest.fixture(params=["duckdb", "postgresql"])
def store(request, tmp_path):
    url = tmp_path / "wh.duckdb" if request.param == "duckdb" else request.getfixturevalue("pg_database")
    return Warehouse(url)


def test_subgroup_rows_are_written_replaced_and_read_back(store):
    rows = outcomes()
    found = subgroup_effects(rows, ["segment", "tier"], correction="bh")
    results = result_rows("x", DAY, by_tier(rows, resamples=999), NOW)
    write_results(store, results, subgroup_rows("x", DAY, found, "bh", NOW))
    got = read_subgroups(store, "x")
    assert len(got) == len(found) == 5 and set(got["correction"]) == {"bh"}
    assert sorted(got["subgroup"]) == sorted(s.level for s in found)
    smb = got[got["subgroup"] == "SMB"].iloc[0]
    expected = next(s for s in found if s.level == "SMB")
    assert smb["p_adjusted"] == pytest.approx(expected.p_adjusted) and smb["n_holdout"] == expected.n_holdout
    write_results(store, results, subgroup_rows("x", DAY, found[:2], "bh", NOW))  # a re-run replaces the date's rows
    assert len(read_subgroups(store, "x")) == 2 and len(read_results(store, "x")) == len(results)


def test_first_reasons_come_from_the_scores_of_the_assignment_date(store):
    store.write(rows_for(DAY, 0), Run("r0", DAY, NOW, status="succeeded", rows=30))
    rows = pd.DataFrame({"account_id": ["A001", "A002", "A999"], "assigned_date": [DAY, DAY, DAY]})
    assert first_reasons(store, rows).tolist() == ["urgent_tickets", "urgent_tickets", None]
    other = pd.DataFrame({"account_id": ["A001"], "assigned_date": [date(2025, 5, 1)]})
    assert first_reasons(store, other).tolist() == [None]
