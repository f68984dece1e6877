"""Who is active when, when accounts churn, and the label of each snapshot.

A subscription row covers the days ``start_date <= day < end_date`` (an open
end covers every later day). An account is *active* on T if a row covers T.
It *churns* on day E when a row's coverage ends at E, nothing covers E, and no
row starts within ``grace_days`` after E. The label of (account, T) is 1 if it
churns in (T, T + horizon]; it is *observed* only when the data reaches past
T + horizon + grace, so that a return within the grace period would be seen.
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import pandas as pd
from pipeline.config import Config


def data_end(source) -> date:
    """First day not covered by the data: the day after the last usage event."""
    last = source.event_summary()["last"].max()
    if last is None or pd.isna(last):
        raise ValueError("usage_events holds no timestamps")
    return pd.Timestamp(last).date() + timedelta(days=1)


def data_start(source) -> date:
    """Day of the first usage event."""
    return pd.Timestamp(source.event_summary()["first"].min()).date()


def snapshot_dates(source, cfg: Config, end: date | None = None) -> list[date]:
    """Snapshot dates for a panel: month (or week) starts after the warm-up, up to the data end."""
    snap = cfg.snapshots
    end = end or data_end(source)
    first = snap.first or data_start(source) + timedelta(days=snap.warmup_days)
    last = min(snap.last or end, end)
    freq = "MS" if snap.frequency == "monthly" else "W-MON"
    return [d.date() for d in pd.date_range(first, last, freq=freq)]


def dates_table(dates: list[date]) -> ibis.Table:
    """An in-memory table of as-of dates."""
    return ibis.memtable(pd.DataFrame({"as_of": pd.to_datetime(list(dates)).date}), schema={"as_of": "date"})


def spine(source, dates: list[date]) -> ibis.Table:
    """(account_id, as_of) for every account active on each date."""
    subs = source.table("subscriptions")
    d = dates_table(dates)
    covered = d.join(
        subs,
        [subs.start_date <= d.as_of, subs.end_date.isnull() | (subs.end_date > d.as_of)],
    )
    # every frame joins onto the spine: Spark would compute it again for each of them (one scan of the
    # subscriptions, an inequality join and a shuffle each); DuckDB and PostgreSQL take the query as it is
    return source.reused(covered.select("account_id", "as_of").distinct())


def churn_events(source, grace_days: int) -> ibis.Table:
    """(account_id, churn_date) for every end of coverage not resumed within the grace period."""
    subs = source.table("subscriptions")
    ends = subs.filter(subs.end_date.notnull()).select("account_id", churn_date=subs.end_date).distinct()
    other = source.table("subscriptions")
    grace = ibis.interval(days=grace_days)
    continues = ends.join(
        other,
        [
            ends.account_id == other.account_id,
            other.start_date <= ends.churn_date + grace,
            other.end_date.isnull() | (other.end_date > ends.churn_date),
        ],
    ).select("account_id", "churn_date").distinct()
    return ends.anti_join(continues, ["account_id", "churn_date"])


def labels(source, snapshots: ibis.Table, cfg: Config, end: date) -> ibis.Table:
    """Label and observability for each (account_id, as_of) of ``snapshots``.

    Returns columns ``account_id``, ``as_of``, ``churned`` (1/0), ``churn_date``
    (first churn in the horizon, or null), ``label_observed`` and ``next_churn_date``
    (first churn within the longer of the horizon and the time-to-churn curve, or null:
    the time-to-churn label, see :mod:`models.hazard`).
    """
    horizon = ibis.interval(days=cfg.labels.horizon_days)
    reach = ibis.interval(days=max(cfg.labels.horizon_days, cfg.labels.curve_days))
    churns = churn_events(source, cfg.labels.grace_days)
    s = snapshots
    j = s.left_join(
        churns,
        [s.account_id == churns.account_id, churns.churn_date > s.as_of, churns.churn_date <= s.as_of + reach],
    )
    out = j.group_by(["account_id", "as_of"]).aggregate(next_churn_date=j.churn_date.min())
    out = out.mutate(churn_date=ibis.ifelse(out.next_churn_date <= out.as_of + horizon, out.next_churn_date,
                                            ibis.null("date")))
    last_observable = end - timedelta(days=cfg.labels.horizon_days + cfg.labels.grace_days)
    return out.mutate(
        churned=ibis.ifelse(out.churn_date.notnull(), 1, 0),
        label_observed=out.as_of < ibis.literal(last_observable),
    )
