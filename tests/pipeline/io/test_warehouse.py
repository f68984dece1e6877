"""The score tables on real DuckDB and real PostgreSQL: types, idempotence, atomicity, locking."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from features.base import Definition, Feature
from models.errors import ChurnError
from pipeline.io.score_tables import CURVE_DAYS, RUN_COLUMNS, SCORE_COLUMNS
from pipeline.io.warehouse import Run, Warehouse
from warehouse_rows import ACCOUNTS, D1, D2, D3, fake_scores, run_for, write

ROOT = Path(__file__).resolve().parents[3]
DUCK_TYPES = {"text": "VARCHAR", "date": "DATE", "double": "DOUBLE", "integer": "INTEGER", "json": "JSON",
              "timestamp": "TIMESTAMP"}
PG_TYPES = {"text": "text", "date": "date", "double": "double precision", "integer": "integer", "json": "jsonb",
            "timestamp": "timestamp without time zone"}


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "duckdb":
        return Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    return Warehouse(request.getfixturevalue("pg_database"), lock_timeout=30)


def column_types(store: Warehouse, table: str) -> dict[str, str]:
    sql = ("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
           "ORDER BY ordinal_position")
    with store.backend.reading() as con:
        frame = store.backend.fetch(con, sql, [table])
    return dict(zip(frame["column_name"], frame["data_type"]))


def test_tables_have_the_declared_types(store):
    write(store, D1, ACCOUNTS, 1, "r1")
    expected = DUCK_TYPES if store.backend.dialect == "duckdb" else PG_TYPES
    for table, columns in (("churn_scores", SCORE_COLUMNS), ("score_runs", RUN_COLUMNS)):
        assert column_types(store, table) == {c.name: expected[c.type] for c in columns}
    rows = store.scores(D1)
    assert len(rows) == 50 and rows["risk_rank"].tolist() == list(range(1, 51))
    assert isinstance(rows["reasons"].iloc[0], dict) and rows["as_of_date"].iloc[0] == D1
    runs = store.runs()
    assert runs[["run_id", "status", "row_count"]].values.tolist() == [["r1", "succeeded", 50]]
    drift = runs["drift"].iloc[0]  # JSON text from DuckDB, parsed by psycopg from JSONB
    assert (json.loads(drift) if isinstance(drift, str) else drift) == {"events_30d": 0.01}


def test_rerunning_a_date_replaces_that_date_only(store):
    write(store, D1, ACCOUNTS, 1, "r1")
    second = write(store, D2, ACCOUNTS, 2, "r2")
    again = write(store, D1, ACCOUNTS[:40], 3, "r3")
    rows = store.scores(D1)
    assert len(rows) == 40 and rows["account_id"].is_unique and set(rows["run_id"]) == {"r3"}
    assert np.allclose(rows.sort_values("account_id")["churn_probability"],
                       again.sort_values("account_id")["churn_probability"])
    kept = store.scores(D2).sort_values("account_id")
    assert np.allclose(kept["churn_probability"], second.sort_values("account_id")["churn_probability"])
    assert sorted(store.runs()["run_id"]) == ["r1", "r2", "r3"]
    assert store.latest_as_of() == D2


def test_probability_change_is_against_the_previous_as_of_date(store):
    first = write(store, D1, ACCOUNTS[:30], 1, "r1").set_index("account_id")
    second = write(store, D2, ACCOUNTS, 2, "r2").set_index("account_id")
    expected = second["churn_probability"] - first["churn_probability"].reindex(second.index)
    stored = store.scores(D2).set_index("account_id")["probability_change"].reindex(second.index)
    assert np.allclose(stored.to_numpy(dtype=float), expected.to_numpy(), equal_nan=True)
    assert stored.loc[ACCOUNTS[30:]].isna().all()  # no earlier run for them
    write(store, D2, ACCOUNTS, 2, "r3")  # a re-run of D2 compares with D1 again, not with itself
    again = store.scores(D2).set_index("account_id")["probability_change"].reindex(second.index)
    assert np.allclose(again.to_numpy(dtype=float), expected.to_numpy(), equal_nan=True)
    write(store, D3, ACCOUNTS[:10], 4, "r4")
    latest = store.scores(D3).set_index("account_id")
    d2 = store.scores(D2).set_index("account_id")["churn_probability"]
    assert np.allclose(latest["probability_change"], latest["churn_probability"] - d2.loc[latest.index])


def test_change_reasons_name_the_groups_that_moved_the_probability(store):
    def planted(as_of, p, contributions, sentences, run_id):
        rows = fake_scores(as_of, ["A1", "A2"], 1, run_id).assign(churn_probability=p)
        rows["contributions"] = [json.dumps(c) for c in contributions]
        rows["reasons"] = [json.dumps({"base_value": -2.0, "other": 0.0, "protective": [], "context": [],
                                       "risk": [{"group": g, "feature": g, "value": 1.0, "sentence": t,
                                                 "contribution": 0.5} for g, t in s.items()]}) for s in sentences]
        return store.write(rows, run_for(as_of, run_id, 2))

    calm = {"urgent_tickets": -0.1, "active_users": -0.2, "nps": 0.1}
    planted(D1, [0.05, 0.30], [calm, {"active_users": 0.6, "nps": 0.2}], [{}, {}], "r1")
    planted(D2, [0.17, 0.29], [{"urgent_tickets": 0.9, "active_users": 0.5, "nps": 0.1},  # a ticket, usage fell
                               {"active_users": 0.58, "nps": 0.21}],
            [{"urgent_tickets": "2 high/urgent support tickets still open",
              "active_users": "Active users are down 40 % on the previous 30 days"}, {}], "r2")
    moved = store.scores(D2).set_index("account_id")["change_reasons"]
    assert moved["A1"] == ("risk up 12 points: 2 high/urgent support tickets still open; "
                           "Active users are down 40 % on the previous 30 days")
    assert moved["A2"] is None  # a move of 1 point is under scoring.change_min_points: nothing to say
    strict = Warehouse(store.url, lock_timeout=30, change_min_points=20)  # read under a higher threshold
    assert strict.scores(D2)["change_reasons"].isna().all()
    assert store.scores(D1)["change_reasons"].isna().all()  # no earlier run


NPS = Feature("nps_last", Definition(name="nps_last", family="nps", frame="nps", fn=None, doc="", unit="",
                                    risk="Last NPS answer was {value:.0f} of 10",
                                    protective="Last NPS answer was {value:.0f} of 10", group="nps",
                                    direction="lower", topic="NPS"))
DATES = [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1), date(2025, 4, 1)]


def nps_world(as_of: date, seed: int) -> pd.DataFrame:
    """Rows whose probability follows one group (NPS): its leading feature's value moves with the score."""
    present = ACCOUNTS if as_of != DATES[1] else ACCOUNTS[10:]  # ten accounts skip the second date
    rows = fake_scores(as_of, present, seed, f"r{as_of:%m}")
    score = np.log(rows["churn_probability"] / (1 - rows["churn_probability"]))
    rows["contributions"] = [json.dumps({"nps": [round(float(c), 4), "nps_last", float(round(10 - 10 * p)), "NPS"]})
                             for c, p in zip(score, rows["churn_probability"])]
    return rows


