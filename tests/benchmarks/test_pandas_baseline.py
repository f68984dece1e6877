"""The pandas and Featuretools baselines of ``make bench`` compute what the feature panel computes.

``benchmarks/results.md`` reports how much faster the relational panel is than
each baseline; that ratio means something only if both compute the same
thing. For every column a baseline produces, the baseline and
``build_features`` must agree on the same rows (the accounts active on each
as-of date), value for value, with the same missing values. The pandas baseline
must also compute every usage feature it does not say it leaves out.

Two worlds: the generated ``small_world`` and a copy of it with hand-placed
events at the window edges (the trend's two 30-day periods, events stamped at
T, quantity 0 and null, no user, no or rare event types, accounts whose only
events are 61-90 days old or who have none).
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks import featuretools_baseline, pandas_baseline
from pipeline.config import load_config
from pipeline.engine.featurize import build_features
from pipeline.engine.labels import snapshot_dates
from pipeline.io.sources import open_source

KEYS = ["account_id", "as_of"]
#: Usage features the baseline does not attempt (the panel computes them; the baseline says so).
NOT_IN_BASELINE = {"active_users_trend", "usage_slope"}
NOT_IN_BASELINE_PREFIX = ("events_per_user_",)
NOT_IN_BASELINE_SUFFIX = ("_vs_baseline", "_vs_all_accounts", "_vs_all_accounts_mean")


def _project(world, cfg) -> tuple[pd.DataFrame, list[str], list[date]]:
    """The project's feature table for every snapshot date, and its usage feature names."""
    with open_source(world) as source:
        dates = snapshot_dates(source, cfg)
        table = build_features(source, cfg, dates, with_labels=False)
    usage = [f.name for f in table.features if f.family == "usage"]
    return table.frame, usage, dates


def _compare(world, baseline_panel, complete: bool) -> list[str]:
    """Every difference between ``baseline_panel``'s frame and the project's on ``world``; empty when they agree.
    ``complete``: the baseline must compute every usage feature but those it says it leaves out."""
    cfg = load_config(None, {})
    project, usage, dates = _project(world, cfg)
    baseline = baseline_panel(world, dates)
    problems = []

    claimed = [c for c in baseline.columns if c not in KEYS]
    unknown = sorted(set(claimed) - set(project.columns))
    if unknown:
        problems.append(f"baseline columns the project does not compute: {unknown}")
    expected = {c for c in usage if c not in NOT_IN_BASELINE and not c.startswith(NOT_IN_BASELINE_PREFIX)
                and not c.endswith(NOT_IN_BASELINE_SUFFIX)}
    missing = sorted(expected - set(claimed))
    if missing and complete:
        problems.append(f"usage features the baseline no longer computes: {missing}")

    b = baseline.assign(account_id=baseline["account_id"].astype(str), as_of=pd.to_datetime(baseline["as_of"]).dt.date)
    p_keys = set(map(tuple, project[KEYS].itertuples(index=False)))
    b_keys = set(map(tuple, b[KEYS].itertuples(index=False)))
    if len(b_keys) != len(b):
        problems.append(f"baseline has {len(b) - len(b_keys)} duplicate (account_id, as_of) rows")
    if p_keys != b_keys:
        problems.append(f"rows: {len(b_keys - p_keys)} only in the baseline, {len(p_keys - b_keys)} only in the "
                        f"project (e.g. {sorted(b_keys ^ p_keys)[:3]})")

    merged = project.merge(b, on=KEYS, how="inner", suffixes=("", "__baseline"))
    for col in claimed:
        if col not in project.columns:
            continue
        want = merged[col].to_numpy(dtype="float64")
        got = pd.to_numeric(merged[f"{col}__baseline"], errors="coerce").to_numpy(dtype="float64")
        same_nan = np.isnan(want) == np.isnan(got)
        close = np.isclose(got, want, rtol=1e-9, atol=1e-9) | (np.isnan(want) & np.isnan(got))
        bad = ~(same_nan & close)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            problems.append(f"{col}: {int(bad.sum())} of {len(merged)} rows differ (e.g. {merged['account_id'].iat[i]} "
                            f"{merged['as_of'].iat[i]}: project {want[i]!r}, baseline {got[i]!r})")
    return problems


