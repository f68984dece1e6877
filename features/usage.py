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
    return recent / before.nullif(0) - 1


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
    """Distinct active users in the last {trend} days relative to the {trend} days before, minus 1 (with a calendar,
    both periods are {trend} non-holiday days, as in events_trend: a user active on holidays only counts in
    neither)."""
    t = p.settings.usage.trend_days
    calendar = p.settings.calendar.configured and "nd_prior" in f.columns
    latest, prior = (f.nd, f.nd_prior) if calendar else (f.d, f.d_prior)
    recent = total(flag(latest <= t), f.user_id.notnull())
    before = total(flag(prior <= 2 * t), f.user_id.notnull())
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
    return slope / mean_week.nullif(0)


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
    name="breadth_{window}d", family="usage", frame="derived", per="window", unit="event types",
    group="breadth", topic="product features used", at_most_zero="No product features used in the last {window} days",
    risk="Uses only {value:.0f} product feature{s} (event type{s}) in the last {window} days",
    protective="Uses {value:.0f} product feature{s} (event type{s}) in the last {window} days",
    direction="lower",
    history="{window}",
)
def breadth(t, p):
    """Distinct event types used in the {window} days before the as-of date (with a calendar, its {window}
    non-holiday days)."""
    # derived from the events_{event}_{window}d columns: the query states each type's window sum once
    used = [flag(t[f"events_{e}_{p.window}d"] > 0) for e in p.events]
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
    return t[f"events_{p.window}d"] / users.nullif(0)


def working_tenure(t, p):
    """The days of the account's tenure its usage windows count: ``tenure_days``; with a calendar
    (``features.calendar``), the days of it that are not holidays (``tenure_nd``, null for an account whose
    {baseline} non-holiday days are all in its tenure: read as {baseline}). Null when the tenure is unknown."""
    if p.settings.calendar.configured and "tenure_nd" in t.columns:
        return ibis.ifelse(t.tenure_days.isnull(), ibis.null("float64"), t.tenure_nd.fill_null(p.baseline))
    return t.tenure_days


def established(t, p):
    """Whether the account's tenure holds its whole {baseline}-day window (with a calendar, {baseline} non-holiday
    days): its baseline is not cut short by its age."""
    return working_tenure(t, p).fill_null(0) >= p.baseline


def rate_vs_baseline(t, recent, baseline, p):
    """Daily rate of column ``recent`` ({window} days) over the daily rate of ``baseline`` ({baseline} days), minus 1.

    Both rates are over the account's tenure when it is shorter than the window, so a young account is not
    read as declining (with a calendar, over the non-holiday days of its tenure, as its windows count them:
    :func:`working_tenure`); null when the baseline is 0.
    """
    span = ibis.greatest(ibis.least(working_tenure(t, p).fill_null(p.baseline), p.baseline), 1)  # never null
    rate = t[recent] / ibis.least(span, p.window)
    base = t[baseline] / span
    return rate / base.nullif(0) - 1


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
    both rates over the account's tenure when it is shorter (with a calendar, its non-holiday days), so a young
    account is not read as declining (null without events in the {baseline} days)."""
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
    minus 1; over the account's tenure when it is shorter (with a calendar, its non-holiday days; null without such
    events in the {baseline} days).
    A drop in one part of the product can hide in the total."""
    return rate_vs_baseline(t, f"events_{p.event}_{p.window}d", f"events_{p.event}_{p.baseline}d", p)
