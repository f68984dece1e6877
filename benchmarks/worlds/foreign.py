"""A contract-form world rewritten as a warehouse that shares none of the contract's names.

Test and documentation tooling (the pipeline never imports it): the README's
"Your own data" examples and ``tests/renamed_world.py`` start from here.
Two layouts:

- ``warehouse``: one schema per system (``crm.organisations``,
  ``billing.contracts``, ``analytics.product_events``, ``zendesk.tickets``,
  ``cs.onboarding``, ``surveys.nps``, ``cs.touchpoints``), MRR in cents, priorities ``P1``..``P4``;
- ``exports``: a folder of CSV exports (``companies.csv``, ``billing.csv``,
  ``events.csv``, ``tickets.csv``, ``onboarding.csv``, ``survey.csv``, ``csm_calls.csv``),
  severities ``critical``/``major``/``medium``/``minor``, NPS on 0-100 and
  every timestamp as naive local time in a named zone.

Usage::

    python -m benchmarks.worlds.foreign WORLD --layout warehouse --to postgresql://.../db
    python -m benchmarks.worlds.foreign WORLD --layout exports --to DIR [--zone Europe/Berlin]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

#: layout -> contract table -> (schema, table, {contract column: warehouse column})
LAYOUTS = {
    "warehouse": {
        "accounts": ("crm", "organisations", {"account_id": "org_id", "name": "org_name", "segment": "tier",
                                              "csm": "owner", "created_at": "signup_ts"}),
        "subscriptions": ("billing", "contracts", {"account_id": "org_id", "start_date": "starts_on",
                                                   "end_date": "ends_on", "mrr": "mrr_cents", "plan": "plan_name"}),
        "usage_events": ("analytics", "product_events", {"account_id": "org_id", "occurred_at": "event_ts",
                                                         "event_type": "event_name", "user_id": "member_id",
                                                         "quantity": "qty"}),
        "support_tickets": ("zendesk", "tickets", {"ticket_id": "id", "account_id": "org", "created_at": "opened",
                                                   "resolved_at": "closed", "priority": "prio",
                                                   "csat": "satisfaction"}),
        "milestones": ("cs", "onboarding", {"account_id": "org_id", "milestone": "step", "due_date": "due_on",
                                            "completed_at": "done_ts"}),
        "nps_responses": ("surveys", "nps", {"account_id": "org_id", "responded_at": "answered_ts",
                                             "score": "nps_score"}),
        "cs_activities": ("cs", "touchpoints", {"account_id": "org_id", "occurred_at": "touched_ts",
                                                "activity_type": "channel"}),
    },
    "exports": {
        "accounts": (None, "companies", {"account_id": "company_id", "name": "company_name", "segment": "size_band",
                                         "csm": "owner_email", "created_at": "created"}),
        "subscriptions": (None, "billing", {"account_id": "company_id", "start_date": "period_start",
                                            "end_date": "period_end", "mrr": "mrr_usd", "plan": "package"}),
        "usage_events": (None, "events", {"account_id": "company_id", "occurred_at": "timestamp",
                                          "event_type": "event", "user_id": "user_email", "quantity": "count"}),
        "support_tickets": (None, "tickets", {"ticket_id": "ticket_number", "account_id": "company_id",
                                              "created_at": "created", "resolved_at": "solved",
                                              "priority": "severity", "csat": "satisfaction_score"}),
        "milestones": (None, "onboarding", {"account_id": "company_id", "milestone": "task", "due_date": "deadline",
                                            "completed_at": "finished_at"}),
        "nps_responses": (None, "survey", {"account_id": "company_id", "responded_at": "submitted_at",
                                           "score": "nps"}),
        "cs_activities": (None, "csm_calls", {"account_id": "company_id", "occurred_at": "call_time",
                                              "activity_type": "kind"}),
    },
    # issue 21's warehouse: names no list of synonyms held, event_ts in epoch milliseconds, NPS on 0-100
    "ops": {
        "accounts": ("core", "orgs", {"account_id": "org_ref", "name": "org_name", "segment": "tier_name",
                                      "csm": "owner", "created_at": "created_at"}),
        "subscriptions": ("billing", "subscriptions", {"account_id": "org_ref", "start_date": "begins_on",
                                                       "end_date": "ends_on", "mrr": "mrr", "plan": "plan"}),
        "usage_events": ("product", "events", {"account_id": "org_ref", "occurred_at": "event_ts",
                                               "event_type": "event_name", "user_id": "actor", "quantity": "qty"}),
        "support_tickets": ("support", "tickets", {"ticket_id": "ticket_no", "account_id": "org_ref",
                                                   "created_at": "opened_at", "resolved_at": "closed_at",
                                                   "priority": "priority", "csat": "csat"}),
        "milestones": ("cs", "milestones", {"account_id": "org_ref", "milestone": "milestone", "due_date": "due_on",
                                            "completed_at": "done_at"}),
        "nps_responses": ("surveys", "nps", {"account_id": "org_ref", "responded_at": "answered_at",
                                             "score": "nps_0_100"}),
        "cs_activities": ("cs", "touches", {"account_id": "org_ref", "occurred_at": "touched_at",
                                            "activity_type": "channel"}),
    },
    # a CRM export in CamelCase
    "camel": {
        "accounts": (None, "Account", {"account_id": "AccountId", "name": "AccountName", "segment": "CustomerTier",
                                       "csm": "OwnerName", "created_at": "CreatedDate"}),
        "subscriptions": (None, "Subscription", {"account_id": "AccountId", "start_date": "ContractStartDate",
                                                 "end_date": "ContractEndDate", "mrr": "MonthlyValue",
                                                 "plan": "ProductName"}),
        "usage_events": (None, "ProductEvent", {"account_id": "AccountId", "occurred_at": "EventTimestamp",
                                                "event_type": "EventKind", "user_id": "UserKey", "quantity": "Units"}),
        "support_tickets": (None, "Case", {"ticket_id": "CaseNumber", "account_id": "AccountId",
                                           "created_at": "OpenedDate", "resolved_at": "ClosedDate",
                                           "priority": "CasePriority", "csat": "SatisfactionRating"}),
        "milestones": (None, "OnboardingStep", {"account_id": "AccountId", "milestone": "StepLabel",
                                                "due_date": "TargetDate", "completed_at": "AchievedAt"}),
        "nps_responses": (None, "SurveyResponse", {"account_id": "AccountId", "responded_at": "SurveyedAt",
                                                   "score": "RecommendScore"}),
        "cs_activities": (None, "Touchpoint", {"account_id": "AccountId", "occurred_at": "TouchedAt",
                                               "activity_type": "Channel"}),
    },
    # a data warehouse's abbreviations (written after the guesses were extended: not tuned to them)
    "legacy": {
        "accounts": ("dw", "dim_customer", {"account_id": "CUST_KEY", "name": "CUST_NM", "segment": "CUST_SEGMENT_CD",
                                            "csm": "CSM_NM", "created_at": "CUST_CREATE_DTTM"}),
        "subscriptions": ("dw", "fct_subscription", {"account_id": "CUST_KEY", "start_date": "SUB_START_DT",
                                                     "end_date": "SUB_END_DT", "mrr": "MRR_AMT", "plan": "PLAN_CD"}),
        "usage_events": ("dw", "fct_usage", {"account_id": "CUST_KEY", "occurred_at": "EVT_DTTM",
                                             "event_type": "EVT_TYPE_CD", "user_id": "USR_KEY", "quantity": "EVT_CNT"}),
        "support_tickets": ("dw", "fct_ticket", {"ticket_id": "TKT_KEY", "account_id": "CUST_KEY",
                                                 "created_at": "TKT_OPEN_DTTM", "resolved_at": "TKT_CLOSE_DTTM",
                                                 "priority": "TKT_PRIORITY_CD", "csat": "CSAT_SCORE"}),
        "milestones": ("dw", "fct_milestone", {"account_id": "CUST_KEY", "milestone": "MILESTONE_NM",
                                               "due_date": "DUE_DT", "completed_at": "COMPLETE_DTTM"}),
        "nps_responses": ("dw", "fct_nps", {"account_id": "CUST_KEY", "responded_at": "RESP_DTTM",
                                            "score": "NPS_SCORE_VAL"}),
        "cs_activities": ("dw", "fct_cs_touch", {"account_id": "CUST_KEY", "occurred_at": "TOUCH_DTTM",
                                                 "activity_type": "TOUCH_TYPE_CD"}),
    },
    # written after the guesses were final, never tuned to: how they do on names nobody planned for
    "blind": {
        "accounts": ("raw", "tenants", {"account_id": "tenant_uuid", "name": "display_label",
                                        "segment": "market_band", "csm": "success_rep", "created_at": "onboarded_at"}),
        "subscriptions": ("raw", "plans_history", {"account_id": "tenant_uuid", "start_date": "valid_from",
                                                   "end_date": "valid_until", "mrr": "monthly_recurring",
                                                   "plan": "tier_code"}),
        "usage_events": ("raw", "telemetry", {"account_id": "tenant_uuid", "occurred_at": "logged_at",
                                              "event_type": "action_name", "user_id": "seat_email",
                                              "quantity": "times"}),
        "support_tickets": ("raw", "helpdesk_requests", {"ticket_id": "request_ref", "account_id": "tenant_uuid",
                                                         "created_at": "raised_at", "resolved_at": "fixed_at",
                                                         "priority": "urgency_level", "csat": "happiness"}),
        "milestones": ("raw", "adoption_checklist", {"account_id": "tenant_uuid", "milestone": "item",
                                                     "due_date": "expected_by", "completed_at": "ticked_at"}),
        "nps_responses": ("raw", "feedback", {"account_id": "tenant_uuid", "responded_at": "received",
                                              "score": "likely_to_recommend"}),
        "cs_activities": ("raw", "csm_log", {"account_id": "tenant_uuid", "occurred_at": "logged_at",
                                             "activity_type": "medium"}),
    },
}
#: layout -> contract priority -> the warehouse's word for it
PRIORITIES = {
    "warehouse": {"urgent": "P1", "high": "P2", "normal": "P3", "low": "P4"},
    "exports": {"urgent": "critical", "high": "major", "normal": "medium", "low": "minor"},
    "ops": {},
    "camel": {"urgent": "Highest", "high": "High", "normal": "Medium", "low": "Low"},
    "legacy": {"urgent": "1", "high": "2", "normal": "3", "low": "4"},
    "blind": {"urgent": "sev1", "high": "sev2", "normal": "sev3", "low": "sev4"},
}
TABLES = tuple(LAYOUTS["warehouse"])


def local(stamps: pd.Series, zone: str) -> pd.Series:
    """Naive UTC -> naive local time in ``zone``."""
    return pd.to_datetime(stamps).dt.tz_localize("UTC").dt.tz_convert(zone).dt.tz_localize(None)


def convert(frames: dict[str, pd.DataFrame], layout: str, *, zone: str | None = None, cents: bool = False,
            nps_100: bool = False, epoch_ms: bool = False) -> dict[str, pd.DataFrame]:
    """Contract table -> its rows renamed to ``layout``, with values in the warehouse's own units.

    ``epoch_ms``: usage_events.occurred_at as integer milliseconds since 1970-01-01 UTC.
    """
    out = {}
    for table, df in frames.items():
        _, _, renames = LAYOUTS[layout][table]
        df = df.copy()
        if zone:
            for col in df.columns:
                if col.endswith("_at"):
                    df[col] = local(df[col], zone)
        if table == "subscriptions" and cents:
            df["mrr"] = (df["mrr"] * 100).round().astype("int64")
        if table == "support_tickets":
            df["priority"] = df["priority"].map(PRIORITIES[layout]).fillna(df["priority"])
        if table == "usage_events" and epoch_ms:
            since = pd.to_datetime(df["occurred_at"]) - pd.Timestamp(0)
            df["occurred_at"] = (since // pd.Timedelta(milliseconds=1)).astype("int64")
        if table == "nps_responses" and nps_100:
            df["score"] = df["score"] * 10
        out[table] = df.rename(columns=renames)
    return out


def read_world(folder: Path) -> dict[str, pd.DataFrame]:
    """The contract tables of a world folder written by ``churn generate`` (timestamps parsed)."""
    from pipeline.io.sources import open_source

    with open_source(folder) as source:
        return {t: source.table(t).execute() for t in TABLES if source.has(t)}


def write_folder(tables: dict[str, pd.DataFrame], layout: str, folder: Path, fmt: str = "csv") -> Path:
    """Each table as ``<warehouse table>.csv`` (or ``.parquet``, microsecond timestamps) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for table, df in tables.items():
        name = LAYOUTS[layout][table][1]
        if fmt == "csv":
            df.to_csv(folder / f"{name}.csv", index=False)
        else:
            df.to_parquet(folder / f"{name}.parquet", index=False, coerce_timestamps="us")
    return folder


