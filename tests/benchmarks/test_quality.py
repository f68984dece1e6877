"""Tests of the ``make quality`` harness (``benchmarks/quality.py``): metrics, split, failure recording, one world end to end."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import quality, quality_eval as qe, quality_report

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ metrics and split
def test_top_decile_lift_is_per_snapshot_with_shared_ties():
    frame = pd.DataFrame({
        "as_of": ["a"] * 10 + ["b"] * 10,
        "churned": [1] + [0] * 9 + [0] * 9 + [1],
        "score": list(range(10, 0, -1)) + [1.0] * 10,  # snapshot b: every score tied
    })
    # a: the top row churned (1 hit of 1 place); b: the one churner gets a 1/10 share of the place
    assert qe.top_decile_lift(frame, "score") == pytest.approx((1 + 0.1) / 2 / 0.1)


def test_ece_of_perfect_and_biased_probabilities():
    y = np.array([0, 1] * 500)
    assert qe.ece(y, np.full(1000, 0.5)) == pytest.approx(0.0)
    assert qe.ece(y, np.full(1000, 0.7)) == pytest.approx(0.2)


def test_split_uses_only_labels_closed_before_the_first_test_date():
    dates = pd.date_range("2024-01-01", periods=12, freq="MS")
    panel = pd.DataFrame({"as_of": dates, "label_observed": [True] * 9 + [False] * 3})
    cutoff, train, test = qe.split(panel, window_days=120, test_snapshots=3)
    assert cutoff == pd.Timestamp("2024-07-01")
    assert [pd.Timestamp(d) for d in test] == list(dates[6:9])
    assert all(pd.Timestamp(d) + pd.Timedelta(days=120) < cutoff for d in train)
    assert pd.Timestamp(train[-1]) == pd.Timestamp("2024-03-01")
    with pytest.raises(ValueError, match="too few"):
        qe.split(panel, 120, test_snapshots=9)


def test_world_configs_overlay_the_project_config(tmp_path):
    specs = quality.zoo()
    assert set(specs) >= {"demo", "monthly", "annual", "short", "growth", "seasonal", "anytime", "minimal",
                          "vocab", "fightchurn"}
    _, cfg = quality.world_config(specs["fightchurn"], tmp_path)
    assert {k: cfg["labels"][k] for k in ("horizon_days", "grace_days")} == {"horizon_days": 30, "grace_days": 0}
    assert cfg["snapshots"]["frequency"] == "weekly"
    assert cfg["features"]["attributes"]["categorical"] == ["country"]
    assert cfg["features"]["usage"]["windows"]  # kept from configs/pipeline.yaml
    assert cfg["tracking"]["uri"].startswith("sqlite:///") and str(tmp_path) in cfg["tracking"]["uri"]


def test_misses_name_the_targets():
    res = {"world": "x", "status": "ok", "model": {"auc": 0.80, "ece": 0.03, "lift10": 3.0},
           "oracle": {"auc": 0.90}, "plain": {"auc": 0.82}, "health": {"auc": 0.70},
           "registry": {"promotion": "challenger"}}
    text = "; ".join(quality_report.misses(res))
    assert "x oracle" in text and "vs plain" in text and "ECE" in text and "not promoted" in text
    good = {**res, "model": {"auc": 0.89, "ece": 0.01}, "registry": {"promotion": "champion"}}
    assert quality_report.misses(good) == []


def test_driver_ceiling_learns_from_the_true_pushes_not_the_features(tmp_path):
    rng = np.random.default_rng(0)
    n = 4000
    rows = pd.DataFrame({"account_id": [f"A{i}" for i in range(n)], "as_of": pd.Timestamp("2024-01-01"),
                         "events_30d": rng.random(n), "days_to_renewal": rng.integers(0, 365, n)})
    push = rng.exponential(1.0, n)
    rows["churned"] = rng.random(n) < 1 / (1 + np.exp(-(3 * push - 4)))  # the features say nothing of it
    truth = pd.DataFrame({"account_id": rows["account_id"], "as_of_date": rows["as_of"].dt.date,
                          "push_usage_decline": push, "push_unpredictable": rng.random(n)})
    truth.to_parquet(tmp_path / "truth.parquet")
    known, test = rows.iloc[:3000], rows.iloc[3000:]
    ceiling = qe.driver_ceiling(known, test, tmp_path / "truth.parquet")
    plain = qe.plain_lightgbm(known, test)
    auc = lambda p: qe.roc_auc_score(test["churned"], p)  # noqa: E731
    assert auc(ceiling) > 0.75 and auc(plain) < 0.6
    truth.drop(columns="push_usage_decline").assign(push_unpredictable=0.0).to_parquet(tmp_path / "old.parquet")
    assert qe.driver_ceiling(known, test, tmp_path / "old.parquet") is None  # only the unpredictable part


# ------------------------------------------------------------------ end to end
FAKE_CLI = """
    import subprocess, sys
    if sys.argv[1] == "train":
        print("building the snapshot panel ...", file=sys.stderr)
        print("error: not enough history for an out-of-time backtest: 2 usable snapshot dates", file=sys.stderr)
        sys.exit(2)
    sys.exit(subprocess.call([sys.executable, "-m", "pipeline.cli", *sys.argv[1:]]))
