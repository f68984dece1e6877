"""The words ``churn init`` guesses by: names of tables and columns, their meanings, abbreviations, priorities.

Data for :mod:`pipeline.steps.guess`; extend a tuple here when a warehouse's name is not guessed.
"""

from __future__ import annotations

#: Words in a warehouse table's name that suggest a contract table.
TABLE_WORDS = {
    "accounts": ("account", "accounts", "organisation", "organisations", "organization", "organizations", "org",
                 "orgs", "customer", "customers", "company", "companies", "client", "clients", "tenant", "tenants"),
    "subscriptions": ("subscription", "subscriptions", "contract", "contracts", "billing", "plans", "revenue",
                      "mrr", "licence", "licenses", "license"),
    "usage_events": ("usage", "event", "events", "activity", "activities", "tracking", "track", "product"),
    "support_tickets": ("ticket", "tickets", "support", "case", "cases", "zendesk", "helpdesk", "freshdesk"),
    "milestones": ("milestone", "milestones", "onboarding", "success", "tasks", "steps", "adoption"),
    "nps_responses": ("nps", "survey", "surveys", "response", "responses", "feedback"),
    "cs_activities": ("cs", "csm", "outreach", "touchpoint", "touchpoints", "touches", "calls", "engagement",
                      "engagements", "interactions", "playbook", "playbooks"),
}