def test_change_is_against_the_previous_date_whatever_order_the_runs_came_in(store):
    """Date order, a backfill (latest first, then the earlier dates shuffled) and a re-score in the middle
    (the second date first written from bad data, then again) leave identical rows."""
    orders = {"in date order": [(d, 1) for d in DATES],
              "shuffled": [(DATES[3], 1), (DATES[1], 1), (DATES[0], 1), (DATES[2], 1)],
              "backfilled latest first": [(d, 1) for d in DATES[::-1]],  # the skippers' D3 rows follow D1
              "re-scored": [(DATES[0], 1), (DATES[1], 99), (DATES[2], 1), (DATES[3], 1), (DATES[1], 1)]}
    seeds = {d: i + 1 for i, d in enumerate(DATES)}
    results = {}
    for i, (name, order) in enumerate(orders.items()):
        wh = Warehouse(store.url, table=f"scores_{i}", runs_table=f"runs_{i}", lock_timeout=30)
        for day, bad in order:
            rows = nps_world(day, seeds[day] * bad)
            wh.write(rows, run_for(day, f"{name}{day}{bad}", len(rows)), features=[NPS])
        results[name] = pd.concat([wh.scores(d) for d in DATES]).sort_values(["as_of_date", "account_id"])
    keep = ["as_of_date", "account_id", "churn_probability", "probability_change", "change_reasons"]
    expected = results["in date order"][keep].reset_index(drop=True)
    for name in ("shuffled", "backfilled latest first", "re-scored"):
        pd.testing.assert_frame_equal(results[name][keep].reset_index(drop=True), expected, obj=name)
    by_date = {d: part.set_index("account_id")["churn_probability"] for d, part in expected.groupby("as_of_date")}
    third = expected[expected["as_of_date"] == DATES[2]].set_index("account_id")
    previous = by_date[DATES[1]].reindex(third.index).fillna(by_date[DATES[0]])  # skipped D2: against D1
    assert np.allclose(third["probability_change"], third["churn_probability"] - previous)
    big = expected["probability_change"].abs() >= 0.05
    assert big.sum() > 50 and expected.loc[big, "change_reasons"].notna().all()
    assert expected.loc[~big, "change_reasons"].isna().all()
    assert expected.loc[big, "change_reasons"].str.fullmatch(
        r"risk (?:up|down) \d+ points: Last NPS answer was \d+ of 10(?:, (?:up|down) from \d+)?").all()


