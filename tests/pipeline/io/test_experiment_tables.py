"""The experiment tables on real DuckDB and PostgreSQL: written with the scores, idempotent, first entry kept."""

from __future__ import annotations

import itertools
from datetime import datetime

import pandas as pd
import pytest

from models.experiments import arms
from pipeline.config import load_config
from pipeline.io.experiment_tables import (RESULT_COLUMNS, RESULTS_TABLE, assigner, entry_line, holdout_accounts,
                                           read_assignments, read_results, replaced_lines, write_results)
from pipeline.io.warehouse import Warehouse
from warehouse_rows import D1, D2, D3, fake_scores, run_for

ACCOUNTS = [f"A{i:03d}" for i in range(200)]
RUNS = itertools.count()


def experiments(**extra):
    return load_config(None, {"experiments": [{"name": "q1", "start": "2025-01-01", "tiers": ["high"],
                                               "holdout_share": 0.3, **extra}]}).experiments


def score(store, day, seed, exps, accounts=ACCOUNTS, fail=False):
    run_id = f"run-{next(RUNS)}"
    rows, assigned = fake_scores(day, accounts, seed, run_id), []
    also = assigner(exps, day, assigned)
    if fail:
        def also(backend, con, scores, inner=also):  # noqa: E306 - the assignment is written, then the run dies
            inner(backend, con, scores)
            raise RuntimeError("killed")
    store.write(rows, run_for(day, run_id, len(rows)), also=also)
    return rows, assigned


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "duckdb":
        return Warehouse(tmp_path / "wh.duckdb")
    return Warehouse(request.getfixturevalue("pg_database"))


def test_entrants_are_assigned_once_with_their_hash_arm_and_values_at_entry(store):
    exps = experiments()
    first, _ = score(store, D1, 1, exps)
    second, _ = score(store, D2, 2, exps)
    got = read_assignments(store, "q1").set_index("account_id")
    high1 = set(first.loc[first["risk_tier"] == "high", "account_id"])
    high2 = set(second.loc[second["risk_tier"] == "high", "account_id"])
    assert set(got.index) == high1 | high2
    assert (got.loc[sorted(high1), "assigned_date"] == D1).all()
    assert (got.loc[sorted(high2 - high1), "assigned_date"] == D2).all()
    assert (got["arm"] == arms("q1", got.index, 0.3)).all()
    at_entry = first.set_index("account_id").loc[sorted(high1)]
    assert got.loc[sorted(high1), "probability"].tolist() == pytest.approx(at_entry["churn_probability"].tolist())
    assert (got.loc[sorted(high1), "tier"] == "high").all()


def test_rescoring_a_date_is_idempotent_and_an_earlier_date_moves_the_entry(store):
    exps = experiments()
    score(store, D2, 2, exps)
    before = read_assignments(store, "q1")
    score(store, D2, 2, exps)
    again = read_assignments(store, "q1")
    pd.testing.assert_frame_equal(before.drop(columns=["assigned_at", "run_id"]), again.drop(columns=["assigned_at", "run_id"]))
    first, _ = score(store, D1, 1, exps)  # a backfill of an earlier night
    after = read_assignments(store, "q1").set_index("account_id")
    high1 = sorted(first.loc[first["risk_tier"] == "high", "account_id"])
    assert (after.loc[high1, "assigned_date"] == D1).all()
    assert after.index.is_unique and (after["arm"] == arms("q1", after.index, 0.3)).all()


def test_a_failed_run_writes_no_assignment_and_inactive_experiments_none(store):
    with pytest.raises(RuntimeError, match="killed"):
        score(store, D1, 1, experiments(), fail=True)
    assert read_assignments(store, "q1").empty
    score(store, D1, 1, experiments(start="2025-02-01"))
    assert read_assignments(store, "q1").empty


def test_holdout_accounts_are_those_of_running_experiments_assigned_by_the_day(store):
    exps = experiments(end="2025-02-15")
    score(store, D1, 1, exps)
    held = holdout_accounts(store, exps, D2)
    got = read_assignments(store, "q1")
    assert set(held["account_id"]) == set(got.loc[got["arm"] == "holdout", "account_id"])
    assert not held["show"].any()
    assert holdout_accounts(store, exps, D3).empty  # the experiment ended: everyone is back on the lists
    assert holdout_accounts(store, experiments(show_holdout=True), D2)["show"].all()