"""


def test_a_failed_training_is_recorded_not_raised(tmp_path):
    fake = tmp_path / "fake_churn.py"
    fake.write_text(textwrap.dedent(FAKE_CLI))
    out = tmp_path / "out"
    quality.main(["--worlds", "minimal", "--quick", "--accounts", "200", "--out-dir", str(out),
                  "--churn", f"{sys.executable} {fake}"])
    result = json.loads((out / "quality.json").read_text())["worlds"][0]
    assert result["status"] == "train failed"
    assert result["error"].startswith("not enough history")
    assert result["plain"]["auc"] > 0.5 and result["oracle"]["auc"] > 0.5 and result["health"]["auc"]
    md = (out / "quality.md").read_text()
    assert "| minimal |" in md and "train failed: not enough history" in md


@pytest.mark.slow
def test_harness_runs_one_tiny_world_end_to_end(tmp_path):
    out = tmp_path / "out"
    quality.main(["--worlds", "demo", "--quick", "--accounts", "250", "--out-dir", str(out),
                  "--keep", str(tmp_path / "keep")])
    report = json.loads((out / "quality.json").read_text())
    (res,) = report["worlds"]
    assert res["status"] == "ok", res.get("error")
    assert res["split"]["train_snapshots"] >= 6 and len(res["split"]["test_dates"]) == 3
    assert res["data"]["test_rows"] > 300 and res["oracle"]["coverage"] == 1.0
    for scorer in ("model", "oracle", "plain", "health", "drivers"):
        assert 0.5 < res[scorer]["auc"] <= 1.0, scorer
    assert 0 <= res["model"]["ece"] < 0.5 and res["model"]["lift10"] > 1
    assert res["registry"]["promotion"] in ("champion", "challenger")
    md = (out / "quality.md").read_text()
    assert md.count("| demo |") == 2 and "### demo" in md  # the zoo table and the reasons table
    assert (tmp_path / "keep" / "demo" / "train.log").exists()
    from benchmarks import quality_drift  # the drift check again on the kept run, references recorded anew

    assert quality_drift.main(["--keep", str(tmp_path / "keep"), "--report", str(out / "quality.json"),
                               "--out", str(tmp_path / "drift.md")]) == 0
    assert "| demo |" in (tmp_path / "drift.md").read_text()


def test_the_addons_world_written_as_one_line_per_period_keeps_only_its_base_lines(tmp_path):
    from pipeline.synthetic import generate_world

    both, one = tmp_path / "addons", tmp_path / "one"
    for folder in (both, one):
        generate_world(folder, accounts=120, seed=3, preset="addons")
    assert "one line per period" in quality.drop_addon_lines(one, ("Meetings", "Storage"))
    lines, base = pd.read_csv(both / "subscriptions.csv"), pd.read_csv(one / "subscriptions.csv")
    assert lines["plan"].isin(["Meetings", "Storage"]).any() and not base["plan"].isin(["Meetings", "Storage"]).any()
    kept = lines[~lines["plan"].isin(["Meetings", "Storage"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, base)
    assert quality.zoo()["addons-one-line"].preset == "addons"


def test_billing_lines_section_compares_the_two_writings_of_the_addons_world():
    worlds = [{"world": "addons", "model": {"auc": 0.850}}, {"world": "addons-one-line", "model": {"auc": 0.852}}]
    text = "\n".join(quality_report.lines_table(worlds))
    assert "| 0.850 | 0.852 | -0.002 | met |" in text
    worlds[0]["model"]["auc"] = 0.845
    assert "missed" in "\n".join(quality_report.lines_table(worlds))
    assert quality_report.lines_table(worlds[:1]) == []


# ------------------------------------------------------------------ fight-churn's simulator, converted
def _fightchurn_schema(url: str, schema: str) -> None:
    """A tiny socialnet7-like schema in the simulator's layout (account, subscription, event_type, event)."""
    from benchmarks.worlds import fightchurn

    fightchurn.ensure_database(url)
    with fightchurn._connect(url) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        con.execute(f"CREATE SCHEMA {schema}")
        con.execute(f"CREATE TABLE {schema}.account (id int, channel text, date_of_birth date, country text)")
        con.execute(f"""CREATE TABLE {schema}.subscription (account_id int, product text, start_date date,
            end_date date, mrr double precision, quantity double precision, units text,
            bill_period_months int, discount double precision)""")
        con.execute(f"CREATE TABLE {schema}.event_type (event_type_id int, event_type_name text)")
        con.execute(f"""CREATE TABLE {schema}.event (account_id int, event_time timestamp, event_type_id int,
            user_id int, event_value numeric)""")
        con.execute(f"INSERT INTO {schema}.account VALUES (1, 'web', '1980-05-01', 'US'), "
                    f"(2, 'appstore1', '1990-01-01', NULL)")
        con.execute(f"""INSERT INTO {schema}.subscription VALUES
            (1, 'basic', '2020-01-10', '2020-02-10', 10, NULL, NULL, 1, 0),
            (1, 'basic', '2020-02-10', '2020-03-10', 10, NULL, NULL, 1, 0),
            (2, 'basic', '2020-01-05', '2020-02-05', 10, NULL, NULL, 1, 0),
            (2, 'basic', '2020-02-05', '2020-03-05', 10, NULL, NULL, 1, 0),
            (2, 'basic', '2020-03-05', '2020-04-05', 10, NULL, NULL, 1, 0)""")
        con.execute(f"INSERT INTO {schema}.event_type VALUES (0, 'post'), (1, 'like')")
        con.execute(f"""INSERT INTO {schema}.event
            SELECT 1, d + interval '13 hours', (extract(day FROM d)::int % 2), 0, NULL::numeric
            FROM generate_series(timestamp '2020-01-10', timestamp '2020-03-09', interval '1 day') d
            UNION ALL
            SELECT 2, d + interval '9 hours', 1, 0, NULL::numeric
            FROM generate_series(timestamp '2020-01-05', timestamp '2020-04-04', interval '1 day') d""")