EDGE_EVENTS = [
    # (account, days before T, time of day, event type, user, quantity)
    ("E1", 0, "00:00:00", "login", "e1-u1", 1.0),       # stamped at T: unseen
    ("E1", 1, "23:59:59", "login", "e1-u1", 1.0),       # last day before T
    ("E1", 7, "00:00:00", "export", "e1-u2", 2.0),      # first day of the 7-day window
    ("E1", 8, "12:00:00", "export", "e1-u3", None),     # null quantity counts as 1
    ("E1", 30, "00:00:00", "login", None, 3.0),         # first day of the recent trend period
    ("E1", 31, "23:59:59", "comment", "e1-u4", 5.0),    # last day of the prior trend period
    ("E1", 60, "00:00:00", "comment", "e1-u4", 7.0),    # first day of the prior trend period
    ("E1", 61, "10:00:00", "login", "e1-u5", 11.0),     # before the prior trend period
    ("E1", 90, "00:00:00", "report_view", "e1-u6", 13.0),  # first day of the 90-day window
    ("E1", 91, "23:59:59", "report_view", "e1-u7", 17.0),  # outside every window
    ("E2", 75, "09:00:00", "login", "e2-u1", 4.0),      # only events 61-90 days back: trend 0 / 0
    ("E3", 3, "09:00:00", "login", "e3-u1", 0.0),       # quantity 0: a user, but no event, no active day
    ("E3", 3, "10:00:00", "Odd Type!", "e3-u2", 0.0),   # a rare event type with quantity 0
    ("E3", 40, "09:00:00", "login", "e3-u1", 2.0),
    ("E4", 5, "09:00:00", None, "e4-u1", 1.0),          # no event type
    ("E4", 45, "09:00:00", "Odd Type!", None, 0.0),     # only zero-quantity events before the trend period
    ("E6", 0, "00:00:00", "login", "e6-u1", 1.0),       # only at T: no usage before T
]


@pytest.fixture(scope="module")
def edge_world(small_world, tmp_path_factory):
    """``small_world`` plus accounts E1-E6, active on one snapshot date, with events at the window edges."""
    world = tmp_path_factory.mktemp("edge") / "world"
    shutil.copytree(small_world, world, ignore=shutil.ignore_patterns("_truth"))
    with open_source(world) as source:
        t = snapshot_dates(source, load_config(None, {}))[5]
    stamp = lambda back, clock: datetime.fromisoformat(f"{t - timedelta(days=back)} {clock}")  # noqa: E731
    schema = pq.read_schema(next((world / "usage_events").glob("*.parquet")))
    rows = [dict(account_id=a, occurred_at=stamp(back, clock), event_type=e, user_id=u, quantity=q)
            for a, back, clock, e, u, q in EDGE_EVENTS]
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), world / "usage_events" / "part-99999.parquet")
    subs = pd.read_csv(world / "subscriptions.csv", dtype=str, keep_default_na=False)
    start, end = t - timedelta(days=200), t + timedelta(days=20)
    extra = pd.DataFrame([dict(account_id=a, start_date=str(start), end_date=str(end), mrr="100.00", plan="Starter",
                               billing_term="monthly") for a in ["E1", "E2", "E3", "E4", "E5", "E6"]])  # E5: no events
    pd.concat([subs, extra[subs.columns]]).to_csv(world / "subscriptions.csv", index=False, lineterminator="\n")
    return world


BASELINES = [pytest.param(pandas_baseline.panel, True, id="pandas"),
             pytest.param(featuretools_baseline.panel, False, id="featuretools")]


@pytest.mark.parametrize("baseline_panel, complete", BASELINES)
def test_baseline_matches_features_on_generated_world(small_world, baseline_panel, complete):
    problems = _compare(small_world, baseline_panel, complete)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("baseline_panel, complete", BASELINES)
def test_baseline_matches_features_at_window_edges(edge_world, baseline_panel, complete):
    problems = _compare(edge_world, baseline_panel, complete)
    assert not problems, "\n".join(problems)