def test_results_replace_the_rows_of_their_date(store):
    row = {c.name: None for c in RESULT_COLUMNS} | {c.name: 0 for c in RESULT_COLUMNS if c.required}
    row.update(experiment="q1", as_of_date=D2, scope="all", verdict="not enough evidence yet", computed_at=datetime(2025, 2, 1))
    write_results(store, pd.DataFrame([row]))
    write_results(store, pd.DataFrame([{**row, "n_outreach": 7}, {**row, "scope": "tier:high"}]))
    got = read_results(store, "q1")
    assert sorted(got["scope"]) == ["all", "tier:high"] and got.loc[got["scope"] == "all", "n_outreach"].item() == 7


def result_row(**values):
    row = {c.name: 0 for c in RESULT_COLUMNS}
    row.update(experiment="q1", as_of_date=D2, scope="all", verdict="not enough evidence yet",
               computed_at=datetime(2025, 2, 1, 6, 30), data_source="data/a.duckdb", model_version="churn-model v1")
    return {**row, **values}


def test_results_record_their_data_and_model_and_say_which_rows_they_replace(store):
    assert write_results(store, pd.DataFrame([result_row(), result_row(scope="tier:high")])).empty
    again = write_results(store, pd.DataFrame([result_row(n_outreach=7, computed_at=datetime(2025, 2, 2))]))
    assert sorted(again["scope"]) == ["all", "tier:high"] and set(again["data_source"]) == {"data/a.duckdb"}
    assert replaced_lines(again, "data/a.duckdb", "churn-model v1") == [
        "replaced the stored results of q1 on 2025-02-01 (2 rows computed at 2025-02-01 06:30 UTC from "
        "data/a.duckdb, model churn-model v1)"]
    other = write_results(store, pd.DataFrame([result_row(data_source="postgresql://wh/prod",
                                                           model_version="churn-model v2")]))
    line, = replaced_lines(other, "postgresql://wh/prod", "churn-model v2")
    assert line.endswith("from data/a.duckdb, model churn-model v1): they came from a different data source and model")
    got = read_results(store, "q1")
    assert got[["scope", "data_source", "model_version"]].values.tolist() == [
        ["all", "postgresql://wh/prod", "churn-model v2"]]


def test_a_results_table_of_an_earlier_version_gets_the_new_columns_in_place(store):
    old = [c for c in RESULT_COLUMNS if c.name not in {"p_holm", "mrr_retained_low", "mrr_retained_high",
                                                        "data_source", "model_version"}]
    with store.backend.transaction() as con:
        store.backend.execute(con, store.backend.ddl(RESULTS_TABLE, old, "experiment, as_of_date, scope"))
        store.backend.insert(con, RESULTS_TABLE, pd.DataFrame([result_row(as_of_date=D1)])[[c.name for c in old]], old)
    replaced = write_results(store, pd.DataFrame([result_row(as_of_date=D1, p_holm=0.2)]))
    assert replaced_lines(replaced, "data/a.duckdb", "churn-model v1")[0].endswith(
        "from an unrecorded data source, model unrecorded): they came from a different data source and model")
    got = read_results(store, "q1").iloc[0]
    assert got["p_holm"] == 0.2 and got["data_source"] == "data/a.duckdb"


def test_a_rescore_says_which_accounts_entered_and_which_were_already_assigned(store):
    exps = experiments()
    _, first = score(store, D1, 1, exps)
    entered = len(first[0])
    assert entered and entry_line(first[0]) == (
        f"experiment q1: {entered} accounts entered ({(first[0]['arm'] == 'outreach').sum()} outreach, "
        f"{(first[0]['arm'] == 'holdout').sum()} holdout); 0 already assigned")
    _, again = score(store, D1, 1, exps)  # the same night re-scored: nobody enters again
    assert entry_line(again[0]) == f"experiment q1: 0 accounts entered (0 outreach, 0 holdout); {entered} already assigned"
    second, later = score(store, D2, 2, exps)  # the next night: the new ones enter, the others were in already
    high = set(second.loc[second["risk_tier"] == "high", "account_id"])
    before = set(first[0]["account_id"])
    assert entry_line(later[0]) == (
        f"experiment q1: {len(high - before)} accounts entered ({(later[0]['arm'] == 'outreach').sum()} outreach, "
        f"{(later[0]['arm'] == 'holdout').sum()} holdout); {len(high & before)} already assigned")
