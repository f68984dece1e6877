"""The raw data contract (docs/data-contract.md) as data.

Every other module asks this one which tables exist, which columns they must
have and of what kind; the validator, the loaders and the README's table of
checks all read from here, so the contract is written down exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Logical column kinds. Each maps to one ibis type used when a source is typed.
KINDS = {
    "string": "string",
    "timestamp": "timestamp",
    "date": "date",
    "float": "float64",
    "int": "int64",
}


@dataclass(frozen=True)
class Column:
    """One contract column.

    Parameters
    ----------
    name : str
        Column name as it appears in the source.
    kind : str
        One of :data:`KINDS`.
    nullable : bool
        Whether nulls are allowed.
    optional : bool
        Whether the column may be absent from its table (features that need it then
        use what they can infer).
    """

    name: str
    kind: str
    nullable: bool = False
    optional: bool = False


@dataclass(frozen=True)
class Table:
    """One contract table with its columns, key and foreign key."""

    name: str
    required: bool
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    references_accounts: bool = True
    #: Columns that are stamps in time: none may lie in the future.
    stamps: tuple[str, ...] = field(default=())

    def column(self, name: str) -> Column:
        """Return the column called ``name`` (``KeyError`` naming the table when it has none)."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no contract column {name!r}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


ACCOUNTS = Table(
    "accounts",
    required=True,
    columns=(
        Column("account_id", "string"),
        Column("name", "string"),
        Column("segment", "string"),
        Column("csm", "string", nullable=True),
        Column("created_at", "timestamp"),
    ),
    key=("account_id",),
    references_accounts=False,
    stamps=("created_at",),
)

SUBSCRIPTIONS = Table(
    "subscriptions",
    required=True,
    columns=(
        Column("account_id", "string"),
        Column("start_date", "date"),
        Column("end_date", "date", nullable=True),
        Column("mrr", "float"),
        Column("plan", "string", nullable=True),
        Column("renewal_date", "date", nullable=True, optional=True),
        Column("billing_period_months", "int", nullable=True, optional=True),
    ),
    stamps=("start_date",),
)

USAGE_EVENTS = Table(
    "usage_events",
    required=True,
    columns=(
        Column("account_id", "string"),
        Column("occurred_at", "timestamp"),
        Column("event_type", "string"),
        Column("user_id", "string", nullable=True),
        Column("quantity", "float", nullable=True),
    ),
    stamps=("occurred_at",),
)

SUPPORT_TICKETS = Table(
    "support_tickets",
    required=False,
    columns=(
        Column("ticket_id", "string"),
        Column("account_id", "string"),
        Column("created_at", "timestamp"),
        Column("resolved_at", "timestamp", nullable=True),
        Column("priority", "string"),
        Column("csat", "float", nullable=True),
    ),
    key=("ticket_id",),
    stamps=("created_at", "resolved_at"),
)

MILESTONES = Table(
    "milestones",
    required=False,
    columns=(
        Column("account_id", "string"),
        Column("milestone", "string"),
        Column("due_date", "date"),
        Column("completed_at", "timestamp", nullable=True),
    ),
    key=("account_id", "milestone"),
    stamps=("completed_at",),
)

NPS_RESPONSES = Table(
    "nps_responses",
    required=False,
    columns=(
        Column("account_id", "string"),
        Column("responded_at", "timestamp"),
        Column("score", "int"),
    ),
    stamps=("responded_at",),
)

#: What customer success did, e.g. a CSM's call: read by `churn impact` to report an experiment's compliance.
CS_ACTIVITIES = Table(
    "cs_activities",
    required=False,
    columns=(
        Column("account_id", "string"),
        Column("occurred_at", "timestamp"),
        Column("activity_type", "string"),
    ),
    stamps=("occurred_at",),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (ACCOUNTS, SUBSCRIPTIONS, USAGE_EVENTS, SUPPORT_TICKETS, MILESTONES, NPS_RESPONSES, CS_ACTIVITIES)
}

#: Accepted ticket priorities, lowest first (contract: low / normal / high / urgent).
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
