"""`churn score` + `churn impact` on one generated world with a CS team; assignments through re-runs and kills.

One world (the ``outreach`` preset, small): a registered model scores it month by month through the
CLI, assigning the accounts entering the experiment; `churn impact` then compares the arms. The
assignment is checked against the hash, across a re-run of a date, and across `churn score`
processes killed (SIGKILL) at random moments of their work.
"""

from __future__ import annotations

import random
import shutil
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from markupsafe import escape
from typer.testing import CliRunner

from models.experiments import HOLDOUT, arms
from pipeline.cli import app
from models.errors import ChurnError
from pipeline.io.experiment_tables import read_assignments, read_results, write_results
from pipeline.io.subgroup_table import read_subgroups
from pipeline.io.warehouse import Warehouse
from pipeline.steps import impact
from pipeline.synthetic import generate_world
from fault_processes import Zygote
from scoring_fixtures import feature_panel, fit_model, register, scoring_config, write_config

NAME = "retention-2025"
EXPERIMENT = {"name": NAME, "start": "2024-01-01", "tiers": ["high", "medium"], "holdout_share": 0.2,
              "subgroup_min_accounts": 5}  # a small world: subgroups of a few holdout accounts are tested
DATES = [d.date() for d in pd.date_range("2024-01-01", "2024-07-01", freq="MS")]
KILLS = 4


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Scored month by month through the CLI: (cfg, config file, tmp folder, runner)."""
    tmp = tmp_path_factory.mktemp("impact")
    generate_world(tmp / "world", accounts=400, days=600, seed=5, preset="outreach",
                   params={"outreach_start_day": 365}, events=60_000)
    cfg = scoring_config(tmp / "world", tmp, experiments=[EXPERIMENT])
    table, panel, _ = feature_panel(cfg)
    register(cfg, fit_model(table, panel), panel)
    config = write_config(cfg, tmp / "pipeline.yaml")
    runner = CliRunner()
    for day in DATES:
        result = runner.invoke(app, ["score", "--config", str(config), "--as-of", str(day)])
        assert result.exit_code == 0, result.output
    return cfg, config, tmp, runner


def test_assignments_follow_the_hash_and_the_first_entry(world):
    cfg, *_ = world
    store = Warehouse.from_config(cfg)
    got = read_assignments(store, NAME)
    assert len(got) > 50 and got["account_id"].is_unique
    assert (got["arm"] == arms(NAME, got["account_id"], 0.2)).all()
    scores = pd.concat([store.scores(d) for d in DATES])
    entered = scores[scores["risk_tier"].isin(["high", "medium"])].groupby("account_id")["as_of_date"].min()
    assert got.set_index("account_id")["assigned_date"].to_dict() == entered.to_dict()
    first = scores.set_index(["account_id", "as_of_date"]).loc[list(zip(got["account_id"], got["assigned_date"]))]
    assert got["probability"].tolist() == pytest.approx(first["churn_probability"].tolist())
    assert got["tier"].tolist() == first["risk_tier"].tolist()


def test_rescoring_a_date_leaves_the_assignments_as_they_were(world):
    cfg, config, _, runner = world
    before = read_assignments(Warehouse.from_config(cfg), NAME).drop(columns=["run_id", "assigned_at"])
    result = runner.invoke(app, ["score", "--config", str(config), "--as-of", str(DATES[2])])
    assert result.exit_code == 0, result.output
    after = read_assignments(Warehouse.from_config(cfg), NAME).drop(columns=["run_id", "assigned_at"])
    pd.testing.assert_frame_equal(before, after)
    scored = Warehouse.from_config(cfg).scores(DATES[2])
    population = int(scored["risk_tier"].isin(["high", "medium"]).sum())  # all of them assigned by now
    assert population and (f"experiment {NAME}: 0 accounts entered (0 outreach, 0 holdout); "
                           f"{population:,} already assigned") in result.output


def test_churn_impact_reports_the_arms_writes_results_and_a_page(world):
    cfg, config, tmp, runner = world
    result = runner.invoke(app, ["impact", "--config", str(config), "--experiment", NAME,
                                 "--out", str(tmp / "page" / "impact.html")])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith(f"Experiment {NAME}: outcomes known on ")
    assert "churn within 90 days of assignment" in text and "tier high" in text and "tier medium" in text
    assert "compliance (cs_activities):" in text and "verdict: " in text
    rows = read_results(Warehouse.from_config(cfg), NAME)
    assert set(rows["scope"]) >= {"all", "tier:high", "tier:medium"}
    overall = rows[rows["scope"] == "all"].iloc[0]
    assigned = read_assignments(Warehouse.from_config(cfg), NAME)
    assert 0 < overall["n_outreach"] + overall["n_holdout"] <= len(assigned)
    assert overall["n_holdout"] <= (assigned["arm"] == HOLDOUT).sum()
    verdict = overall["verdict"]
    assert verdict.startswith("not enough evidence yet") == (not overall["significant"])
    page = (tmp / "page" / "impact.html").read_text()
    assert "data:image/png;base64," in page and verdict in page
    assert (tmp / "page" / "impact.png").read_bytes()[:4] == b"\x89PNG"
    listed = runner.invoke(app, ["risk-list", "--config", str(config)])
    active = set(Warehouse.from_config(cfg).scores(DATES[-1])["account_id"])  # the holdout accounts still scored
    held = int(assigned.loc[assigned["arm"] == HOLDOUT, "account_id"].isin(active).sum())
    assert held and f"{held} held out by an experiment (not listed)" in listed.stdout


def test_results_name_their_data_and_model_and_a_rerun_says_what_it_replaced(world):
    cfg, config, tmp, runner = world
    copy = tmp / "world-copy"
    shutil.copytree(tmp / "world", copy, dirs_exist_ok=True)
    args = ["impact", "--config", str(config), "--experiment", NAME, "--as-of", "2024-07-15",
            "--out", str(tmp / "rerun" / "impact.html")]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "replaced the stored results" not in first.stdout
    rows = read_results(Warehouse.from_config(cfg), NAME)
    rows = rows[pd.to_datetime(rows["as_of_date"]).dt.date == date(2024, 7, 15)]
    assert set(rows["data_source"]) == {str(tmp / "world")} and set(rows["model_version"]) == {"churn-test v1"}
    again = runner.invoke(app, args)
    assert (f"replaced the stored results of {NAME} on 2024-07-15 ({len(rows)} rows computed at "
            in again.stdout) and f"from {tmp / 'world'}, model churn-test v1)\n" in again.stdout
    other = runner.invoke(app, [*args, "--data", str(copy)])
    assert other.exit_code == 0, other.output
    assert f"from {tmp / 'world'}, model churn-test v1): they came from a different data source" in other.stdout
    stored = read_results(Warehouse.from_config(cfg), NAME)
    assert set(stored.loc[pd.to_datetime(stored["as_of_date"]).dt.date == date(2024, 7, 15),
                          "data_source"]) == {str(copy)}


def test_an_early_as_of_date_counts_only_closed_windows_and_unknown_names_fail(world):
    cfg, *_ = world
    early = impact.run(cfg, NAME, as_of=date(2024, 4, 30), out=world[2] / "early.html")
    assert early.outcomes.empty and early.results["all"].verdict.startswith("not enough evidence yet")
    first = impact.run(cfg, NAME, as_of=date(2024, 5, 1), out=world[2] / "first.html")  # 90 + 30 days after
    assert len(first.outcomes) and set(first.outcomes["assigned_date"]) == {date(2024, 1, 1)}
    assert impact.window_closes(date(2024, 1, 1), 90, 30) == date(2024, 5, 1)
    with pytest.raises(ChurnError, match="no experiment 'nope'.*retention-2025"):
        impact.run(cfg, "nope")
    for args, message in ((["--experiment", "nope"], "no experiment 'nope'"),
                          (["--experiment", NAME, "--as-of", "2030-01-01"], "is after the data end")):
        failed = world[3].invoke(app, ["impact", "--config", str(world[1]), *args])
        assert failed.exit_code == 2 and message in failed.output and "Traceback" not in failed.output


@pytest.mark.postgres
def test_outcomes_and_compliance_are_the_same_on_a_postgresql_source(world, pg_database):
    from pipeline.io.load import load_tables
    from pipeline.io.sources import open_source

    cfg, _, tmp, _ = world
    with open_source(cfg.data) as source:
        load_tables(source, pg_database)
    local = impact.run(cfg, NAME, out=tmp / "local.html")
    remote = impact.run(cfg.model_copy(update={"data": pg_database}), NAME, out=tmp / "pg.html")
    key = ["account_id", "assigned_date"]
    columns = [*key, "arm", "churned", "days_to_churn"]
    pd.testing.assert_frame_equal(remote.outcomes.sort_values(key)[columns].reset_index(drop=True),
                                  local.outcomes.sort_values(key)[columns].reset_index(drop=True))
    assert remote.compliance == local.compliance and local.compliance["contacted_outreach"] > 0
    assert remote.results["all"] == local.results["all"]


@pytest.mark.slow
def restore(base, target):
    """``base`` copied over ``target`` without ``target``'s write-ahead log: a WAL left by a killed run that had
    committed would be replayed onto the fresh copy when it is opened."""
    Path(f"{target}.wal").unlink(missing_ok=True)
    shutil.copy(base, target)


def test_a_kill_mid_run_leaves_the_assignments_of_before_or_of_after(world, capsys):
    """SIGKILL at random moments of `churn score` on a new date: never a half-written assignment."""
    cfg, config, tmp, _ = world
    base = tmp / "kill.duckdb"
    shutil.copy(cfg.warehouse, base)
    new_day = date(2024, 8, 1)
    zygote = Zygote(["score", "--config", config, "--warehouse", tmp / "target.duckdb", "--as-of", new_day], tmp)
    try:
        restore(base, tmp / "target.duckdb")
        clean = zygote.start()
        line, committed = clean.wait_line("scoring "), clean.wait_line("scored ", ".out")
        assert clean.finish() == 0 and line and committed, clean.text(".err")
        took = committed - line  # from the "scoring N accounts" line to the commit: scoring, then the write
        target = Warehouse(tmp / "target.duckdb")
        after = read_assignments(target, NAME).drop(columns=["run_id", "assigned_at"])
        before = read_assignments(Warehouse(base), NAME).drop(columns=["run_id", "assigned_at"])
        assert len(after) > len(before)
        rng, seen = random.Random(13), []
        for _ in range(KILLS):
            restore(base, tmp / "target.duckdb")
            child = zygote.start()
            child.wait_line("scoring ")
            time.sleep(rng.uniform(0.5, 1.1) * took)
            child.kill()
            child.finish(120)
            got = read_assignments(target, NAME).drop(columns=["run_id", "assigned_at"])
            scored = target.count(new_day) > 0
            expected = after if scored else before
            pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))
            seen.append("after" if scored else "before")
        for point in ("scores_inserted", "others_written", "run_recorded"):  # held there: every kill lands
            restore(base, tmp / "target.duckdb")
            child = zygote.start(pause=point)
            assert child.wait_paused() == point, child.text(".err")
            child.kill()
            child.finish(120)
            got = read_assignments(target, NAME).drop(columns=["run_id", "assigned_at"])
            pd.testing.assert_frame_equal(got.reset_index(drop=True), before.reset_index(drop=True))
            assert target.count(new_day) == 0
        with capsys.disabled():
            print(f"\nexperiment assignments after {KILLS} SIGKILLs in the {took:.1f} s from the scoring line to the "
                  f"commit: {', '.join(seen)}")
        restore(base, tmp / "target.duckdb")  # and a re-run after a kill writes the same assignment
        assert zygote.start().finish() == 0
        pd.testing.assert_frame_equal(read_assignments(target, NAME).drop(columns=["run_id", "assigned_at"]), after)
    finally:
        zygote.close()


def test_subgroups_are_tested_against_the_rest_corrected_said_and_stored(world):
    cfg, config, tmp, runner = world
    result = runner.invoke(app, ["impact", "--config", str(config), "--experiment", NAME,
                                 "--out", str(tmp / "sub" / "impact.html")])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "p (differs from rest)" in text and "p (corrected)" in text and "Holm's correction" in text
    line = next(x for x in text.splitlines() if x.startswith("subgroups: "))
    stored = read_subgroups(Warehouse.from_config(cfg), NAME)
    assert {"segment", "tier", "reason"} >= set(stored["dimension"]) >= {"segment", "tier"}
    assert set(stored["correction"]) == {"holm"}
    tested = stored[stored["p_interaction"].notna()]
    assert len(tested) and (tested["p_adjusted"] >= tested["p_interaction"] - 1e-12).all()
    assert (stored["significant"] == (stored["p_adjusted"] < 0.05).astype(int)).all()
    if not stored["significant"].any():
        assert "no subgroup differs from the rest of the experiment after Holm's correction" in line
    assert str(escape(line.removeprefix("subgroups: "))) in (tmp / "sub" / "impact.html").read_text()
    assigned = read_assignments(Warehouse.from_config(cfg), NAME)
    scores = pd.concat([Warehouse.from_config(cfg).scores(d) for d in DATES])
    first = {(r.account_id, r.as_of_date): (r.reasons["risk"][0]["group"] if r.reasons["risk"] else None)
             for r in scores.itertuples()}
    expected = {g for g in (first.get((a, d)) for a, d in zip(assigned["account_id"], assigned["assigned_date"]))}
    assert set(stored.loc[stored["dimension"] == "reason", "subgroup"]) <= {g or "(none)" for g in expected}


def test_results_and_subgroups_are_replaced_together_or_not_at_all(world):
    cfg, *_ = world
    store = Warehouse.from_config(cfg)
    before, subs = read_results(store, NAME), read_subgroups(store, NAME)
    day = pd.to_datetime(subs["as_of_date"]).dt.date.iloc[-1]  # a date with subgroup rows
    rows = before[pd.to_datetime(before["as_of_date"]).dt.date == day].assign(verdict="changed")
    bad = subs[pd.to_datetime(subs["as_of_date"]).dt.date == day].assign(correction=None)  # NOT NULL: the insert fails
    assert len(rows) and len(bad)
    with pytest.raises(Exception):
        write_results(store, rows, bad)
    pd.testing.assert_frame_equal(read_results(store, NAME), before)
    pd.testing.assert_frame_equal(read_subgroups(store, NAME), subs)
