"""Faults while scoring, with `churn score` as a real process on real DuckDB and real PostgreSQL.

* SIGKILL at every named point of the work (:mod:`pipeline.pause_points`: the process holds there
  until killed, so every kill lands whatever the machine's speed): the previous rows stay.
* SIGKILL at random moments (``CHURN_FAULT_KILLS`` runs per engine, 20 by default, seeded): the
  warehouse then holds exactly the previous run's rows or exactly the new run's, never a mix; runs
  that finish before their kill are checked the same way.
* The PostgreSQL connection terminated mid-write (``pg_terminate_backend``): a clean error, the
  previous rows kept, a failed run recorded, and a re-run succeeds.
* Two runs started together: both finish (one waited for the other) or one fails with a clear
  message; the table then holds exactly one run's rows.

The "previous" rows are model v1's, the "new" ones model v2's (another seed): the two are told apart
by their probabilities, compared in full for every account.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import psycopg
import pytest

from pipeline.pause_points import POINTS
from pipeline.steps import score
from pipeline.io.load import load_tables
from pipeline.io.sources import open_source
from pipeline.io.warehouse import Run, Warehouse, utc_now
from fault_processes import Zygote
from scoring_fixtures import (NAME, Lines, churn, feature_panel, fit_model, register,
                              scoring_config, start_churn, write_config)

KILLS = int(os.environ.get("CHURN_FAULT_KILLS", "20"))
SEED = 6
def uri(version: str) -> str:
    return f"models:/{NAME}/{version}"


def signature(rows: pd.DataFrame) -> dict:
    """What identifies a run's rows: per account, its probability, rank, tier, reasons and model version."""
    return {a: (p, int(r), t, s, v) for a, p, r, t, s, v in zip(
        rows["account_id"], rows["churn_probability"], rows["risk_rank"], rows["risk_tier"],
        rows["reason_summary"], rows["model_version"])}


@dataclass
class Scoring:
    cfg: object
    config: Path
    end: date
    earlier: date
    versions: tuple[str, str]
    rows: dict  # (model version, as-of date) -> the rows the scorer writes
    expected: dict  # model version -> signature of its rows on ``end``
    total: float  # seconds from "go" to the commit of a clean run (its "scored" line)
    after_line: float  # seconds from its "scoring N accounts" line to the commit


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


@pytest.fixture(scope="module")
def scoring(small_world, tmp_path_factory) -> Scoring:
    """Two registered models, what each writes, and how long a clean run takes."""
    tmp = tmp_path_factory.mktemp("faults")
    cfg = scoring_config(small_world, tmp)
    table, panel, end = feature_panel(cfg)
    earlier = end - timedelta(days=30)
    versions = tuple(register(cfg, fit_model(table, panel, seed=seed, rounds=rounds), panel, alias=None)
                     for seed, rounds in ((1, 60), (2, 40)))
    rows = {(v, day): score.run(cfg, as_of=day, model_uri=uri(v), warehouse=str(tmp / f"v{v}.duckdb")).scores
            for v, day in ((versions[0], earlier), (versions[0], end), (versions[1], end))}
    expected = {v: signature(rows[v, end]) for v in versions}
    assert sorted(expected[versions[0]]) == sorted(expected[versions[1]])
    probabilities = [np.array([expected[v][a][0] for a in sorted(expected[v])]) for v in versions]
    assert not np.isclose(*probabilities).any(), "the two models must be told apart by every row"
    config = write_config(cfg, tmp / "pipeline.yaml")
    zygote = Zygote(["score", "--config", config, "--warehouse", tmp / "clean.duckdb", "--model", uri(versions[1])],
                    tmp)
    try:
        clean = zygote.start()
        line = clean.wait_line("scoring ")
        committed = clean.wait_line("scored ", ".out")
        assert clean.finish() == 0 and line and committed, clean.text(".err")
    finally:
        zygote.close()
    return Scoring(cfg, config, end, earlier, versions, rows, expected, committed - clean.started, committed - line)


def write_rows(store: Warehouse, rows: pd.DataFrame, version: str) -> pd.DataFrame:
    """Write rows the scorer produced as a new succeeded run of model ``version`` (the warehouse's one write path)."""
    run = Run(uuid.uuid4().hex, rows["as_of_date"].iloc[0], utc_now(), NAME, version, uri(version), "test",
              "succeeded", len(rows))
    return store.write(rows.assign(run_id=run.run_id), run)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request, tmp_path) -> str:
    if request.param == "duckdb":
        return str(tmp_path / "wh.duckdb")
    return request.getfixturevalue("pg_database")


