"""Tests of the generator's named worlds (``pipeline.synthetic.presets``): each is what it says."""
from __future__ import annotations

import hashlib
from datetime import date
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

from pipeline.config import load_config
from pipeline.engine.featurize import build_features
from pipeline.io.sources import open_source
from pipeline.synthetic import generate_world
from pipeline.synthetic.params import EVENT_TYPES, MILESTONES
from pipeline.synthetic.presets import PRESETS, get_preset, preset_names, world_params

SMALL = dict(accounts=300, seed=5, chunk_accounts=150)
OPTIONAL = ("support_tickets", "milestones", "nps_responses")
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    """Every preset, generated once at 300 accounts."""
    base = tmp_path_factory.mktemp("zoo")
    return {name: (base / name, generate_world(base / name, preset=name, **SMALL)) for name in preset_names()}


def _read(folder: Path, table: str) -> pd.DataFrame:
    if table == "usage_events":
        return pd.concat([pq.read_table(p).to_pandas() for p in sorted((folder / table).glob("*.parquet"))])
    return pd.read_csv(folder / f"{table}.csv", keep_default_na=False, na_values=[""])


def _truth(folder: Path) -> tuple[pd.DataFrame, dict]:
    truth = pq.read_table(folder / "_truth" / "truth.parquet").to_pandas()
    return truth, json.loads((folder / "_truth" / "world.json").read_text())


def _churns(subs: pd.DataFrame, grace: int = 30) -> pd.DataFrame:
    """Churn events per the contract: coverage ends, nothing starts again within the grace period."""
    s = subs.assign(start=pd.to_datetime(subs.start_date), end=pd.to_datetime(subs.end_date))
    s = s.sort_values(["account_id", "start", "end"])
    far = pd.Timestamp("2262-01-01")
    s["end"] = s.end.fillna(far).groupby(s.account_id).cummax()  # coverage so far (add-on lines beside the base)
    s["nxt"] = s.groupby("account_id")["start"].shift(-1)
    hit = (s.end < far) & (s.nxt.isna() | (s.nxt > s.end + pd.Timedelta(days=grace)))
    return s[hit]


# ------------------------------------------------------------------- the catalogue

def test_catalogue_names_and_descriptions():
    assert preset_names()[0] == "demo"
    assert set(preset_names()) == {"demo", "monthly", "annual", "short", "growth", "seasonal", "summer", "anytime",
                                   "minimal", "vocab", "outreach", "outreach-varied", "addons"}
    assert all(p.description for p in PRESETS.values())
    assert get_preset("demo").params == {} and world_params("demo") == world_params()


def test_unknown_names_are_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown world preset 'nope'.*monthly"):
        generate_world(tmp_path, accounts=10, days=30, preset="nope")
    with pytest.raises(ValueError, match="unknown WorldParams field"):
        world_params("demo", {"no_such_knob": 1})
    with pytest.raises(ValueError, match="event mixes"):
        world_params("demo", {"event_types": ("a", "b")})


def test_demo_preset_is_the_default_world(tmp_path):
    def digest(folder):
        return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "world.json"}

    generate_world(tmp_path / "a", accounts=120, days=120, seed=1)
    generate_world(tmp_path / "b", accounts=120, days=120, seed=1, preset="demo")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")


def test_explicit_arguments_and_params_win_over_the_preset(tmp_path):
    summary = generate_world(tmp_path, accounts=80, days=100, seed=1, preset="short",
                             params={"truth_horizon_days": 14})
    meta = json.loads((tmp_path / "_truth" / "world.json").read_text())
    assert meta["days"] == 100 and meta["preset"] == "short" and summary["preset"] == "short"
    assert meta["horizon_days"] == 14 and meta["truth_frequency"] == "weekly"


def test_stale_optional_tables_are_removed(tmp_path):
    generate_world(tmp_path, accounts=60, days=90, seed=1)
    assert (tmp_path / "support_tickets.csv").exists()
    generate_world(tmp_path, accounts=60, days=90, seed=1, preset="minimal")
    assert not any((tmp_path / f"{t}.csv").exists() for t in OPTIONAL)


# ------------------------------------------------------------------- every world

