"""Guess which warehouse table and column is which contract table and column, by name and type.

Pure functions over :class:`pipeline.io.inspect.WarehouseTable` lists; ``churn init``
(:mod:`pipeline.steps.init`) turns the guesses into a commented draft of
``configs/sources.yaml``. Every guess says why it was made, so a person can confirm it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.contract.tables import TABLES, TICKET_PRIORITIES

#: Words in a warehouse table's name that suggest a contract table.
TABLE_WORDS = {
    "accounts": ("account", "accounts", "organisation", "organisations", "organization", "organizations", "org",
                 "orgs", "customer", "customers", "company", "companies", "client", "clients", "tenant", "tenants"),
    "subscriptions": ("subscription", "subscriptions", "contract", "contracts", "billing", "plans", "revenue",
                      "mrr", "licence", "licenses", "license"),
    "usage_events": ("usage", "event", "events", "activity", "activities", "tracking", "track", "product"),
    "support_tickets": ("ticket", "tickets", "support", "case", "cases", "zendesk", "helpdesk", "freshdesk"),
    "milestones": ("milestone", "milestones", "onboarding", "success", "tasks", "steps", "adoption"),
    "nps_responses": ("nps", "survey", "surveys", "responses", "feedback"),
    "cs_activities": ("cs", "csm", "outreach", "touchpoint", "touchpoints", "touches", "calls", "engagement",
                      "engagements", "interactions", "playbook", "playbooks"),
}

_STAMPS = ("created_at", "created", "created_ts", "timestamp", "ts", "time")
#: Contract column -> warehouse column names it is often called, best first.
COLUMN_WORDS = {
    "account_id": ("account_id", "accountid", "acct_id", "org_id", "orgid", "organisation_id", "organization_id",
                   "customer_id", "company_id", "client_id", "tenant_id", "account", "org", "customer", "company"),
    "name": ("name", "account_name", "org_name", "organisation_name", "organization_name", "company_name",
             "customer_name", "display_name", "company", "title"),
    "segment": ("segment", "tier", "customer_segment", "market_segment", "size", "size_band"),
    "csm": ("csm", "csm_name", "csm_email", "owner", "owner_name", "owner_email", "account_owner",
            "success_manager", "cs_owner"),
    "created_at": ("created_at", "signup_at", "signup_ts", "signed_up_at", "signup_date", "created", "created_ts",
                   "creation_date", "customer_since", "opened_at", "opened", "submitted_at"),
    "start_date": ("start_date", "starts_on", "started_on", "period_start", "start", "started_at", "start_at", "valid_from",
                   "from_date", "term_start"),
    "end_date": ("end_date", "ends_on", "ended_on", "period_end", "end", "ended_at", "end_at", "valid_to", "to_date",
                 "term_end", "cancelled_at", "canceled_at"),
    "mrr": ("mrr", "mrr_cents", "mrr_usd", "mrr_eur", "monthly_revenue", "monthly_amount", "amount_cents",
            "amount", "price"),
    "plan": ("plan", "plan_name", "product", "package", "edition", "sku"),
    "renewal_date": ("renewal_date", "renews_on", "renewal_on", "renewal", "renewal_at", "next_renewal"),
    "occurred_at": ("occurred_at", "event_ts", "event_time", "event_at", "occurred", "happened_at", "tracked_at",
                    "received_at", *_STAMPS),
    "event_type": ("event_type", "event_name", "event", "type", "action", "activity", "name"),
    "user_id": ("user_id", "userid", "member_id", "user", "member", "person_id", "actor_id", "visitor_id",
                "user_email", "email"),
    "quantity": ("quantity", "qty", "count", "event_count", "n", "amount", "value"),
    "ticket_id": ("ticket_id", "ticketid", "id", "case_id", "ticket", "number", "ticket_number"),
    "resolved_at": ("resolved_at", "solved_at", "closed_at", "resolved", "solved", "closed", "closed_ts",
                    "resolved_ts", "solved_ts"),
    "priority": ("priority", "prio", "severity", "urgency", "priority_level"),
    "csat": ("csat", "satisfaction", "satisfaction_score", "csat_score", "rating"),
    "milestone": ("milestone", "milestone_name", "step", "task", "stage", "name"),
    "due_date": ("due_date", "due_on", "due", "deadline", "target_date", "due_at", "planned_date"),
    "completed_at": ("completed_at", "done_at", "done_ts", "completed", "finished_at", "done", "completed_on"),
    "responded_at": ("responded_at", "answered_at", "answered_ts", "response_ts", "responded", "submitted_at",
                     "survey_date", *_STAMPS),
    "score": ("score", "nps", "nps_score", "rating", "answer", "value"),
    "activity_type": ("activity_type", "touch_type", "channel", "kind", "type", "activity", "action"),
}

#: Warehouse priority words -> the contract's (lower-cased before lookup).
PRIORITY_WORDS = {
    "p1": "urgent", "p2": "high", "p3": "normal", "p4": "low", "p5": "low",
    "1": "urgent", "2": "high", "3": "normal", "4": "low", "5": "low",
    "critical": "urgent", "blocker": "urgent", "highest": "urgent", "emergency": "urgent", "sev1": "urgent",
    "major": "high", "sev2": "high", "medium": "normal", "moderate": "normal", "sev3": "normal",
    "minor": "low", "lowest": "low", "trivial": "low", "sev4": "low",
}


@dataclass
class ColumnGuess:
    """A contract column and the warehouse column guessed for it (``None``: not found)."""

    contract: str
    column: str | None
    why: str


@dataclass
class TableGuess:
    """A contract table, the warehouse table guessed for it and its columns' guesses."""

    contract: str
    ref: str | None
    why: str
    columns: list[ColumnGuess] = field(default_factory=list)
    #: Column -> notes on its values (scale, unit, words); filled by :mod:`pipeline.steps.init`.
    values: dict[str, dict] = field(default_factory=dict)

    def column(self, contract: str) -> str | None:
        """The warehouse column guessed for ``contract`` (``None`` when none was)."""
        return next((c.column for c in self.columns if c.contract == contract), None)