@pytest.mark.postgres
def test_fightchurn_export_meets_the_contract(tmp_path, pg_url):
    from benchmarks.worlds import fightchurn

    url, schema = fightchurn.DB_URL, f"fc_test_{os.getpid()}"
    _fightchurn_schema(url, schema)
    try:
        counts = fightchurn.export(tmp_path / "world", end="2020-04-01", url=url, schema=schema)
    finally:
        fightchurn.drop_schema(url, schema)
    world = tmp_path / "world"
    assert counts == {"accounts": 2, "subscriptions": 5, "usage_events": 60 + 87, "churned_accounts": 1}
    assert not any((world / f"{t}.csv").exists() for t in ("support_tickets", "milestones", "nps_responses"))
    subs = pd.read_csv(world / "subscriptions.csv")
    running = subs[(subs.account_id == 2) & (subs.start_date == "2020-03-05")]
    assert running.end_date.isna().all()  # its renewal falls after the data end: unknown then
    accounts = pd.read_csv(world / "accounts.csv").set_index("account_id")
    assert accounts.loc[1, "created_at"] == "2020-01-10 00:00:00" and accounts.loc[2, "segment"] == "appstore1"
    assert accounts.loc[1, "age_at_signup"] == 39
    events = pd.read_parquet(world / "usage_events" / "part-00000.parquet")
    assert events.occurred_at.max() < pd.Timestamp("2020-04-01") and set(events.event_type) == {"post", "like"}
    run = subprocess.run([sys.executable, "-m", "pipeline.cli", "validate", "--data", str(world),
                          "--config", str(ROOT / "benchmarks" / "worlds" / "fightchurn.yaml")],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.postgres
@pytest.mark.slow
def test_fightchurn_simulator_end_to_end(tmp_path, pg_url):
    from benchmarks.worlds import fightchurn

    if fightchurn.simulator_python() is None:
        pytest.skip("fightchurn's venv is not set up (python -m benchmarks.worlds.fightchurn --setup)")
    info = fightchurn.build(tmp_path / "world", customers=40, seed=1, progress=lambda msg: None)
    assert info["tables"]["accounts"] >= 40 and info["tables"]["usage_events"] > 10_000
    run = subprocess.run([sys.executable, "-m", "pipeline.cli", "validate", "--data", str(tmp_path / "world")],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