# --------------------------------------------------------------------------------- SIGKILL
def check_state(store: Warehouse, s: Scoring, history: pd.DataFrame) -> str:
    """``previous`` or ``new``: which run's rows the warehouse holds; fails on anything else."""
    rows = store.scores(s.end)
    assert rows["account_id"].is_unique
    state = next((v for v, sig in s.expected.items() if signature(rows) == sig), None)
    assert state is not None, "the rows are neither exactly the previous run's nor exactly the new run's"
    runs = store.runs()
    assert runs["run_id"].is_unique and set(runs["status"]) == {"succeeded"}, runs[["run_id", "status"]]
    (run_id,) = set(rows["run_id"])
    run = runs.set_index("run_id").loc[run_id]
    assert (run["row_count"], run["as_of_date"], run["model_version"]) == (len(rows), s.end, state)
    # the earlier date is untouched, and probability_change was computed against it in the same transaction
    earlier = store.scores(s.earlier)
    assert signature(earlier) == signature(history) and set(earlier["run_id"]) == set(history["run_id"])
    before = earlier.set_index("account_id")["churn_probability"].reindex(rows["account_id"]).to_numpy()
    assert np.allclose(rows["probability_change"].astype(float), rows["churn_probability"] - before,
                       equal_nan=True, rtol=0, atol=1e-12)
    assert len(store.history(s.end, points=100)) == len(rows) + len(earlier)  # no stray rows
    return "previous" if state == s.versions[0] else "new"


@pytest.mark.slow
def test_a_kill_at_every_point_of_the_work_leaves_exactly_the_previous_rows(scoring, warehouse_url, tmp_path):
    s, store = scoring, Warehouse(warehouse_url, lock_timeout=120)
    old, new = s.versions
    history = write_rows(store, s.rows[old, s.earlier], old)
    write_rows(store, s.rows[old, s.end], old)
    zygote = Zygote(["score", "--config", s.config, "--warehouse", warehouse_url, "--model", uri(new)], tmp_path)
    try:
        for point in POINTS:
            child = zygote.start(pause=point)
            assert child.wait_paused() == point, child.text(".err")
            child.kill()
            assert child.finish() == -signal.SIGKILL
            assert check_state(store, s, history) == "previous", point
        assert zygote.start().finish() == 0  # and a run after all these kills writes the new rows
        assert check_state(store, s, history) == "new"
    finally:
        zygote.close()


@pytest.mark.slow
def test_sigkill_at_random_points_leaves_exactly_the_previous_or_the_new_rows(scoring, warehouse_url, tmp_path,
                                                                               capsys):
    s, store = scoring, Warehouse(warehouse_url, lock_timeout=120)
    old, new = s.versions
    history = write_rows(store, s.rows[old, s.earlier], old)
    previous = write_rows(store, s.rows[old, s.end], old)
    assert check_state(store, s, history) == "previous"
    args = ["score", "--config", s.config, "--warehouse", warehouse_url, "--model", uri(new)]
    rng, outcomes, began = random.Random(SEED), [], time.monotonic()
    zygote = Zygote(args, tmp_path)
    try:
        while len(outcomes) < KILLS:  # how many kills land depends on the machine: each outcome is checked
            scorer = zygote.start()
            if len(outcomes) % 2:  # every other kill aims at the end: scoring, explaining, writing
                anchor = scorer.wait_line("scoring ")
                assert anchor is not None, scorer.text(".err")
                delay = rng.uniform(0, s.after_line)
            else:  # anywhere from loading the model to the commit
                anchor, delay = scorer.started, rng.uniform(0, s.total)
            sleep_until(anchor + delay)
            scorer.kill()
            code = scorer.finish()
            killed = code == -signal.SIGKILL
            assert killed or code == 0, scorer.text(".err")
            state = check_state(store, s, history)
            assert killed or state == "new"
            outcomes.append({"killed": killed, "after": round(time.monotonic() - scorer.started, 2),
                             "scoring_line": "scoring " in scorer.text(".err"), "state": state})
            if state == "new":  # killed after its commit: put the previous rows back for the next kill
                write_rows(store, previous, old)
    finally:
        zygote.close()
    frame = pd.DataFrame(outcomes)
    with capsys.disabled():
        kills = frame[frame["killed"]]
        print(f"\n{store.backend.dialect}: {len(kills)} SIGKILLs {kills['after'].min():.2f}..{kills['after'].max():.2f} s "
              f"into a {s.total:.2f} s run; {int(kills['scoring_line'].sum())} after the scoring line; left "
              f"{(kills['state'] == 'previous').sum()} x previous rows, {(kills['state'] == 'new').sum()} x new rows "
              f"(killed after the commit); {int((~frame['killed']).sum())} runs finished before their kill; "
              f"{time.monotonic() - began:.0f} s")