def test_columns_added_by_a_later_version_are_added_in_place(tmp_path):
    path = tmp_path / "wh.duckdb"
    write(Warehouse(path), D1, ACCOUNTS, 1, "r1")
    with duckdb.connect(str(path)) as con:
        con.execute("ALTER TABLE churn_scores DROP COLUMN change_reasons")
        con.execute("ALTER TABLE churn_scores DROP COLUMN contributions")
    write(Warehouse(path), D2, ACCOUNTS, 2, "r2")
    assert Warehouse(path).scores(D2)["change_reasons"].isna().all()  # D1 kept no contributions to compare
    write(Warehouse(path), D3, ACCOUNTS, 3, "r3")
    moved = Warehouse(path).scores(D3)["change_reasons"].dropna()
    assert len(moved) > 40 and moved.str.match(r"risk (up|down) \d+ points?").all()
    assert len(Warehouse(path).scores(D1)) == 50


def test_a_table_without_the_curve_columns_gets_them_in_place(store):
    write(store, D1, ACCOUNTS, 1, "r1")
    curve = [f"churn_probability_{d}d" for d in CURVE_DAYS] + ["expected_churn_window"]
    with store.backend.transaction() as con:  # a table made before time-to-churn curves existed
        for name in curve:
            store.backend.execute(con, f"ALTER TABLE churn_scores DROP COLUMN {name}")
    assert not set(curve) & set(column_types(store, "churn_scores"))
    written = write(store, D2, ACCOUNTS, 2, "r2")
    rows = store.scores(D2).set_index("account_id").loc[written["account_id"]]
    assert np.allclose(rows["churn_probability_180d"], written["churn_probability_180d"])
    assert rows["expected_churn_window"].isna().tolist() == written["expected_churn_window"].isna().tolist()
    assert store.scores(D1)["churn_probability_30d"].isna().all()  # the older rows have no curve


def test_failed_run_is_recorded_separately(store):
    write(store, D1, ACCOUNTS, 1, "r1")
    failed = Run("r2", D2, datetime(2025, 2, 1, 3), status="failed", error="ModelError: boom")
    assert store.record_failure(failed)
    runs = store.runs().set_index("run_id")
    assert runs.loc["r2", "status"] == "failed" and runs.loc["r2", "error"] == "ModelError: boom"
    assert store.latest_as_of() == D1


def test_an_incompatible_existing_table_is_refused(tmp_path):
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE churn_scores (account_id VARCHAR, score DOUBLE)")
    with pytest.raises(ChurnError, match="lacks the column"):
        write(Warehouse(path), D1, ACCOUNTS, 1, "r1")


def test_reading_before_any_run_says_what_to_do(tmp_path):
    with pytest.raises(ChurnError, match="churn score"):
        Warehouse(tmp_path / "none.duckdb").latest_as_of()


# ------------------------------------------------------------ other processes
WRITER = """
import pickle, sys, time
from pathlib import Path
from pipeline.io import sql_backends, warehouse as wh

url, rows, run, pause, go = pickle.loads(Path(sys.argv[1]).read_bytes())
backend = sql_backends.PostgresBackend if wh.is_postgres(url) else sql_backends.DuckDBBackend
insert = backend.insert

def insert_then_wait(self, con, table, frame, columns, **options):
    insert(self, con, table, frame, columns, **options)
    if pause and table == "churn_scores":  # rows written, transaction still open
        Path(pause).touch()
        while not (go and Path(go).exists()):
            time.sleep(0.05)

backend.insert = insert_then_wait
wh.Warehouse(url, lock_timeout=60).write(rows, run)
print("committed", flush=True)
"""


def start_writer(tmp_path: Path, store: Warehouse, rows, run, pause=None, go=None) -> subprocess.Popen:
    args = tmp_path / f"{run.run_id}.pkl"
    args.write_bytes(pickle.dumps((store.url, rows, run, pause and str(pause), go and str(go))))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", WRITER, str(args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"writer exited early: {proc.communicate()}")
        assert time.monotonic() < deadline, "writer never reached the pause"
        time.sleep(0.05)


