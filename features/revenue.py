"""Revenue, contract and account attributes.

Frame ``subscriptions``: one row per (account, as-of, subscription started on or
before the as-of date) with ``start_d`` = days since it started, ``covers_now``
(running on the as-of date), ``covers_before`` (running ``mrr_change_days``
earlier), ``mrr`` and ``plan``; an end date after the as-of date is not yet
known and reads as running. Frame ``accounts``: the account row with
``tenure`` = days since creation and the configured attribute columns.
"""

from __future__ import annotations

import ibis

from features.base import feature, flag


@feature(
    family="revenue", frame="subscriptions", unit="currency per month", group="mrr",
    risk="Monthly revenue is {value:,.0f}",
    protective="Monthly revenue is {value:,.0f}",
)
def mrr(f, p):
    """Monthly recurring revenue of the subscriptions running on the as-of date."""
    return f.mrr.sum(where=f.covers_now).fill_null(0)


@feature(
    family="revenue", frame="subscriptions", unit="share", group="mrr_change",
    risk="Monthly revenue changed {value:+.0%} in the last {mrr_days} days (contraction)",
    protective="Monthly revenue changed {value:+.0%} in the last {mrr_days} days",
)
def mrr_change(f, p):
    """Relative MRR change over the last {mrr_days} days (null if there was no MRR then)."""
    before = f.mrr.sum(where=f.covers_before).fill_null(0)
    now = f.mrr.sum(where=f.covers_now).fill_null(0)
    return now / ibis.ifelse(before == 0, ibis.null(), before) - 1


@feature(
    family="revenue", frame="subscriptions", unit="days", group="renewal",
    risk="Renewal is {value:.0f} days away",
    protective="Renewal is {value:.0f} days away",
)
def days_to_renewal(f, p):
    """Days until the next yearly anniversary of the current subscription's start."""
    age = f.start_d.min(where=f.covers_now)
    return (365 - age % 365).cast("float64")


@feature(
    family="revenue", frame="subscriptions", unit="subscription rows", group="plan_changes",
    risk="{value:.0f} plan changes or renewals in the last year",
    protective="{value:.0f} plan changes or renewals in the last year",
)
def subscription_changes_365d(f, p):
    """Subscription rows started in the 365 days before the as-of date (renewals, up/downgrades)."""
    return flag(f.start_d <= 365).sum().fill_null(0)


@feature(
    family="revenue", frame="subscriptions", kind="categorical", unit="category", group="plan",
    risk="On plan '{value}'", protective="On plan '{value}'",
)
def plan(f, p):
    """Plan of the highest-MRR subscription running on the as-of date."""
    return f.plan.argmax(ibis.ifelse(f.covers_now, f.mrr, ibis.null()))


@feature(
    family="account", frame="accounts", unit="days", group="tenure",
    risk="Customer for only {value:,.0f} days", protective="Customer for {value:,.0f} days",
)
def tenure_days(f, p):
    """Days since the account was created."""
    return f.tenure.max().cast("float64")


@feature(
    family="account", frame="accounts", kind="categorical", unit="category", group="segment",
    risk="Segment '{value}'", protective="Segment '{value}'",
)
def segment(f, p):
    """Customer segment from the accounts table."""
    return f.segment.max()


@feature(
    name="attr_{attribute}", family="account", frame="accounts", per="categorical_attribute",
    kind="categorical", unit="category", group="attr_{attribute}",
    risk="{attribute} is '{value}'", protective="{attribute} is '{value}'",
)
def categorical_attribute(f, p):
    """Configured static account attribute '{attribute}' (categorical)."""
    return f[p.attribute].cast("string").max()


@feature(
    name="attr_{attribute}", family="account", frame="accounts", per="numeric_attribute",
    unit="as stored", group="attr_{attribute}",
    risk="{attribute} is {value:,.0f}", protective="{attribute} is {value:,.0f}",
)
def numeric_attribute(f, p):
    """Configured static account attribute '{attribute}' (numeric)."""
    return f[p.attribute].cast("float64").max()