@pytest.mark.parametrize("name", preset_names())
def test_every_world_meets_the_contract(worlds, name):
    folder, _ = worlds[name]
    run = subprocess.run([sys.executable, "-m", "pipeline.cli", "validate", "--data", str(folder)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("name", preset_names())
def test_every_world_keeps_its_truth(worlds, name):
    folder, summary = worlds[name]
    truth, meta = _truth(folder)
    assert meta["preset"] == name and meta["oracle"] == "true_churn_prob"
    assert truth.true_churn_prob.between(0, 1).all() and truth.true_churn_prob.notna().all()
    assert not truth.duplicated(["account_id", "as_of_date"]).any()
    days = pd.to_datetime(truth.as_of_date.unique())
    if meta["truth_frequency"] == "weekly":
        assert (days.dayofweek == 0).all()
    else:
        assert (days.day == 1).all()
    # labels close before the end of the period for at least half of the snapshots
    closed = pd.to_datetime(truth.as_of_date) + pd.Timedelta(days=meta["horizon_days"] + 30) \
        < pd.Timestamp(summary["data_end"])
    labelled = truth[closed]
    assert labelled.churned_in_horizon.sum() >= 10
    assert roc_auc_score(labelled.churned_in_horizon, labelled.true_churn_prob) > 0.65
    # the recorded labels follow from the subscriptions, with the world's own horizon
    churns = _churns(_read(folder, "subscriptions"))
    horizon = pd.Timedelta(days=meta["horizon_days"])
    merged = labelled.assign(as_of=pd.to_datetime(labelled.as_of_date)).merge(
        churns[["account_id", "end"]], on="account_id", how="left")
    merged["hit"] = (merged.end > merged.as_of) & (merged.end <= merged.as_of + horizon)
    expected = merged.groupby(["account_id", "as_of"]).hit.any()
    got = labelled.set_index(["account_id", pd.to_datetime(labelled.as_of_date).rename("as_of")]).churned_in_horizon
    assert (expected.reindex(got.index) == got).all()


# ------------------------------------------------------------------- each world is what it says

def test_minimal_has_no_optional_tables(worlds):
    folder, summary = worlds["minimal"]
    assert not any((folder / f"{t}.csv").exists() for t in OPTIONAL)
    assert set(summary["tables"]) >= {"accounts", "subscriptions", "usage_events"}
    assert not set(summary["tables"]) & set(OPTIONAL)
    meta = json.loads((folder / "_truth" / "world.json").read_text())
    assert meta["params"]["optional_tables"] == []
    assert all((worlds["demo"][0] / f"{t}.csv").exists() for t in OPTIONAL)


@pytest.mark.parametrize("name, term", [("monthly", "monthly"), ("annual", "annual")])
def test_single_term_worlds(worlds, name, term):
    folder, _ = worlds[name]
    assert set(_read(folder, "subscriptions").billing_term) == {term}
    assert set(_read(folder, "accounts").billing_term) == {term}


def test_vocab_world_speaks_another_language(worlds):
    folder, _ = worlds["vocab"]
    events = set(_read(folder, "usage_events").event_type)
    milestones = set(_read(folder, "milestones").milestone)
    assert len(events) >= 8 and not events & set(EVENT_TYPES)
    assert len(milestones) == 4 and not milestones & set(MILESTONES)
    usage = _read(folder, "usage_events")
    assert usage.loc[usage.event_type == "calendar_sync", "user_id"].isna().all()
    assert (usage.loc[usage.event_type == "webhook_delivery", "quantity"] > 1).any()
    demo_mix = _read(worlds["demo"][0], "usage_events").event_type.value_counts(normalize=True)
    assert demo_mix.max() < 0.35 and usage.event_type.value_counts(normalize=True)["page_view"] > 0.2


def test_short_world_has_six_months_and_weekly_truth(worlds):
    folder, summary = worlds["short"]
    span = pd.Timestamp(summary["data_end"]) - pd.Timestamp(summary["data_start"])
    assert span.days == 183
    usage = _read(folder, "usage_events")
    assert usage.occurred_at.max() < pd.Timestamp(summary["data_end"])
    truth, meta = _truth(folder)
    assert meta["horizon_days"] == 30 and truth.as_of_date.nunique() >= 25


def test_growth_world_adds_many_accounts_late(worlds):
    def late_share(name):
        folder, summary = worlds[name]
        created = pd.to_datetime(_read(folder, "accounts").created_at)
        start, end = pd.Timestamp(summary["data_start"]), pd.Timestamp(summary["data_end"])
        return (created >= start + (end - start) / 2).mean()

    assert late_share("growth") > 0.5 and late_share("growth") > 2 * late_share("demo")


def test_seasonal_world_dips_in_summer_and_churns_in_december(tmp_path):
    folder = tmp_path / "seasonal"
    generate_world(folder, accounts=600, seed=3, preset="seasonal", start_date="2024-01-01", days=731)
    usage = _read(folder, "usage_events")
    per_month = usage.groupby(usage.occurred_at.dt.month).size()
    assert per_month[[7, 8]].mean() < 0.8 * per_month[[3, 4, 10]].mean()
    truth, _ = _truth(folder)
    month = pd.to_datetime(truth.as_of_date).dt.month
    assert truth[month.isin([10, 11, 12])].true_churn_prob.mean() \
        > 1.3 * truth[month.isin([4, 5, 6])].true_churn_prob.mean()


def test_summer_world_halves_usage_in_its_shutdown_and_leaves_churn_alone(worlds):
    def daily(name, first, last):
        folder, _ = worlds[name]
        usage = _read(folder, "usage_events").reset_index(drop=True)
        day = usage.occurred_at.dt.strftime("%m-%d")
        weekday = usage.occurred_at.dt.dayofweek < 5
        return usage[weekday & (day >= first) & (day <= last)].groupby(usage.occurred_at.dt.date).size().mean()

    shutdown, june = daily("summer", "07-21", "08-10"), daily("summer", "06-01", "06-30")
    assert shutdown < 0.6 * june  # halved (a weekday inside the lull against a June weekday)
    assert daily("demo", "07-21", "08-10") > 0.8 * daily("demo", "06-01", "06-30")
    assert _truth(worlds["summer"][0])[0].true_churn_prob.mean() == pytest.approx(
        _truth(worlds["demo"][0])[0].true_churn_prob.mean(), rel=0.1)


def test_anytime_world_churns_between_renewals(worlds):
    def off_anniversary(name):
        folder, summary = worlds[name]
        churns = _churns(_read(folder, "subscriptions"))
        churns = churns[churns.end < pd.Timestamp(summary["data_end"]) - pd.Timedelta(days=30)]
        return (churns.end.dt.day != churns.start.dt.day).mean(), len(churns)

    share_demo, n_demo = off_anniversary("demo")
    share_any, n_any = off_anniversary("anytime")
    assert n_demo >= 20 and n_any >= 20
    assert share_demo < 0.1  # at renewals: the month anniversary of the row (or its clamped end)
    assert share_any > 0.5


def test_cli_generates_a_preset_and_refuses_an_unknown_one(tmp_path):
    cli = [sys.executable, "-m", "pipeline.cli", "generate", "--accounts", "40", "--days", "90"]
    made = subprocess.run([*cli, "--out", str(tmp_path / "w"), "--preset", "minimal"], capture_output=True,
                          text=True, cwd=ROOT)
    assert made.returncode == 0, made.stderr
    assert "preset=minimal" in made.stdout and (tmp_path / "w" / "accounts.csv").exists()
    assert not any((tmp_path / "w" / f"{t}.csv").exists() for t in OPTIONAL)
    bad = subprocess.run([*cli, "--out", str(tmp_path / "x"), "--preset", "nope"], capture_output=True, text=True,
                         cwd=ROOT)
    assert bad.returncode == 2 and "'nope'" in bad.stderr and "minimal" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x").exists()


def test_addons_world_writes_base_and_add_on_lines_beside_the_demo_world(worlds):
    folder, _ = worlds["addons"]
    subs, demo = _read(folder, "subscriptions"), _read(worlds["demo"][0], "subscriptions")
    addons = subs.plan.isin(["Meetings", "Storage"])
    assert addons.sum() > 50 and set(subs.billing_period_months) == {1, 12}
    assert set(subs.loc[addons & (subs.billing_term == "monthly"), "billing_period_months"]) == {1}
    base = subs[~addons].drop(columns="billing_period_months").reset_index(drop=True)
    pd.testing.assert_frame_equal(base, demo)  # the same world: only the add-on lines are new
    both = subs[addons].merge(subs[~addons], on="account_id", suffixes=("", "_base"))
    beside = (both.start_date >= both.start_date_base) & (
        both.end_date_base.isna() | (both.start_date < both.end_date_base))
    assert beside.groupby([both.account_id, both.plan, both.start_date]).any().all()  # never without a base line
    run = subprocess.run([sys.executable, "-m", "pipeline.cli", "validate", "--data", str(folder)],
                         capture_output=True, text=True, cwd=ROOT)
    assert "0 errors, 0 warnings" in run.stdout + run.stderr  # add-on lines are no overlaps


def test_addons_world_reads_its_plan_from_the_base_line(worlds):
    folder, _ = worlds["addons"]
    cfg = load_config(None)
    when = date(2025, 6, 1)
    with open_source(str(folder)) as source:
        got = build_features(source, cfg, [when], with_labels=False, end=when).frame
    with open_source(str(worlds["demo"][0])) as source:
        demo = build_features(source, cfg, [when], with_labels=False, end=when).frame
    got = got.set_index("account_id")
    demo = demo.set_index("account_id").reindex(got.index)
    assert not got.plan.isin(["Meetings", "Storage"]).any() and (got.plan == demo.plan).all()
    assert (got.addon_lines > 0).sum() > 20 and (demo.addon_lines == 0).all()
    assert (got.mrr >= demo.mrr).all() and (got.mrr > demo.mrr).any()
