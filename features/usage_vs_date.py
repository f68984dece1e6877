"""Usage against the date: the account's usage beside every account's on the same as-of date, beside the same
days a year earlier, and the calendar's holidays in its windows.

A lull every account shares (a holiday, a summer shutdown) is the date's, not the account's: these definitions
put the usage features of :mod:`features.usage` beside what the date itself explains. Frames as in
:mod:`features.usage` (``derived`` rows hold the usage columns already built).
"""

from __future__ import annotations

import ibis

from features.base import feature
from features.usage import YEAR, change, established, rate_vs_baseline, total


def date_wide_rate(t, column, days, p):
    """Daily rate of ``column`` ({days} days) summed over the established accounts of the row's own as-of date.

    Established: at least {baseline} days of tenure (with a calendar, non-holiday days: :func:`established`), so new
    accounts (short history) do not move it. The sum runs
    over the accounts active on the same as-of date only (a window partitioned by ``as_of``), and each of their
    values sees only data before that date: point in time like every other feature.
    """
    return ibis.ifelse(established(t, p), t[column], 0).sum().over(group_by=t.as_of) / days


def rate_vs_all_accounts(t, recent, baseline, p):
    """The account's :func:`rate_vs_baseline` plus 1 over the same ratio of every established account together,
    minus 1: the account's own change, without the change every account shares on that date."""
    own = rate_vs_baseline(t, recent, baseline, p) + 1
    base = date_wide_rate(t, baseline, p.baseline, p)
    shared = date_wide_rate(t, recent, p.window, p) / base.nullif(0)
    return own / shared.nullif(0) - 1


@feature(
    name="events_{window}d_vs_all_accounts", family="usage", frame="derived", per="short_window",
    unit="ratio", group="usage_trend", topic="usage trend",
    risk="Daily usage in the last {window} days, against the account's {baseline}-day average, is {pct} {above} "
         "the change of all accounts",
    protective="Daily usage in the last {window} days, against the account's {baseline}-day average, is {pct} "
               "{above} the change of all accounts",
    direction="lower",
    history="{baseline}",
    date_relative=True,
)
def events_vs_all_accounts(t, p):
    """Events per day in the last {window} days over events per day in the last {baseline} days, relative to the
    same ratio of all established accounts on the as-of date, minus 1: a holiday lull every account shares is not
    a decline (null without events in the {baseline} days)."""
    return rate_vs_all_accounts(t, f"events_{p.window}d", f"events_{p.baseline}d", p)


@feature(
    name="events_{event}_{window}d_vs_all_accounts", family="usage", frame="derived",
    per="event_type_short_window", unit="ratio", group="usage_{event}", topic="'{event_type}' events",
    risk="Daily '{event_type}' events in the last {window} days, against the account's {baseline}-day average, "
         "are {pct} {above} the change of all accounts",
    protective="Daily '{event_type}' events in the last {window} days, against the account's {baseline}-day "
               "average, are {pct} {above} the change of all accounts",
    direction="lower",
    history="{baseline}",
    date_relative=True,
)
def events_of_type_vs_all_accounts(t, p):
    """'{event_type}' events per day in the last {window} days over the same in the last {baseline} days, relative
    to the same ratio of all established accounts on the as-of date, minus 1 (null without such events in the
    {baseline} days)."""
    return rate_vs_all_accounts(t, f"events_{p.event}_{p.window}d", f"events_{p.event}_{p.baseline}d", p)


@feature(
    name="events_{window}d_vs_year_ago", family="usage", frame="year_ago", per="year_ago_short_window",
    unit="ratio", group="usage_trend", topic="usage trend",
    risk="Product events in the last {window} days are {up} {pct} on the same days a year earlier",
    protective="Product events in the last {window} days are {up} {pct} on the same days a year earlier",
    direction="lower",
    history="365+{window}",  # YEAR + window
)
def events_vs_year_ago(f, p):
    """Product events in the {window} days before the as-of date relative to the same {window} days a year (365
    days) earlier, minus 1: a lull every year has (the holidays, a summer) is not a decline. Null for an account
    younger than a year and {window} days, or without events a year earlier. Only with ``features.usage.year_ago``."""
    recent = total(f.n, f.d <= p.window)
    before = total(f.n, (f.d > YEAR) & (f.d <= YEAR + p.window))
    old = f.tenure.max() >= YEAR + p.window
    return ibis.ifelse(old, change(recent, before), ibis.null("float64"))


def date_wide_mean(t, column, p):
    """Mean of ``column`` over the established accounts (at least {baseline} days of tenure, with a calendar
    non-holiday days: :func:`established`) of the row's own as-of date: a window partitioned by ``as_of``, each
    value over data before that date (point in time)."""
    old = established(t, p)
    total_ = ibis.ifelse(old, t[column], 0).sum().over(group_by=t.as_of)
    accounts = ibis.ifelse(old, 1, 0).sum().over(group_by=t.as_of)
    return total_ / accounts.nullif(0)


def level_vs_all_accounts(t, column, p):
    """Column ``column`` over its mean among the established accounts of the same as-of date, minus 1: a level
    every account loses in a lull (a holiday, a summer shutdown) is not the account's own (null when that mean
    is 0)."""
    mean = date_wide_mean(t, column, p)
    return t[column] / mean.nullif(0) - 1


@feature(
    name="events_{window}d_vs_all_accounts_mean", family="usage", frame="derived", per="short_window",
    unit="ratio", group="usage_volume", topic="product usage",
    risk="Product events in the last {window} days are {pct} {above} the mean account's on that date",
    protective="Product events in the last {window} days are {pct} {above} the mean account's on that date",
    direction="lower",
    history="{window}",
    date_relative=True,
)
def events_vs_all_accounts_mean(t, p):
    """Product events in the {window} days before the as-of date relative to the mean of the established accounts
    on the same as-of date, minus 1: the level without the lull every account shares (a holiday halves both)."""
    return level_vs_all_accounts(t, f"events_{p.window}d", p)


@feature(
    name="active_days_{window}d_vs_all_accounts_mean", family="usage", frame="derived", per="short_window",
    unit="ratio", group="active_days", topic="active days",
    risk="Active days in the last {window} days are {pct} {above} the mean account's on that date",
    protective="Active days in the last {window} days are {pct} {above} the mean account's on that date",
    direction="lower",
    history="{window}",
    date_relative=True,
)
def active_days_vs_all_accounts_mean(t, p):
    """Active days among the {window} days before the as-of date relative to the mean of the established accounts
    on the same as-of date, minus 1."""
    return level_vs_all_accounts(t, f"active_days_{p.window}d", p)


@feature(
    name="active_users_{window}d_vs_all_accounts_mean", family="usage", frame="derived", per="short_window",
    unit="ratio", group="active_users", topic="active users",
    risk="Active users in the last {window} days are {pct} {above} the mean account's on that date",
    protective="Active users in the last {window} days are {pct} {above} the mean account's on that date",
    direction="lower",
    history="{window}",
    date_relative=True,
)
def active_users_vs_all_accounts_mean(t, p):
    """Distinct active users in the {window} days before the as-of date relative to the mean of the established
    accounts on the same as-of date, minus 1."""
    return level_vs_all_accounts(t, f"active_users_{p.window}d", p)
