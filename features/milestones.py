"""Onboarding-milestone lag: how late the customer-success plan is running.

Frame ``milestones``: one row per (account, as-of, milestone) with ``due_d`` =
days since the due date (negative = not due yet), ``done`` = completed before
the as-of date, ``onboarding`` = the account is still young enough for
onboarding lateness to matter (``features.milestones.relevance_days``), ``late`` = days late (completed − due if done; as-of − due if
still open and overdue; null if open and not yet due), ``value`` = the
milestone marks first value, ``ttv`` = days from account creation to its
completion.
"""

from __future__ import annotations

from features.base import feature, flag

MILESTONES = ("milestones",)


@feature(
    name="milestone_{milestone}_days_late", family="milestones", frame="milestones",
    per="milestone", unit="days", group="onboarding_lag", topic="onboarding milestones", requires=MILESTONES,
    at_most_zero="Onboarding milestone '{milestone_name}' was done on time",
    risk="Onboarding milestone '{milestone_name}' is {value:.0f} day{s} late",
    protective="Onboarding milestone '{milestone_name}' was done only {value:.0f} day{s} late",
    direction="higher",
)
def milestone_days_late(f, p):
    """Days '{milestone_name}' is late: completed − due, or as-of − due while open and overdue; null once
    the account is older than {relevance} days."""
    return f.late.max(where=(f.milestone == p.milestone_name) & f.onboarding)


@feature(
    name="overdue_open_milestones", family="milestones", frame="milestones", unit="milestones",
    group="onboarding_lag", topic="onboarding milestones", requires=MILESTONES, at_most_zero="No onboarding milestones overdue",
    risk="{value:.0f} onboarding milestone{s} {are} overdue and not done",
    protective="No onboarding milestones overdue",
    direction="higher",
)
def overdue_open_milestones(f, p):
    """Milestones past their due date and not completed before the as-of date, while the account is at most
    {relevance} days old (0 after)."""
    return flag(~f.done & (f.due_d > 0) & f.onboarding).sum().fill_null(0)


@feature(
    name="milestones_on_time_share", family="milestones", frame="milestones", unit="share",
    group="onboarding_lag", topic="onboarding milestones", requires=MILESTONES,
    risk="Only {value:.0%} of due onboarding milestones were done on time",
    protective="{value:.0%} of due onboarding milestones were done on time",
    direction="lower",
)
def milestones_on_time_share(f, p):
    """Share of milestones already due that were completed by their due date."""
    return flag(f.done & (f.late <= 0)).mean(where=f.due_d > 0)


@feature(
    name="days_to_first_value", family="milestones", frame="milestones", unit="days",
    group="time_to_value", topic="time to first value", requires=MILESTONES,
    risk="Took {value:.0f} day{s} to reach first value",
    protective="Reached first value in {value:.0f} day{s}",
    direction="higher",
)
def days_to_first_value(f, p):
    """Days from account creation to the first completed value milestone (null until reached)."""
    return f.ttv.min(where=f.done & f.value)