def write_database(tables: dict[str, pd.DataFrame], layout: str, con) -> None:
    """Each table into its schema of an ibis DuckDB or PostgreSQL connection."""
    for table, df in tables.items():
        schema, name, _ = LAYOUTS[layout][table]
        con.raw_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.create_table(name, df, database=schema, overwrite=True)


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - documentation tooling
    import ibis

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("world", type=Path, help="a world folder written by `churn generate`")
    parser.add_argument("--layout", choices=tuple(LAYOUTS), required=True)
    parser.add_argument("--to", required=True, help="PostgreSQL URL or DuckDB file (warehouse), folder (exports)")
    parser.add_argument("--zone", default=None, help="write timestamps as naive local time in this zone")
    args = parser.parse_args(argv)
    warehouse = args.layout == "warehouse"
    tables = convert(read_world(args.world), args.layout, zone=args.zone, cents=warehouse, nps_100=not warehouse)
    if warehouse:
        con = ibis.connect(args.to.replace("postgresql://", "postgres://", 1) if "://" in args.to else args.to)
        write_database(tables, args.layout, con)
        con.disconnect()
    else:
        write_folder(tables, args.layout, Path(args.to))
    print(f"wrote {', '.join(LAYOUTS[args.layout][t][1] for t in tables)} to {args.to}")


if __name__ == "__main__":  # pragma: no cover
    main()
