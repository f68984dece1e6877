"""Usage frequency: how much, how broadly and how steadily the product is used.

Frames (``pipeline.engine.frames``): ``usage`` has one row per (account, as-of, stretch
of days) where every window is a whole number of stretches, with ``d`` = days
from the stretch's first day to the as-of date (so "within k days" is ``d <= k``),
``n`` = events (sum of quantity), ``t_<type>`` = events of one type, ``days`` =
active days and ``last_d`` = days since the stretch's last active day; ``users``
has one row per (account, as-of, user) with ``d`` = days back to the user's
latest active stretch and ``d_prior`` = the same before the trend boundary.
"""

from __future__ import annotations

import ibis

from features.base import feature, flag


#: Days back to "the same days a year earlier" (``events_{window}d_vs_year_ago``).
YEAR = 365


def total(value, where):
    """Sum of ``value`` where ``where`` holds; 0 when nothing matches."""
    return ibis.ifelse(where, value, 0).sum().fill_null(0)  # CASE, not FILTER: much faster on DuckDB


def back(f, p):
    """Days back from the as-of date to a stretch of frame ``f`` and which stretches count: ``(d, True)``.

    With a calendar (``features.calendar``) only the days that are not holidays count: ``(nd, not hol)``, the
    non-holiday days back to the stretch, holiday stretches left out, so every window, trend period and week
    reaches further back past the holidays. The stretches still end before the as-of date; the calendar is known
    in advance.
    """
    if p.settings.calendar.configured and "nd" in f.columns:
        return f.nd, (~f.hol if "hol" in f.columns else ibis.literal(True))
    return f.d, ibis.literal(True)


def within(f, p):
    """Whether a stretch of frame ``f`` is inside the {window} days before the as-of date.

    With a calendar (``features.calendar``) a window counts the {window} days before the as-of date that are not
    holidays, reaching further back past the holidays: a holiday week neither empties a 7-day window nor counts in
    it, and the longest window (the baseline of the ``*_vs_baseline`` ratios) holds {window} working days too.
    Without a calendar, the {window} calendar days.
    """
    days, counted = back(f, p)
    return (days <= p.window) & counted


def change(recent, before):
    """Relative change ``recent / before - 1``; null when ``before`` is 0."""
    return recent / ibis.ifelse(before == 0, ibis.null(), before) - 1


@feature(
    name="events_{window}d", family="usage", frame="usage", per="window", unit="events",
    group="usage_volume", topic="product usage", at_most_zero="No product events in the last {window} days",
    risk="Only {value:,.0f} product event{s} in the last {window} days",
    protective="{value:,.0f} product event{s} in the last {window} days",
    direction="lower",
    history="{window}",
)
def events(f, p):
    """Product events (sum of quantity, all types) in the {window} days before the as-of date (with a calendar, its
    {window} non-holiday days)."""
    return total(f.n, within(f, p))


@feature(
    name="events_{event}_{window}d", family="usage", frame="usage", per="event_type_window",
    unit="events", group="usage_{event}", topic="'{event_type}' events", at_most_zero="No '{event_type}' events in the last {window} days",
    risk="Only {value:,.0f} '{event_type}' event{s} in the last {window} days",
    protective="{value:,.0f} '{event_type}' event{s} in the last {window} days",
    direction="lower",
    history="{window}",
)
def events_of_type(f, p):
    """Events of type '{event_type}' in the {window} days before the as-of date (with a calendar, its {window}
    non-holiday days)."""
    return total(f[f"t_{p.event}"], within(f, p))


@feature(
    name="active_days_{window}d", family="usage", frame="usage", per="window", unit="days",
    group="active_days", topic="active days", at_most_zero="Not active on any of the last {window} days",
    risk="Active on only {value:.0f} of the last {window} days",
    protective="Active on {value:.0f} of the last {window} days",
    direction="lower",
    history="{window}",
)
def active_days(f, p):
    """Days with at least one event among the {window} days before the as-of date (with a calendar, its
    {window} non-holiday days)."""
    return total(f.days, within(f, p))


@feature(
    name="active_users_{window}d", family="usage", frame="users", per="window", unit="users",
    group="active_users", topic="active users", at_most_zero="No active users in the last {window} days",
    risk="Only {value:.0f} active user{s} in the last {window} days",
    protective="{value:.0f} active user{s} in the last {window} days",
    direction="lower",
    history="{window}",
)
def active_users(f, p):
    """Distinct users with any event in the {window} days before the as-of date (with a calendar, its
    {window} non-holiday days)."""
    return total(flag(within(f, p)), f.user_id.notnull())