# ------------------------------------------------------------------- pg_terminate_backend
def backend_waiting(watch, query_prefix: str, proc: Lines, seconds: float = 180) -> int:
    """Pid of the scorer's backend once it waits for a lock inside a statement starting with ``query_prefix``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row = watch.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'churn-score' "
            "AND wait_event_type = 'Lock' AND query LIKE %s", [query_prefix + "%"]).fetchone()
        if row:
            return row[0]
        assert proc.proc.poll() is None, f"the scorer ended before the write: {proc.stderr}"
        time.sleep(0.05)
    raise AssertionError(f"the scorer never reached '{query_prefix}': {proc.stderr}")


@pytest.mark.postgres
@pytest.mark.slow
def test_connection_terminated_mid_write_keeps_the_previous_rows_and_a_rerun_succeeds(scoring, pg_database):
    s = scoring
    old, new = s.versions
    store = Warehouse(pg_database)
    previous = write_rows(store, s.rows[old, s.end], old)
    args = ["score", "--config", s.config, "--warehouse", pg_database, "--model", uri(new)]
    with psycopg.connect(pg_database, autocommit=True) as watch, psycopg.connect(pg_database) as blocker:
        # Holding score_runs stops the scorer after it deleted the date's rows and copied the new ones,
        # before its run record: inside its write transaction.
        blocker.execute("LOCK TABLE score_runs IN ACCESS EXCLUSIVE MODE")
        scorer = Lines(start_churn(*args))
        pid = backend_waiting(watch, "COPY score_runs", scorer)
        held = watch.execute("SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                             "WHERE l.pid = %s AND l.granted", [pid]).fetchall()
        assert ("churn_scores", "RowExclusiveLock") in held  # it has written to churn_scores
        assert watch.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
        blocker.rollback()
    assert scorer.finish() == 2, scorer.stderr
    assert "Traceback" not in scorer.stderr and scorer.stdout == ""
    errors = [line for line in scorer.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and f"cannot write to {pg_database}" in errors[0], scorer.stderr
    lost = ("terminating connection due to administrator command", "server closed the connection")
    assert any(text in errors[0] for text in lost), errors[0]

    rows = store.scores(s.end)
    assert signature(rows) == signature(previous) and set(rows["run_id"]) == set(previous["run_id"])
    runs = store.runs().set_index("run_id")
    (failed,) = set(runs.index) - set(previous["run_id"])
    assert runs.loc[failed, ["status", "row_count", "model_version"]].tolist() == ["failed", 0, new]
    assert any(text in runs.loc[failed, "error"] for text in lost)

    again = churn(*args)
    assert again.returncode == 0, again.stderr
    rows = store.scores(s.end)
    assert signature(rows) == s.expected[new]
    runs = store.runs().set_index("run_id")
    assert runs.loc[rows["run_id"].iloc[0], "status"] == "succeeded" and len(runs) == 3


# ------------------------------------------------------------------------- concurrency
def final_state(store: Warehouse, end: date, expected: dict, runs_before: int, started: int) -> pd.Series:
    """The run whose rows the table holds: exactly its rows, and it is the last run that committed."""
    rows = store.scores(end)
    (run_id,) = set(rows["run_id"])
    runs = store.runs()
    assert len(runs) == runs_before + started  # one record per started run, succeeded or failed
    ok = runs[runs["status"] == "succeeded"].sort_values("finished_at")
    run = ok.set_index("run_id").loc[run_id]
    assert run_id == ok["run_id"].iloc[-1] and run["row_count"] == len(rows)
    assert signature(rows) == expected[run["model_version"]], "rows of two runs interleaved"
    return run


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres), "one-duckdb-file"])
def test_two_runs_started_together_never_interleave(scoring, layout, tmp_path, request):
    s = scoring
    old, new = s.versions
    data, url = s.cfg.data, str(tmp_path / "wh.duckdb")
    expected = dict(s.expected)
    if layout == "postgres":
        url = request.getfixturevalue("pg_database")
    elif layout == "one-duckdb-file":  # the README's default: raw tables and scores in one DuckDB file
        data = url
        with open_source(s.cfg.data) as source:
            load_tables(source, url)
        for v in (new, old):  # what each model writes from this file (the old one's rows stay, as previous)
            expected[v] = signature(score.run(s.cfg.model_copy(update={"data": data}), model_uri=uri(v),
                                              warehouse=url).scores)
    store = Warehouse(url)
    if layout != "one-duckdb-file":
        write_rows(store, s.rows[old, s.end], old)  # the previous rows
    runs_before = len(store.runs())

    def start(version: str, name: str) -> Lines:
        target = f"{url}?application_name={name}" if layout == "postgres" else url
        return Lines(start_churn("score", "--config", s.config, "--data", data, "--warehouse", target,
                                 "--model", uri(version)))

    if layout == "duckdb":  # hold the file until both runs wait to write: one must then wait for the other
        holder = duckdb.connect(url)
        runs = [start(old, "a"), start(new, "b")]
        for r in runs:
            assert r.wait_line("scoring ", 300) is not None, r.stderr
        time.sleep(s.after_line + 1.0)
        assert all(r.proc.poll() is None for r in runs), "both runs must be waiting for the warehouse"
        holder.close()
    elif layout == "postgres":  # hold churn_scores: the first run waits inside its transaction, the second for it
        with psycopg.connect(url, autocommit=True) as watch, psycopg.connect(url) as blocker:
            blocker.execute("LOCK TABLE churn_scores IN ACCESS EXCLUSIVE MODE")
            runs = [start(old, "churn-score-a"), start(new, "churn-score-b")]
            deadline, waits = time.monotonic() + 300, {}
            while len(waits) < 2:
                assert time.monotonic() < deadline and all(r.proc.poll() is None for r in runs), [r.stderr for r in runs]
                waits = dict(watch.execute(
                    "SELECT application_name, wait_event FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name LIKE 'churn-score-%' AND wait_event_type = 'Lock'").fetchall())
                time.sleep(0.05)
            assert sorted(waits.values()) == ["advisory", "relation"], waits  # one in its write, one waiting for it
            blocker.rollback()
        last = new if waits["churn-score-b"] == "advisory" else old
    else:  # both read the file while the other may be writing it
        runs = [start(old, "a"), start(new, "b")]

    codes = [r.finish() for r in runs]
    for r, code in zip(runs, codes):
        assert "Traceback" not in r.stderr
        if code != 0:  # only a clear refusal is acceptable
            assert code == 2 and layout == "one-duckdb-file", r.stderr
            assert r.stderr.count("error: ") == 1 and "lock" in r.stderr.lower(), r.stderr
    assert 0 in codes
    if layout != "one-duckdb-file":
        assert codes == [0, 0], [r.stderr for r in runs]
    run = final_state(store, s.end, expected, runs_before, len(runs))
    if layout == "postgres":
        assert run["model_version"] == last  # the run that waited for the other one's transaction wrote last


@pytest.mark.slow
def test_a_run_that_cannot_get_the_warehouse_in_time_fails_clearly(scoring, warehouse_url, tmp_path):
    s, store = scoring, Warehouse(warehouse_url)
    old, new = s.versions
    previous = write_rows(store, s.rows[old, s.end], old)
    impatient = s.cfg.model_copy(update={"scoring": s.cfg.scoring.model_copy(update={"lock_timeout_seconds": 2})})
    args = ["score", "--config", write_config(impatient, tmp_path / "pipeline.yaml"), "--warehouse", warehouse_url,
            "--model", uri(new)]
    if store.backend.dialect == "duckdb":  # another process holds the file
        holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
                                   "print('held', flush=True); sys.stdin.readline()", warehouse_url],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline() == "held\n"
        result = churn(*args)
        holder.communicate("done\n", timeout=60)
        expected = [f"error: cannot open the DuckDB warehouse '{warehouse_url}'", "lock"]
    else:  # another session holds churn_scores
        with psycopg.connect(warehouse_url) as blocker:
            blocker.execute("LOCK TABLE churn_scores IN ACCESS EXCLUSIVE MODE")
            result = churn(*args)
            blocker.rollback()
        expected = [f"error: {warehouse_url}: another scoring run or session held the score tables for more than 2 s"]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert all(text in result.stderr for text in expected), result.stderr
    rows = store.scores(s.end)
    assert signature(rows) == signature(previous) and set(rows["run_id"]) == set(previous["run_id"])
    runs = store.runs()
    assert runs.loc[runs["status"] == "succeeded", "run_id"].tolist() == previous["run_id"].iloc[:1].tolist()
    if store.backend.dialect == "postgres":  # the failure is recorded (the DuckDB file was still held: it cannot be)
        assert runs["status"].tolist() == ["failed", "succeeded"] and "held the score tables" in runs["error"].iloc[0]