def normal(name: str) -> str:
    """Lower case, runs of other characters as one underscore."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def fits(kind: str, dtype: str) -> bool:
    """Whether a warehouse column of ibis type ``dtype`` can hold a contract column of ``kind``."""
    dtype = dtype.lower()
    text = dtype.startswith("string")
    if kind in ("timestamp", "date"):
        return text or dtype.startswith(("timestamp", "date"))
    if kind in ("float", "int"):
        return text or bool(re.match(r"u?int|float|decimal", dtype))
    return True


def guess_columns(contract: str, columns: dict[str, str]) -> list[ColumnGuess]:
    """Each contract column of ``contract`` matched to a distinct warehouse column, by name then type."""
    normals = {normal(c): c for c in columns}
    used: set[str] = set()
    out = []
    for col in TABLES[contract].columns:
        found = None
        for rank, word in enumerate(COLUMN_WORDS.get(col.name, (col.name,))):
            name = normals.get(word)
            if name is not None and name not in used and fits(col.kind, columns[name]):
                found = name
                why = "same name" if name == col.name else f"name '{name}' ({columns[name]})"
                break
        if found is None:
            out.append(ColumnGuess(col.name, None, _candidates(col.kind, columns, used)))
            continue
        used.add(found)
        out.append(ColumnGuess(col.name, found, why))
    return out


def _candidates(kind: str, columns: dict[str, str], used: set[str]) -> str:
    free = [c for c, t in columns.items() if c not in used and fits(kind, t)]
    return "unmatched columns of a fitting type: " + (", ".join(free[:8]) or "none")


def _table_score(contract: str, table) -> tuple[int, int]:
    words = set(normal(table.ref.rsplit(".", 1)[-1]).split("_")) | {normal(table.ref.rsplit(".", 1)[-1])}
    named = 10 if normal(table.ref.rsplit(".", 1)[-1]) == contract else 3 * len(words & set(TABLE_WORDS.get(contract, ())))
    matched = sum(1 for g in guess_columns(contract, table.columns) if g.column is not None
                  and not TABLES[contract].column(g.contract).optional)
    return named + matched, matched


def guess_tables(tables: list) -> list[TableGuess]:
    """The best warehouse table for each contract table, each used once (best scores first)."""
    scored = []
    for contract in TABLES:
        for table in tables:
            score, matched = _table_score(contract, table)
            needed = sum(1 for c in TABLES[contract].columns if not c.optional)
            if matched >= max(2, needed // 2):
                scored.append((score, contract, table, matched, needed))
    taken, chosen = set(), {}
    for score, contract, table, matched, needed in sorted(scored, key=lambda s: (-s[0], s[1], s[2].ref)):
        if contract in chosen or table.ref in taken:
            continue
        taken.add(table.ref)
        why = f"name and columns: {matched} of its {needed} required columns found"
        chosen[contract] = TableGuess(contract, table.ref, why, guess_columns(contract, table.columns))
    return [chosen.get(c) or TableGuess(c, None, "no table with enough matching columns") for c in TABLES]


def priority_map(values: list[str]) -> dict[str, str | None]:
    """Warehouse priority words -> contract words (``None``: no guess); empty when all are the contract's."""
    if all(v in TICKET_PRIORITIES for v in values):
        return {}
    return {v: (v.lower() if v.lower() in TICKET_PRIORITIES else PRIORITY_WORDS.get(normal(v))) for v in values}


def nps_scale(low: float | None, high: float | None) -> str | None:
    """The NPS scale the values suggest, when it is not the contract's 0-10."""
    if high is None or low is None:
        return None
    if high > 10:
        return "0-100"
    if low >= 1 and high <= 5:
        return "1-5"
    return None


def in_cents(column: str) -> bool:
    """Whether an MRR column's name says cents."""
    return "cent" in normal(column)
