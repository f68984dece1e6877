"""The usage features as a data scientist would write them by hand in pandas.

Load every event into memory, then for each snapshot date filter the lookback
and group by account per window. This is the baseline the relational panel
build is compared with in ``benchmarks/run.py``; it is not used by the pipeline.

It computes, for the same rows (every account whose subscription covers the
as-of date T) and with the same configuration (``features.usage`` of
``configs/pipeline.yaml``), exactly what these definitions of
``features/usage.py`` compute; ``tests/benchmarks/test_pandas_baseline.py``
checks it against ``build_features``:

- ``events_{w}d``, ``events_{type}_{w}d``: sum of quantity (null = 1) of the
  events stamped in the ``w`` days before T (``T - w <= day < T``), for the
  event types of the project's vocabulary (the ``max_event_types`` most
  frequent, column names as the project writes them);
- ``active_days_{w}d``: days in the window whose events sum to more than 0;
- ``active_users_{w}d``: distinct non-null users with an event in the window;
- ``breadth_{w}d``: event types of the vocabulary whose events sum to more than 0;
- ``events_trend``: events in the last ``trend_days`` days over the
  ``trend_days`` days before (``T - 2 * trend_days <= day < T - trend_days``),
  minus 1; missing when the earlier period sums to 0;
- ``days_since_last_activity``: days from the last day with events summing to
  more than 0 to T; the lookback + 1 (91) when there is none in the lookback.

Not computed (the panel does compute them): ``active_users_trend``,
``usage_slope``, ``events_per_user_{w}d``, ``events_{w}d_vs_baseline`` and
``events_{w}d_vs_all_accounts`` and the ``*_vs_all_accounts_mean`` levels.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from pipeline.config import Config


def load_events(folder) -> pd.DataFrame:
    """All usage events of a world folder, with a ``day`` column."""
    events = pd.read_parquet(Path(folder) / "usage_events",
                             columns=["account_id", "occurred_at", "event_type", "user_id", "quantity"])
    events["quantity"] = events["quantity"].fillna(1.0)
    events["day"] = events["occurred_at"].dt.normalize()
    return events


def load_subscriptions(folder) -> pd.DataFrame:
    """The subscriptions of a world folder (``subscriptions.csv`` or ``.parquet``), dates as timestamps."""
    folder = Path(folder)
    csv = folder / "subscriptions.csv"
    subs = pd.read_csv(csv, dtype={"account_id": str}) if csv.exists() else pd.read_parquet(
        folder / "subscriptions.parquet")
    subs["account_id"] = subs["account_id"].astype(str)
    for col in ("start_date", "end_date"):
        subs[col] = pd.to_datetime(subs[col])
    return subs


def active_accounts(subs: pd.DataFrame, as_of: date) -> pd.Index:
    """Accounts with a subscription covering ``as_of`` (started on or before it, not ended by it)."""
    t = pd.Timestamp(as_of)
    covers = (subs["start_date"] <= t) & (subs["end_date"].isna() | (subs["end_date"] > t))
    return pd.Index(subs.loc[covers, "account_id"].unique(), name="account_id")


def event_type_columns(events: pd.DataFrame, cfg: Config) -> dict[str, str]:
    """Event type -> column fragment, as the project resolves its vocabulary."""
    from pipeline.engine.catalog import Vocabulary

    usage = cfg.features.usage
    if usage.event_types != "auto":
        return Vocabulary.of(list(usage.event_types), []).event_types
    counts = events.groupby("event_type", dropna=False, observed=True).size().rename("n").reset_index()
    counts = counts.sort_values(["n", "event_type"], ascending=[False, True])
    types = [t for t in counts["event_type"].head(usage.max_event_types) if not pd.isna(t)]
    return Vocabulary.of(types, []).event_types


def usage_features(events: pd.DataFrame, as_of: date, accounts: pd.Index, types: dict[str, str],
                   windows=(7, 30, 90), trend=30, lookback=90) -> pd.DataFrame:
    """Usage features of ``accounts`` as of one date (see the module docstring)."""
    t = pd.Timestamp(as_of)
    recent = events[(events["day"] < t) & (events["day"] >= t - pd.Timedelta(days=lookback))]
    recent = recent[recent["account_id"].isin(accounts)]
    daily = recent.groupby(["account_id", "day"], observed=True)["quantity"].sum().reset_index()
    active = daily[daily["quantity"] > 0]
    out = pd.DataFrame(index=accounts)
    for w in windows:
        start = t - pd.Timedelta(days=w)
        win = recent[recent["day"] >= start]
        grouped = win.groupby("account_id", observed=True)
        out[f"events_{w}d"] = grouped["quantity"].sum()
        out[f"active_days_{w}d"] = active[active["day"] >= start].groupby("account_id", observed=True).size()
        out[f"active_users_{w}d"] = grouped["user_id"].nunique()
        by_type = win.pivot_table(index="account_id", columns="event_type", values="quantity", aggfunc="sum",
                                  observed=True)
        by_type.columns = by_type.columns.astype(str)
        by_type = by_type.reindex(index=accounts, columns=list(types)).fillna(0.0)
        for event_type, name in types.items():
            out[f"events_{name}_{w}d"] = by_type[event_type]
        out[f"breadth_{w}d"] = (by_type > 0).sum(axis=1)
    last = recent[recent["day"] >= t - pd.Timedelta(days=trend)].groupby("account_id", observed=True)["quantity"].sum()
    prior = recent[(recent["day"] < t - pd.Timedelta(days=trend)) & (recent["day"] >= t - pd.Timedelta(days=2 * trend))]
    before = prior.groupby("account_id", observed=True)["quantity"].sum().reindex(accounts)
    out["events_trend"] = last.reindex(accounts).fillna(0) / before.where(before != 0) - 1
    out["days_since_last_activity"] = (t - active.groupby("account_id", observed=True)["day"].max()).dt.days
    out = out.fillna({c: 0 for c in out.columns if c.startswith(("events_", "active_", "breadth_")) and c != "events_trend"})
    out["days_since_last_activity"] = out["days_since_last_activity"].fillna(lookback + 1)
    return out.reset_index().assign(as_of=as_of)


def panel(folder, dates: list[date], cfg: Config | None = None) -> pd.DataFrame:
    """The usage features for every snapshot date, the straightforward way."""
    from pipeline.config import load_config
    from pipeline.engine.catalog import usage_lookback

    cfg = cfg or load_config(None, {})
    usage = cfg.features.usage
    events = load_events(folder)
    subs = load_subscriptions(folder)
    types = event_type_columns(events, cfg)
    return pd.concat([usage_features(events, d, active_accounts(subs, d), types, windows=usage.windows,
                                     trend=usage.trend_days, lookback=usage_lookback(cfg)) for d in dates],
                     ignore_index=True)


def month_starts(first: date, last: date) -> list[date]:
    """First days of the months from ``first`` to ``last``."""
    return [d.date() for d in pd.date_range(first + timedelta(days=1), last, freq="MS")]
