"""Revenue, contract and account attributes.

Frame ``subscriptions``: one row per (account, as-of, subscription started on or
before the as-of date) with ``start_d`` = days since it started, ``covers_now``
(running on the as-of date), ``covers_before`` (running ``mrr_change_days``
earlier), ``mrr`` and ``plan``; an end date after the as-of date is not yet
known and reads as running. ``base`` tells the base line from add-on lines
(``features.subscriptions.base_plans``), ``covers_then`` is running
``addon_change_days`` earlier, ``addon_plan_now`` / ``addon_plan_then`` whether the
row's plan runs as an add-on now / then, and ``period_d`` is the line's billing
period in days when the data gives ``billing_period_months``. Frame ``accounts``: the account row with
``tenure`` = days since creation and the configured attribute columns. Frame ``derived``: the row's features
already built (``renewal_within_horizon`` reads ``days_to_renewal``).
"""

from __future__ import annotations

import ibis

from features.base import feature, flag


@feature(
    family="revenue", frame="subscriptions", unit="currency per month", group="mrr", topic="monthly revenue",
    risk="Monthly revenue is {value:,.0f}",
    protective="Monthly revenue is {value:,.0f}",
    direction="context",
)
def mrr(f, p):
    """Monthly recurring revenue of the subscriptions running on the as-of date."""
    return f.mrr.sum(where=f.covers_now).fill_null(0)


@feature(
    family="revenue", frame="subscriptions", unit="share", group="mrr_change", topic="change in monthly revenue",
    risk="Monthly revenue is {up} {pct} on {mrr_days} days ago",
    protective="Monthly revenue is {up} {pct} on {mrr_days} days ago",
    direction="lower",
    history="{mrr_days}",
)
def mrr_change(f, p):
    """Relative MRR change over the last {mrr_days} days (null if there was no MRR then)."""
    before = f.mrr.sum(where=f.covers_before).fill_null(0)
    now = f.mrr.sum(where=f.covers_now).fill_null(0)
    return now / before.nullif(0) - 1


#: Days in an average month: billing terms are whole months.
MONTH = 365.25 / 12
#: Billing terms tried, longest first (months): annual, half-yearly, quarterly, monthly.
TERMS = (12, 6, 3, 1)
#: How far (days) a closed row may end from a whole number of terms: calendar months are 28-31 days.
SLACK = 5
#: The term assumed before an account's first term has closed.
DEFAULT_TERM = 365.25


def _term(f):
    """The billing term: ``billing_period_months`` of the running base line when the data gives it, else
    inferred (:func:`_inferred_term`)."""
    given = f.period_d.max(where=f.covers_now & f.base)
    return ibis.coalesce(given, _inferred_term(f))


def _inferred_term(f):
    """The longest billing term that at least half of the account's closed base lines lasted a whole
    number of (null while no base line has closed: nothing in the data tells the term yet).

    Rows closed at renewals last whole terms; a change of plan mid-term closes a row of any length,
    so a few rows may fit no term at all. Add-on lines keep their own periods and are not read.
    """
    closed = (f.term_d > 0) & f.base
    count = f.term_d.count(where=closed)
    answer = ibis.null("float64")
    for months in sorted(TERMS):  # the longest fitting term wins: it is applied last
        term = months * MONTH
        whole = (f.term_d / term).round()
        fits = f.term_d.count(where=closed & (whole >= 1) & ((f.term_d - whole * term).abs() <= SLACK))
        answer = ibis.ifelse((count > 0) & (fits * 2 >= count), term, answer)
    return answer


def _days_to_renewal(f):
    """``renewal_date`` of the running base line when given, else the end of its current term."""
    main = f.covers_now & f.base
    age = ibis.coalesce(f.start_d.min(where=main), f.start_d.min(where=f.covers_now))
    term = _term(f).fill_null(DEFAULT_TERM)
    inferred = term - (age - (age / term).floor() * term)
    explicit = f.renewal_d.min(where=main & (f.renewal_d >= 0))
    return ibis.coalesce(explicit.cast("float64"), inferred.cast("float64"))


@feature(
    family="revenue", frame="subscriptions", unit="days", group="renewal", topic="renewal timing",
    risk="Renewal is {value:.0f} day{s} away",
    protective="Renewal is {value:.0f} day{s} away",
    direction="context",
    history="31",  # the term is inferred once a first base line closed (a month for monthly terms)
)
def days_to_renewal(f, p):
    """Days until the current term of the base line ends: its renewal_date when the data has it, else its
    billing_period_months, else the account's billing term inferred from the lengths of its closed base lines
    (a year before any closed)."""
    return _days_to_renewal(f)


@feature(
    family="revenue", frame="subscriptions", unit="days", group="renewal", topic="renewal timing",
    risk="Renews about every {value:.0f} day{s}",
    protective="Renews about every {value:.0f} day{s}",
    direction="context",
    history="31",  # the term is inferred once a first base line closed (a month for monthly terms)
)
def billing_term_days(f, p):
    """The account's billing term in days: the running base line's billing_period_months when the data has
    it, else inferred from the lengths of its closed base lines (annual, half-yearly, quarterly or monthly: the
    longest that at least half of them lasted a whole number of; null until a first line has closed)."""
    return _term(f).cast("float64")