@feature(
    name="events_trend", family="usage", frame="usage", unit="ratio", group="usage_trend", topic="usage trend",
    risk="Product usage is {up} {pct} on the previous {trend} days",
    protective="Product usage is {up} {pct} on the previous {trend} days",
    direction="lower",
    history="{trend}+{trend}",
)
def events_trend(f, p):
    """Events in the last {trend} days relative to the {trend} days before, minus 1 (with a calendar, both periods
    are {trend} non-holiday days: a holiday week in either is skipped, not read as a fall or a rise)."""
    t = p.settings.usage.trend_days
    days, counted = back(f, p)
    return change(total(f.n, (days <= t) & counted), total(f.n, (days > t) & (days <= 2 * t) & counted))


@feature(
    name="active_users_trend", family="usage", frame="users", unit="ratio", group="active_users", topic="active users",
    risk="Active users are {up} {pct} on the previous {trend} days",
    protective="Active users are {up} {pct} on the previous {trend} days",
    direction="lower",
    history="{trend}+{trend}",
)
def active_users_trend(f, p):
    """Distinct active users in the last {trend} days relative to the {trend} days before, minus 1."""
    t = p.settings.usage.trend_days
    recent = total(flag(f.d <= t), f.user_id.notnull())
    before = total(flag(f.d_prior <= 2 * t), f.user_id.notnull())
    return change(recent, before)


