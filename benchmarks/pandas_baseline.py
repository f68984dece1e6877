"""The usage features as a data scientist would write them by hand in pandas.

Load every event into memory, then for each snapshot date filter the lookback
and group by account per window. This is the baseline the relational panel
build is compared with in ``benchmarks/run.py``; it is not used by the pipeline.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd


def load_events(folder) -> pd.DataFrame:
    """All usage events of a world folder, with a ``day`` column."""
    events = pd.read_parquet(folder / "usage_events", columns=["account_id", "occurred_at", "event_type", "user_id", "quantity"])
    events["quantity"] = events["quantity"].fillna(1.0)
    events["day"] = events["occurred_at"].dt.normalize()
    return events


def usage_features(events: pd.DataFrame, as_of: date, windows=(7, 30, 90), trend=30) -> pd.DataFrame:
    """Usage features of every account with events, as of one date."""
    t = pd.Timestamp(as_of)
    recent = events[(events["day"] < t) & (events["day"] >= t - pd.Timedelta(days=max(max(windows), 2 * trend)))]
    out = pd.DataFrame(index=pd.Index(recent["account_id"].unique(), name="account_id"))
    for w in windows:
        win = recent[recent["day"] >= t - pd.Timedelta(days=w)]
        grouped = win.groupby("account_id")
        out[f"events_{w}d"] = grouped["quantity"].sum()
        out[f"active_days_{w}d"] = grouped["day"].nunique()
        out[f"active_users_{w}d"] = grouped["user_id"].nunique()
        by_type = win.pivot_table(index="account_id", columns="event_type", values="quantity", aggfunc="sum")
        for event_type in by_type.columns:
            out[f"events_{event_type}_{w}d"] = by_type[event_type]
        out[f"breadth_{w}d"] = grouped["event_type"].nunique()
    last = recent[recent["day"] >= t - pd.Timedelta(days=trend)].groupby("account_id")["quantity"].sum()
    before = recent[recent["day"] < t - pd.Timedelta(days=trend)].groupby("account_id")["quantity"].sum()
    out["events_trend"] = last.reindex(out.index).fillna(0) / before.reindex(out.index) - 1
    out["days_since_last_activity"] = (t - recent.groupby("account_id")["day"].max()).dt.days
    out = out.fillna({c: 0 for c in out.columns if c.startswith(("events_", "active_", "breadth_")) and c != "events_trend"})
    return out.reset_index().assign(as_of=as_of)


def panel(folder, dates: list[date]) -> pd.DataFrame:
    """The usage features for every snapshot date, the straightforward way."""
    events = load_events(folder)
    return pd.concat([usage_features(events, d) for d in dates], ignore_index=True)


def month_starts(first: date, last: date) -> list[date]:
    """First days of the months from ``first`` to ``last``."""
    return [d.date() for d in pd.date_range(first + timedelta(days=1), last, freq="MS")]
