"""Support-ticket volume, backlog, urgency, resolution time and satisfaction.

Frame ``tickets``: one row per (account, as-of, ticket created before the as-of
date) with ``d`` = days since creation, ``open`` = not resolved before the
as-of date, ``urgent`` = priority in ``features.tickets.urgent_priorities``,
``hours`` = hours to resolve (null while open at the as-of date), ``resolved_d``
= days since resolution and ``csat`` (null until resolved).
"""

from __future__ import annotations

import ibis

from features.base import feature, flag
from features.usage import total

TICKETS = ("support_tickets",)


@feature(
    name="tickets_{window}d", family="tickets", frame="tickets", per="ticket_window", unit="tickets",
    group="ticket_volume", topic="support tickets opened", requires=TICKETS, at_most_zero="No support tickets in the last {window} days",
    risk="{value:.0f} support ticket{s} opened in the last {window} days",
    protective="Only {value:.0f} support ticket{s} in the last {window} days",
    direction="higher",
    history="{window}",
)
def tickets_opened(f, p):
    """Support tickets opened in the {window} days before the as-of date."""
    return total(f.one, f.d <= p.window)


@feature(
    name="open_tickets", family="tickets", frame="tickets", unit="tickets", group="ticket_backlog", topic="open support tickets",
    requires=TICKETS, at_most_zero="No support tickets open",
    risk="{value:.0f} support ticket{s} still open",
    protective="Only {value:.0f} support ticket{s} open",
    direction="higher",
)
def open_tickets(f, p):
    """Tickets open at the as-of date (created before it, not resolved before it)."""
    return total(f.one, f.open)


@feature(
    name="open_urgent_tickets", family="tickets", frame="tickets", unit="tickets",
    group="urgent_tickets", topic="high/urgent support tickets", requires=TICKETS, at_most_zero="No high/urgent support tickets open",
    risk="{value:.0f} high/urgent support ticket{s} still open",
    protective="No high/urgent support tickets open",
    direction="higher",
)
def open_urgent_tickets(f, p):
    """High-priority tickets (priorities in config) open at the as-of date."""
    return total(f.one, f.open & f.urgent)


@feature(
    name="oldest_open_urgent_ticket_days", family="tickets", frame="tickets", unit="days",
    group="urgent_tickets", topic="high/urgent support tickets", requires=TICKETS, at_most_zero="No long-open high/urgent tickets",
    risk="A high/urgent support ticket has been open for {value:.0f}{plus} day{s}", capped_by="max_age",
    protective="No long-open high/urgent tickets",
    direction="higher",
)
def oldest_open_urgent_ticket_days(f, p):
    """Age in days of the oldest high-priority ticket open at the as-of date (0 if none), capped at
    {max_age} days."""
    return ibis.least(f.d.max(where=f.open & f.urgent).fill_null(0), p.settings.tickets.max_age_days)


@feature(
    name="median_resolution_hours", family="tickets", frame="tickets", unit="hours",
    group="resolution_time", topic="support resolution time", requires=TICKETS,
    risk="Support tickets take a median {value:,.0f} hour{s} to resolve",
    protective="Support tickets are resolved in a median {value:,.0f} hour{s}",
    direction="higher",
)
def median_resolution_hours(f, p):
    """Median hours to resolve, over tickets resolved in the {resolution} days before the as-of date."""
    return f.hours.median(where=f.resolved_d <= p.resolution)


@feature(
    name="p90_resolution_hours", family="tickets", frame="tickets", unit="hours",
    group="resolution_time", topic="support resolution time", requires=TICKETS,
    risk="One in ten support tickets takes over {value:,.0f} hour{s} to resolve",
    protective="90 % of support tickets are resolved within {value:,.0f} hour{s}",
    direction="higher",
)
def p90_resolution_hours(f, p):
    """90th percentile of hours to resolve, over tickets resolved in the last {resolution} days."""
    return f.hours.quantile(0.9, where=f.resolved_d <= p.resolution)


@feature(
    name="unresolved_share", family="tickets", frame="tickets", unit="share",
    group="ticket_backlog", topic="open support tickets", requires=TICKETS,
    risk="{value:.0%} of recent support tickets are still unresolved",
    protective="Only {value:.0%} of recent support tickets are unresolved",
    direction="higher",
)
def unresolved_share(f, p):
    """Share of tickets opened in the last {resolution} days that are still open at the as-of date."""
    recent = f.d <= p.resolution
    return flag(f.open).mean(where=recent)


@feature(
    name="recent_csat", family="tickets", frame="tickets", unit="score 1-5", group="csat", topic="support satisfaction (CSAT)",
    requires=TICKETS,
    risk="Recent support satisfaction (CSAT) is {value:.1f} of 5",
    protective="Recent support satisfaction (CSAT) is {value:.1f} of 5",
    direction="lower",
)
def recent_csat(f, p):
    """Mean CSAT of tickets resolved in the {csat_days} days before the as-of date."""
    return f.csat.mean(where=f.resolved_d <= p.csat_days)