@feature(
    family="revenue", frame="derived", unit="flag", group="renewal", topic="renewal timing",
    risk="Renewal falls within the next {horizon} days",
    protective="No renewal within the next {horizon} days",
    direction="context",
    history="31",  # the term is inferred once a first base line closed (a month for monthly terms)
)
def renewal_within_horizon(t, p):
    """1 when the current term ends within the label horizon ({horizon} days): the account can leave then."""
    return flag(t.days_to_renewal <= p.horizon)  # derived: the query states the days to renewal once


@feature(
    family="revenue", frame="subscriptions", unit="subscription rows", group="plan_changes", topic="plan changes",
    risk="{value:.0f} plan change{s} or renewal{s} in the last year",
    protective="{value:.0f} plan change{s} or renewal{s} in the last year",
    direction="context",
    history="365",
)
def subscription_changes_365d(f, p):
    """Subscription rows started in the 365 days before the as-of date (renewals, up/downgrades)."""
    return flag(f.start_d <= 365).sum().fill_null(0)


@feature(
    family="revenue", frame="subscriptions", kind="categorical", unit="category", group="plan", topic="plan",
    risk="Plan: {value}", protective="Plan: {value}",
    direction="context",
)
def plan(f, p):
    """Plan of the running base line (the highest-MRR one if several; any running line when no base line runs)."""
    base = f.plan.argmax(ibis.ifelse(f.covers_now & f.base, f.mrr, ibis.null()))
    return ibis.coalesce(base, f.plan.argmax(ibis.ifelse(f.covers_now, f.mrr, ibis.null())))


@feature(
    family="revenue", frame="subscriptions", unit="add-on lines", group="addons", topic="add-ons",
    risk="{value:.0f} add-on line{s} running", protective="{value:.0f} add-on line{s} running",
    direction="context",
)
def addon_lines(f, p):
    """Add-on lines (subscription lines beside the base plan) running on the as-of date."""
    return flag(f.covers_now & ~f.base).sum().fill_null(0)


@feature(
    family="revenue", frame="subscriptions", unit="share", group="addons", topic="add-ons",
    risk="Add-ons are {pct} of monthly revenue", protective="Add-ons are {pct} of monthly revenue",
    direction="context",
)
def addon_mrr_share(f, p):
    """Share of the running MRR that comes from add-on lines (null without MRR)."""
    total = f.mrr.sum(where=f.covers_now).fill_null(0)
    addons = f.mrr.sum(where=f.covers_now & ~f.base).fill_null(0)
    return addons / total.nullif(0)


@feature(
    family="revenue", frame="subscriptions", unit="add-on plans", group="addon_changes", topic="add-on changes",
    risk="{value:.0f} add-on{s} added in the last {addon_days} days",
    protective="{value:.0f} add-on{s} added in the last {addon_days} days",
    direction="context",
    history="{addon_days}",
)
def addons_added(f, p):
    """Add-on plans running on the as-of date that did not run as add-ons {addon_days} days earlier
    (expansion)."""
    return f._plan.nunique(where=f.covers_now & ~f.base & ~f.addon_plan_then).fill_null(0)


@feature(
    family="revenue", frame="subscriptions", unit="add-on plans", group="addon_changes", topic="add-on changes",
    risk="{value:.0f} add-on{s} removed in the last {addon_days} days",
    protective="{value:.0f} add-on{s} removed in the last {addon_days} days",
    direction="higher",
    history="{addon_days}",
)
def addons_removed(f, p):
    """Add-on plans that ran as add-ons {addon_days} days before the as-of date and no longer run
    (contraction)."""
    return f._plan.nunique(where=f.covers_then & ~f.base & ~f.addon_plan_now).fill_null(0)


@feature(
    family="account", frame="accounts", unit="days", group="tenure", topic="tenure",
    risk="Customer for only {value:,.0f} day{s}", protective="Customer for {value:,.0f} day{s}",
    direction="context", ages=True,
)
def tenure_days(f, p):
    """Days since the account was created."""
    return f.tenure.max().cast("float64")


@feature(
    family="account", frame="accounts", kind="categorical", unit="category", group="segment", topic="segment",
    risk="Segment: {value}", protective="Segment: {value}",
    direction="context",
)
def segment(f, p):
    """Customer segment from the accounts table."""
    return f.segment.max()


@feature(
    name="attr_{attribute}", family="account", frame="accounts", per="categorical_attribute",
    kind="categorical", unit="category", group="attr_{attribute}", topic="{label}",
    risk="{label}: {value}", protective="{label}: {value}",
    direction="context",
)
def categorical_attribute(f, p):
    """Configured static account attribute '{attribute}' (categorical)."""
    return f[p.attribute].cast("string").max()


@feature(
    name="attr_{attribute}", family="account", frame="accounts", per="numeric_attribute",
    unit="as stored", group="attr_{attribute}", topic="{label}",
    risk="{label}: {value:,.0f}", protective="{label}: {value:,.0f}",
    direction="context",
)
def numeric_attribute(f, p):
    """Configured static account attribute '{attribute}' (numeric)."""
    return f[p.attribute].cast("float64").max()