def test_killed_writer_leaves_previous_rows_intact(store, tmp_path):
    before = write(store, D1, ACCOUNTS, 1, "r1").sort_values("account_id")
    pause = tmp_path / "paused"
    proc = start_writer(tmp_path, store, fake_scores(D1, ACCOUNTS[:20], 9, "r2"), run_for(D1, "r2", 20), pause)
    wait_for(pause, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    after = store.scores(D1).sort_values("account_id")
    assert after["account_id"].tolist() == before["account_id"].tolist()
    assert np.allclose(after["churn_probability"], before["churn_probability"])
    assert store.runs()["run_id"].tolist() == ["r1"]
    write(store, D2, ACCOUNTS, 3, "r3")  # the lock died with the process
    assert store.latest_as_of() == D2


def test_concurrent_runs_do_not_interleave(store, tmp_path):
    write(store, D1, ACCOUNTS, 1, "r0")
    pause, go = tmp_path / "paused", tmp_path / "go"
    first = start_writer(tmp_path, store, fake_scores(D1, ACCOUNTS[:10], 2, "r1"), run_for(D1, "r1", 10), pause, go)
    wait_for(pause, first)
    second = start_writer(tmp_path, store, fake_scores(D1, ACCOUNTS[:25], 3, "r2"), run_for(D1, "r2", 25))
    time.sleep(2.0)
    assert second.poll() is None, "the second run must wait for the first one's transaction"
    go.touch()
    assert first.wait(60) == 0, first.communicate()
    assert second.wait(60) == 0, second.communicate()
    rows = store.scores(D1)
    assert len(rows) == 25 and set(rows["run_id"]) == {"r2"}
    assert sorted(store.runs()["run_id"]) == ["r0", "r1", "r2"]


def test_which_model_served_and_the_renewal_are_recorded_and_added_in_place(store):
    write(store, D1, ACCOUNTS, 1, "r1")
    with store.backend.transaction() as con:  # tables made before issue 23 recorded either
        store.backend.execute(con, "ALTER TABLE score_runs DROP COLUMN churn_probability_model")
        store.backend.execute(con, "ALTER TABLE churn_scores DROP COLUMN renewal_date")
    assert "churn_probability_model" not in column_types(store, "score_runs")
    run = run_for(D2, "r2", len(ACCOUNTS))
    run.churn_probability_model = "hazard"
    scores = fake_scores(D2, ACCOUNTS, 2, "r2").assign(renewal_date=[date(2025, 3, 15) if i % 2 else None
                                                                     for i in range(len(ACCOUNTS))])
    store.write(scores, run)
    types = column_types(store, "score_runs")
    assert types["churn_probability_model"] in ("VARCHAR", "text")
    runs = store.runs().set_index("run_id")
    assert runs.loc["r2", "churn_probability_model"] == "hazard" and pd.isna(runs.loc["r1", "churn_probability_model"])
    rows = store.scores(D2).set_index("account_id")
    renewals = pd.to_datetime(rows.loc[ACCOUNTS, "renewal_date"]).dt.date
    assert renewals.iloc[1] == date(2025, 3, 15) and renewals.iloc[::2].isna().all()
    assert store.scores(D1)["renewal_date"].isna().all()


def test_documents_kept_in_arrow_text_are_written_and_compared_as_python_strings(store):
    """The scorer hands its JSON documents over as Arrow text (``models.reason_documents.texts``), in any row
    order and index: the table and the change reasons are those of the same rows as Python strings."""
    from models.reason_documents import texts

    for as_of, seed in ((D1, 1), (D2, 2)):
        write(store, as_of, ACCOUNTS, seed, f"r{seed}")
    as_strings = store.scores(D2).set_index("account_id").sort_index()
    rows = fake_scores(D2, ACCOUNTS, 2, "r2b").sample(frac=1.0, random_state=0)  # shuffled: index not 0..n-1
    rows = rows.assign(**{name: texts(rows[name].tolist()) for name in ("reasons", "contributions", "reason_summary")})
    store.write(rows, run_for(D2, "r2b", len(rows)))
    as_arrow = store.scores(D2).set_index("account_id").sort_index()
    assert as_strings["change_reasons"].notna().sum() > 10  # moves to explain were there
    pd.testing.assert_frame_equal(as_arrow.drop(columns="run_id"), as_strings.drop(columns="run_id"))