_STAMPS = ("created_at", "created", "created_ts", "timestamp", "ts", "time")
#: Contract column -> warehouse column names it is often called, best first.
COLUMN_WORDS = {
    "account_id": ("account_id", "accountid", "acct_id", "org_id", "orgid", "org_ref", "account_ref", "organisation_id",
                   "organization_id",
                   "customer_id", "company_id", "client_id", "tenant_id", "account", "org", "customer", "company"),
    "name": ("name", "account_name", "org_name", "organisation_name", "organization_name", "company_name",
             "customer_name", "display_name", "company", "title"),
    "segment": ("segment", "tier", "tier_name", "segment_name", "customer_segment", "market_segment", "size", "size_band"),
    "csm": ("csm", "csm_name", "csm_email", "owner", "owner_name", "owner_email", "account_owner",
            "success_manager", "cs_owner"),
    "created_at": ("created_at", "signup_at", "signup_ts", "signed_up_at", "signup_date", "created", "created_ts",
                   "creation_date", "customer_since", "opened_at", "opened", "submitted_at"),
    "start_date": ("start_date", "starts_on", "begins_on", "begin_date", "started_on", "period_start", "start", "started_at", "start_at", "valid_from",
                   "from_date", "term_start"),
    "end_date": ("end_date", "ends_on", "ended_on", "period_end", "end", "ended_at", "end_at", "valid_to", "to_date",
                 "term_end", "cancelled_at", "canceled_at"),
    "mrr": ("mrr", "mrr_cents", "mrr_usd", "mrr_eur", "monthly_revenue", "monthly_amount", "amount_cents",
            "amount", "price"),
    "plan": ("plan", "plan_name", "product", "package", "edition", "sku"),
    "renewal_date": ("renewal_date", "renews_on", "renewal_on", "renewal", "renewal_at", "next_renewal"),
    "billing_period_months": ("billing_period_months", "bill_period_months", "billing_period", "bill_period",
                              "period_months", "interval_months", "billing_interval_months", "billing_months",
                              "term_months", "interval_count"),
    "occurred_at": ("occurred_at", "event_ts", "event_time", "event_at", "occurred", "happened_at", "tracked_at",
                    "received_at", *_STAMPS),
    "event_type": ("event_type", "event_name", "event", "type", "action", "activity", "name"),
    "user_id": ("user_id", "userid", "member_id", "user", "member", "person_id", "actor_id", "actor", "visitor_id",
                "user_email", "email"),
    "quantity": ("quantity", "qty", "count", "event_count", "n", "amount", "value"),
    "ticket_id": ("ticket_id", "ticketid", "id", "case_id", "ticket", "number", "ticket_number", "ticket_no"),
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

#: Contract column -> (words of its meaning, words of its role): the fallback when no name of
#: :data:`COLUMN_WORDS` is there. A warehouse column whose name (split into words, CamelCase too)
#: holds a meaning word is a candidate; more meaning words, then role words, rank it higher.
_AT = ("at", "ts", "date", "time", "on", "timestamp")
_ID = ("id", "ref", "key", "no", "nr", "number", "uuid", "code")
CONCEPTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "account_id": (("account", "acct", "org", "organisation", "organization", "customer", "company", "client",
                    "tenant"), _ID),
    "name": (("name", "label", "title"), ("account", "org", "company", "customer", "display")),
    "segment": (("segment", "tier", "band", "size", "cohort"), ("name", "customer", "market")),
    "csm": (("csm", "owner", "manager", "rep"), ("name", "email", "success")),
    "created_at": (("created", "creation", "signup", "signed", "opened", "registered", "joined", "since",
                    "submitted"), _AT),
    "start_date": (("start", "starts", "started", "begin", "begins", "began", "effective"), _AT),
    "end_date": (("end", "ends", "ended", "expiry", "expires", "until", "cancelled", "canceled", "terminated",
                  "churned"), _AT),
    "mrr": (("mrr", "revenue", "amount", "price", "value", "fee"), ("monthly", "month", "usd", "eur", "cents")),
    "plan": (("plan", "product", "package", "edition", "sku"), ("name", "code")),
    "renewal_date": (("renewal", "renews", "renew"), _AT),
    "billing_period_months": (("period", "interval", "cycle"), ("months", "month", "billing", "bill")),
    "occurred_at": (("occurred", "happened", "tracked", "logged", "event", "timestamp", "touched", "contacted",
                     "called"), _AT),
    "event_type": (("type", "kind", "action", "activity", "event"), ("name",)),
    "user_id": (("user", "actor", "member", "person", "visitor", "seat", "login", "email"), _ID),
    "quantity": (("quantity", "qty", "count", "units", "amount", "value"), ()),
    "ticket_id": (("ticket", "case", "issue", "request", "incident"), _ID),
    "resolved_at": (("resolved", "solved", "closed", "fixed"), _AT),
    "priority": (("priority", "prio", "severity", "urgency", "sev"), ("level",)),
    "csat": (("csat", "satisfaction", "happiness"), ("score", "rating")),
    "milestone": (("milestone", "step", "task", "stage"), ("name", "label")),
    "due_date": (("due", "deadline", "target", "planned", "expected"), _AT),
    "completed_at": (("completed", "done", "finished", "achieved", "reached", "accomplished"), _AT),
    "responded_at": (("responded", "answered", "response", "submitted", "surveyed", "sent"), _AT),
    "score": (("nps", "score", "recommend", "likelihood"), ("rating", "value")),
    "activity_type": (("activity", "touch", "channel", "kind", "type", "action"), ("name",)),
}

#: Abbreviations of warehouse names -> the word they stand for (read besides the abbreviation itself).
ABBREVIATIONS = {
    "cust": "customer", "acct": "account", "org": "organisation", "nm": "name", "cd": "code", "dt": "date",
    "dttm": "time", "tm": "time", "amt": "amount", "cnt": "count", "tkt": "ticket", "evt": "event", "usr": "user",
    "resp": "response", "val": "value", "sub": "subscription", "subs": "subscription", "prod": "product",
    "create": "created", "open": "opened", "close": "closed", "complete": "completed", "resolve": "resolved",
    "respond": "responded", "finish": "finished", "prio": "priority", "sat": "satisfaction",
}

#: Warehouse priority words -> the contract's (lower-cased before lookup).
PRIORITY_WORDS = {
    "p1": "urgent", "p2": "high", "p3": "normal", "p4": "low", "p5": "low",
    "1": "urgent", "2": "high", "3": "normal", "4": "low", "5": "low",
    "critical": "urgent", "blocker": "urgent", "highest": "urgent", "emergency": "urgent", "sev1": "urgent",
    "major": "high", "sev2": "high", "medium": "normal", "moderate": "normal", "sev3": "normal",
    "minor": "low", "lowest": "low", "trivial": "low", "sev4": "low",
}
