"""Churn labels against an independent, day-by-day brute force."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from pipeline.engine import labels
from pipeline.config import load_config
from pipeline.io.sources import open_frames, open_source

CFG = load_config(None, {})
H, G = CFG.labels.horizon_days, CFG.labels.grace_days


def covered(rows, day):
    return any(s <= day and (e is None or pd.isna(e) or day < e) for s, e in rows)


def brute_force(subs: pd.DataFrame, dates: list[date]) -> dict[tuple[str, date], int]:
    """Label of every active (account, T) by walking the days of each coverage end."""
    out = {}
    for account, group in subs.groupby("account_id"):
        rows = list(zip(group.start_date, group.end_date))
        ends = {e for _, e in rows if e is not None and not pd.isna(e)}
        churns = {e for e in ends if not any(covered(rows, e + timedelta(days=k)) for k in range(G + 1))}
        for t in dates:
            if covered(rows, t):
                out[(account, t)] = int(any(t < e <= t + timedelta(days=H) for e in churns))
    return out


def computed(source, dates, end):
    spine = labels.spine(source, dates)
    frame = labels.labels(source, spine, CFG, end).execute()
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    return {(a, t): int(c) for a, t, c in zip(frame.account_id, frame.as_of, frame.churned)}


def subs_frame(rows):
    frame = pd.DataFrame(rows, columns=["account_id", "start_date", "end_date", "mrr", "plan"])
    return frame


def test_churn_then_return_within_and_beyond_grace():
    d = date
    subs = subs_frame([
        ("back_in_grace", d(2024, 1, 1), d(2024, 3, 1), 10.0, "p"),
        ("back_in_grace", d(2024, 3, 31), None, 10.0, "p"),  # 30 days later: within grace
        ("back_too_late", d(2024, 1, 1), d(2024, 3, 1), 10.0, "p"),
        ("back_too_late", d(2024, 4, 1), None, 10.0, "p"),  # 31 days later: churned on 3/1
        ("renews", d(2024, 1, 1), d(2024, 3, 1), 10.0, "p"),
        ("renews", d(2024, 3, 1), d(2025, 3, 1), 12.0, "p"),
        ("overlap", d(2024, 1, 1), d(2024, 3, 1), 10.0, "p"),
        ("overlap", d(2024, 2, 1), d(2024, 6, 1), 10.0, "p"),  # covers 3/1: ends on 6/1
    ])
    accounts = pd.DataFrame({"account_id": subs.account_id.unique()})
    with open_frames({"subscriptions": subs, "accounts": accounts}) as source:
        got = computed(source, [d(2024, 2, 1), d(2024, 4, 1)], d(2025, 1, 1))
    assert got[("back_in_grace", d(2024, 2, 1))] == 0
    assert got[("back_too_late", d(2024, 2, 1))] == 1
    assert got[("back_too_late", d(2024, 4, 1))] == 0  # a subscription starting on T covers T
    assert got[("renews", d(2024, 2, 1))] == 0
    assert got[("overlap", d(2024, 2, 1))] == 0 and got[("overlap", d(2024, 4, 1))] == 1


def test_labels_match_brute_force_on_a_generated_world(small_world):
    with open_source(small_world) as source:
        end = labels.data_end(source)
        dates = labels.snapshot_dates(source, CFG, end)
        got = computed(source, dates, end)
        subs = source.table("subscriptions").execute()
    for col in ("start_date", "end_date"):
        subs[col] = [None if pd.isna(v) else pd.Timestamp(v).date() for v in subs[col]]
    expected = brute_force(subs, dates)
    assert got == expected
    assert sum(expected.values()) > 10, "the world should hold churners"


@pytest.mark.parametrize("frequency, step", [("monthly", 28), ("weekly", 7)])
def test_snapshot_dates_follow_frequency(small_world, frequency, step):
    cfg = load_config(None, {"snapshots.frequency": frequency})
    with open_source(small_world) as source:
        dates = labels.snapshot_dates(source, cfg)
        end = labels.data_end(source)
    assert dates and dates[-1] <= end
    assert all(b - a >= timedelta(days=step) for a, b in zip(dates, dates[1:]))