@feature(
    name="usage_slope", family="usage", frame="usage", unit="share of an average week per week",
    group="usage_trend", topic="usage trend",
    risk="Weekly usage goes {up} by {pct} of an average week, week after week",
    protective="Weekly usage goes {up} by {pct} of an average week, week after week",
    direction="lower",
    history="7*{weeks}",
)
def usage_slope(f, p):
    """Least-squares slope of weekly events over the last {weeks} weeks, relative to the mean week (with a
    calendar, a week is 7 non-holiday days: the weeks reach back past the holidays, which count in none)."""
    weeks = p.settings.usage.slope_weeks
    days, counted = back(f, p)
    week = ((days - 1) // 7).cast("int64")  # 0 = the most recent week
    x = (weeks - 1 - week).cast("float64")  # oldest week = 0
    x_mean = (weeks - 1) / 2
    sxx = sum((k - x_mean) ** 2 for k in range(weeks))
    in_range = (days <= 7 * weeks) & counted
    slope = total(f.n * (x - x_mean), in_range) / sxx
    mean_week = total(f.n, in_range) / weeks
    return slope / ibis.ifelse(mean_week == 0, ibis.null(), mean_week)


@feature(
    name="days_since_last_activity", family="usage", frame="usage", unit="days",
    group="recency", topic="days since the last activity",
    risk="No product activity for {value:.0f} day{s}",
    protective="Last active {value:.0f} day{s} ago",
    direction="higher", weekday=True,
)
def days_since_last_activity(f, p):
    """Days since the last event before the as-of date; {lookback} + 1 when none in the last {lookback} days (with
    a calendar, only the days that are not holidays count, as in the windows: the non-holiday days after the last
    event on a non-holiday day, plus 1, so an account last active the day before the holidays reads 1 on their last
    day, and during the holidays every account keeps the value it had when they began)."""
    last = f.last_nd if p.settings.calendar.configured and "last_nd" in f.columns else f.last_d
    return last.min().fill_null(p.lookback + 1)


@feature(
    name="breadth_{window}d", family="usage", frame="usage", per="window", unit="event types",
    group="breadth", topic="product features used", at_most_zero="No product features used in the last {window} days",
    risk="Uses only {value:.0f} product feature{s} (event type{s}) in the last {window} days",
    protective="Uses {value:.0f} product feature{s} (event type{s}) in the last {window} days",
    direction="lower",
    history="{window}",
)
def breadth(f, p):
    """Distinct event types used in the {window} days before the as-of date (with a calendar, its {window}
    non-holiday days)."""
    used = [flag(total(f[f"t_{e}"], within(f, p)) > 0) for e in p.events]
    return sum(used[1:], used[0]) if used else ibis.literal(0)


@feature(
    name="events_per_user_{window}d", family="usage", frame="derived", per="window",
    unit="events per user", group="usage_depth", topic="events per active user",
    risk="Only {value:,.1f} events per active user in the last {window} days",
    protective="{value:,.1f} events per active user in the last {window} days",
    direction="lower",
    history="{window}",
)
def events_per_user(t, p):
    """Events per distinct active user in the {window} days before the as-of date."""
    users = t[f"active_users_{p.window}d"]
    return t[f"events_{p.window}d"] / ibis.ifelse(users == 0, ibis.null(), users)


def rate_vs_baseline(t, recent, baseline, p):
    """Daily rate of column ``recent`` ({window} days) over the daily rate of ``baseline`` ({baseline} days), minus 1.

    Both rates are over the account's tenure when it is shorter than the window, so a young account is not
    read as declining; null when the baseline is 0.
    """
    span = t.tenure_days.clip(lower=1, upper=p.baseline).fill_null(p.baseline)
    rate = t[recent] / ibis.least(span, p.window)
    base = t[baseline] / span
    return rate / ibis.ifelse(base == 0, ibis.null(), base) - 1


@feature(
    name="events_{window}d_vs_baseline", family="usage", frame="derived", per="short_window",
    unit="ratio", group="usage_trend", topic="usage trend",
    risk="Daily usage in the last {window} days is {pct} {above} the account's {baseline}-day average",
    protective="Daily usage in the last {window} days is {pct} {above} the account's {baseline}-day average",
    direction="lower",
    history="{baseline}",
)
def events_vs_baseline(t, p):
    """Events per day in the last {window} days relative to events per day over the last {baseline} days, minus 1;
    both rates over the account's tenure when it is shorter, so a young account is not read as declining (null
    without events in the {baseline} days)."""
    return rate_vs_baseline(t, f"events_{p.window}d", f"events_{p.baseline}d", p)


@feature(
    name="events_{event}_{window}d_vs_baseline", family="usage", frame="derived", per="event_type_short_window",
    unit="ratio", group="usage_{event}", topic="'{event_type}' events",
    risk="Daily '{event_type}' events in the last {window} days are {up} {pct} on the account's {baseline}-day "
         "average",
    protective="Daily '{event_type}' events in the last {window} days are {up} {pct} on the account's "
               "{baseline}-day average",
    direction="lower",
    history="{baseline}",
)
def events_of_type_vs_baseline(t, p):
    """'{event_type}' events per day in the last {window} days relative to the same over the last {baseline} days,
    minus 1; over the account's tenure when it is shorter (null without such events in the {baseline} days).
    A drop in one part of the product can hide in the total."""
    return rate_vs_baseline(t, f"events_{p.event}_{p.window}d", f"events_{p.event}_{p.baseline}d", p)


def date_wide_rate(t, column, days, p):
    """Daily rate of ``column`` ({days} days) summed over the established accounts of the row's own as-of date.

    Established: at least {baseline} days of tenure, so new accounts (short history) do not move it. The sum runs
    over the accounts active on the same as-of date only (a window partitioned by ``as_of``), and each of their
    values sees only data before that date: point in time like every other feature.
    """
    established = t.tenure_days.fill_null(0) >= p.baseline
    return ibis.ifelse(established, t[column], 0).sum().over(group_by=t.as_of) / days


def rate_vs_all_accounts(t, recent, baseline, p):
    """The account's :func:`rate_vs_baseline` plus 1 over the same ratio of every established account together,
    minus 1: the account's own change, without the change every account shares on that date."""
    own = rate_vs_baseline(t, recent, baseline, p) + 1
    base = date_wide_rate(t, baseline, p.baseline, p)
    shared = date_wide_rate(t, recent, p.window, p) / ibis.ifelse(base == 0, ibis.null(), base)
    return own / ibis.ifelse(shared.isnull() | (shared == 0), ibis.null(), shared) - 1


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


@feature(
    name="holiday_days_{window}d", family="usage", frame="derived", per="calendar_short_window", unit="days",
    group="calendar", topic="holidays",
    risk="{value:.0f} of the last {window} days were holidays", protective="{value:.0f} of the last {window} days "
    "were holidays",
    direction="context",
    date_relative=True,
)
def holiday_days(t, p):
    """Days of the {window} days before the as-of date that are holidays of the calendar (``features.calendar``):
    context for the usage in those days, never a reason. Only with a calendar configured."""
    from datetime import timedelta

    days = p.settings.calendar.days()
    inside = [flag((t.as_of > ibis.literal(d)) & (t.as_of <= ibis.literal(d + timedelta(days=p.window))))
              for d in days]
    return sum(inside[1:], inside[0]) if inside else ibis.literal(0.0)


def date_wide_mean(t, column, p):
    """Mean of ``column`` over the established accounts (at least {baseline} days of tenure) of the row's own as-of
    date: a window partitioned by ``as_of``, each value over data before that date (point in time)."""
    established = t.tenure_days.fill_null(0) >= p.baseline
    total_ = ibis.ifelse(established, t[column], 0).sum().over(group_by=t.as_of)
    accounts = ibis.ifelse(established, 1, 0).sum().over(group_by=t.as_of)
    return total_ / ibis.ifelse(accounts == 0, ibis.null(), accounts)


def level_vs_all_accounts(t, column, p):
    """Column ``column`` over its mean among the established accounts of the same as-of date, minus 1: a level
    every account loses in a lull (a holiday, a summer shutdown) is not the account's own (null when that mean
    is 0)."""
    mean = date_wide_mean(t, column, p)
    return t[column] / ibis.ifelse(mean.isnull() | (mean == 0), ibis.null(), mean) - 1


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
