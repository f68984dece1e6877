"""The data-contract checks: what :func:`pipeline.contract.validate.validate` looks for.

:data:`CHECKS` names and describes every check (the README's "what happens when
data is bad" section is generated from it). The rest of the module turns the
contract into ibis expressions that run where the data lives: a :class:`Parser`
reads raw columns as their contract kinds without ever failing on bad values,
and the ``*_rules`` functions build one :class:`Rule` per thing that can be
wrong: the offending rows as a lazy ibis table plus, for row-level rules, the
predicate that lets all of a table's rules be counted in a single scan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import ibis

from pipeline.contract.tables import TABLES, TICKET_PRIORITIES, Table


#: The smallest and largest non-zero amounts (MRR, event quantity) the contract accepts: ratios between
#: amounts inside it stay finite.
AMOUNT_RANGE = (1e-9, 1e15)


def _out_of_range(value: ibis.NumericValue) -> ibis.BooleanValue:
    size = value.abs()
    return (value != 0) & ((size < AMOUNT_RANGE[0]) | (size > AMOUNT_RANGE[1]))


@dataclass(frozen=True)
class Check:
    """One kind of contract violation the validator reports.

    Attributes
    ----------
    name : str
        Short identifier printed in brackets, e.g. ``[unique_key]``.
    severity : str
        ``error`` (exit code 2) or ``warning`` (reported, exit code 0).
    description : str
        One sentence for the README.
    """

    name: str
    severity: str
    description: str


CHECKS: list[Check] = [
    Check("missing_table", "error",
          "A required table (accounts, subscriptions, usage_events) is absent; "
          "optional tables may be left out."),
    Check("empty_table", "error", "A required table exists but has no rows."),
    Check("missing_column", "error",
          "A contract column is missing from its table (optional columns such as subscriptions.renewal_date "
          "may be left out; extra columns are accepted and kept)."),
    Check("bad_type", "error",
          "Values that cannot be read as the column's kind (numbers that do not parse, dates or "
          "timestamps that are not ISO text, or a column stored with an incompatible type); "
          "timestamps with a time-zone offset are accepted and normalised to naive UTC."),
    Check("not_null", "error", "A non-nullable column contains nulls."),
    Check("all_null", "error", "A non-nullable column holds no value at all."),
    Check("all_null_nullable", "warning",
          "A nullable column holds no value at all, so features built from it carry no signal."),
    Check("unique_key", "error",
          "Duplicate keys in accounts.account_id, support_tickets.ticket_id or "
          "(milestones.account_id, milestone)."),
    Check("foreign_key", "error",
          "A child-table row whose account_id does not exist in accounts."),
    Check("future_timestamp", "error",
          "A stamp (account creation, subscription start, event, ticket creation or resolution, "
          "milestone completion, NPS response) later than the wall-clock time of validation, "
          "compared in UTC."),
    Check("negative_value", "error", "A negative subscriptions.mrr or usage_events.quantity."),
    Check("amount_range", "error",
          f"A subscriptions.mrr or usage_events.quantity that is not zero but smaller than {AMOUNT_RANGE[0]:g} "
          f"or larger than {AMOUNT_RANGE[1]:g} in absolute value: no real amount, a unit mix-up or a corrupt "
          "export (a subnormal MRR of 2e-313 would make the revenue ratios infinite)."),
    Check("end_before_start", "error", "A subscription whose end_date is before its start_date."),
    Check("renewal_before_start", "error",
          "A subscription whose optional renewal_date (the term end agreed at signing) is not after its start_date."),
    Check("billing_period_range", "error",
          "A subscription whose optional billing_period_months (months between two invoices: 1 monthly, "
          "12 annual) is not a whole number of months from 1 to 120."),
    Check("overlapping_subscriptions", "warning",
          "A subscription that starts before an earlier subscription of the same account and the same plan "
          "ends (contiguous rows, where the end equals the next start, are fine; add-on lines of other "
          "plans running beside the base plan are not overlaps)."),
    Check("nps_score", "error", "An NPS score outside 0-10 or not a whole number."),
    Check("csat_range", "warning", "A CSAT value outside 1-5."),
    Check("ticket_priority", "warning",
          f"A ticket priority other than {', '.join(TICKET_PRIORITIES)}."),
    Check("resolved_before_created", "error", "A support ticket resolved before it was created."),
    Check("no_subscription", "warning",
          "An account without any subscription row, which is never active and never scored."),
    Check("check_failed", "error",
          "A check that could not run because the engine raised an error, "
          "reported with the engine's message instead of a traceback."),
]

SEVERITY = {c.name: c.severity for c in CHECKS}
FAR_FUTURE = dt.date(9999, 12, 31)


@dataclass(frozen=True)
class Rule:
    """One way a table can break the contract.

    Attributes
    ----------
    check, table, column, message
        What is reported when :attr:`rows` is not empty.
    rows : ibis.Table
        The offending rows; they keep the raw contract columns for the example.
    predicate : ibis.BooleanValue, optional
        For row-level rules, the filter on the raw table; such rules are counted
        together in one aggregate per table.
    tally : ibis.Table, optional
        One row, one int64 column ``_n``: the number of rows of :attr:`rows`, counted
        by a cheaper query (duplicate keys: one GROUP BY instead of a window over every row).
    """

    check: str
    table: str
    column: str | None
    message: str
    rows: ibis.Table
    predicate: ibis.BooleanValue | None = None
    tally: ibis.Table | None = None


# --------------------------------------------------------------------------- parsing

#: Session-local safe casts for PostgreSQL, whose CAST raises on bad text.
#: Timestamps must look like ISO dates (as DuckDB requires) and go through
#: timestamptz, so an offset is honoured and the result is naive UTC.
_PG_FUNCTIONS = {
    "churn_try_float": ("double precision", "", "v::double precision"),
    "churn_try_timestamp": (
        "timestamp",
        r"IF v !~ '^\s*\d{4}-\d{1,2}-\d{1,2}' THEN RETURN NULL; END IF;",
        "v::timestamptz::timestamp",
    ),
}


def _pg_function_sql(name: str) -> str:
    returns, guard, convert = _PG_FUNCTIONS[name]
    return (
        f"CREATE OR REPLACE FUNCTION pg_temp.{name}(v text) RETURNS {returns} "
        f"LANGUAGE plpgsql STABLE AS $$ BEGIN {guard} RETURN {convert}; "
        "EXCEPTION WHEN others THEN RETURN NULL; END $$"
    )


@ibis.udf.scalar.builtin(name="churn_try_float", database="pg_temp")
def _pg_try_float(v: str) -> float: ...  # type: ignore[empty-body]


@ibis.udf.scalar.builtin(name="churn_try_timestamp", database="pg_temp")
def _pg_try_timestamp(v: str) -> dt.datetime: ...  # type: ignore[empty-body]


@ibis.udf.scalar.builtin(name="convert_to")
def _pg_bytes(v: str, encoding: str) -> bytes: ...  # type: ignore[empty-body]


class Parser:
    """Read raw columns as contract kinds on one backend, never raising on bad values.

    Text is parsed leniently (a value that does not parse becomes null, so
    "non-null raw, null parsed" counts bad values); timestamps with an offset
    are converted to naive UTC. On PostgreSQL, whose ``CAST`` raises instead,
    the safe casts are session-local functions in ``pg_temp``.
    """

    def __init__(self, source):
        self.postgres = source.kind == "postgres"
        self.safe = True
        if self.postgres:
            try:
                for name in _PG_FUNCTIONS:
                    source.backend.raw_sql(_pg_function_sql(name)).close()
            except Exception:  # no TEMP privilege: plain casts, bad values become check_failed
                self.safe = False

    def parse(self, value: ibis.Value, kind: str) -> ibis.Value | None:
        """``value`` as ``kind`` (naive UTC for timestamps), or ``None`` if its type cannot be."""
        dtype = value.type()
        if kind == "string":
            return value if dtype.is_string() else value.cast("string")
        if dtype.is_string():
            return self._parse_text(value, kind)
        if kind in ("float", "int") and dtype.is_numeric() and not dtype.is_boolean():
            return value.cast("float64")
        if kind == "timestamp" and (dtype.is_timestamp() or dtype.is_date()):
            return value.cast("timestamp")
        if kind == "date" and dtype.is_date():
            return value
        if kind == "date" and dtype.is_timestamp():
            return value.cast("timestamp").date()
        return None

    def _parse_text(self, value: ibis.Value, kind: str) -> ibis.Value:
        if self.postgres and not self.safe:
            return value.cast("float64" if kind in ("float", "int") else kind)
        if kind in ("float", "int"):
            return _pg_try_float(value) if self.postgres else value.try_cast("float64")
        if self.postgres:
            stamp = _pg_try_timestamp(value)
        else:
            stamp = value.try_cast("timestamp('UTC')").cast("timestamp")
        return stamp.date() if kind == "date" else stamp

    def sort_key(self, value: ibis.Value) -> ibis.Value:
        """A byte-wise ordering key, so examples are the same row on every engine."""
        if self.postgres and value.type().is_string():
            return _pg_bytes(value, "UTF8")
        return value


# --------------------------------------------------------------------------- rules


class Parsed(Mapping):
    """Parsed contract columns of one table; a missing or mistyped column raises ``KeyError``."""

    def __init__(self, raw: ibis.Table, columns: dict[str, ibis.Value]):
        self.raw = raw
        self._columns = columns

    def __getitem__(self, name: str) -> ibis.Value:
        return self._columns[name]

    def __iter__(self):
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


def _row_rule(check: str, spec: Table, column: str | None, pred, message: str, raw) -> Rule:
    return Rule(check, spec.name, column, message, raw.filter(pred), pred)


def column_rules(
    spec: Table, raw: ibis.Table, parsed: Parsed, mistyped: dict[str, str]
) -> Iterator[Rule]:
    """Type and null rules for every contract column present in ``raw``."""
    for col in spec.columns:
        if col.name not in raw.columns:
            continue
        value = raw[col.name]
        if col.name in mistyped:
            stored = mistyped[col.name]
            message = f"{col.name} is stored as {stored}, which cannot be read as {col.kind}"
            yield _row_rule("bad_type", spec, col.name, value.notnull(), message, raw)
        elif col.kind != "string" and value.type().is_string():
            pred = value.notnull() & parsed[col.name].isnull()
            message = f"{col.name} values that do not parse as {col.kind}"
            yield _row_rule("bad_type", spec, col.name, pred, message, raw)
        check = "all_null_nullable" if col.nullable else "not_null"
        yield _row_rule(check, spec, col.name, value.isnull(), f"null {col.name}", raw)


def _bad_nps(p: Parsed) -> ibis.BooleanValue:
    score = p["score"]
    # floor() casts to BIGINT: only reach it for values in range (NaN and 1e30 would raise)
    return score.notnull() & score.between(0, 10).ifelse(score.floor() != score, True)


def _bad_period(months: ibis.NumericValue) -> ibis.BooleanValue:
    # floor() only on values in range, as for NPS scores
    return months.notnull() & months.between(1, 120).ifelse(months.floor() != months, True)


#: Row-level value rules: (table, check, column, predicate on parsed columns, message).
VALUE_RULES: list[tuple[str, str, str, Callable[[Parsed], ibis.BooleanValue], str]] = [
    ("subscriptions", "negative_value", "mrr", lambda p: p["mrr"] < 0, "negative mrr"),
    ("subscriptions", "end_before_start", "end_date",
     lambda p: p["end_date"] < p["start_date"], "end_date before start_date"),
    ("subscriptions", "renewal_before_start", "renewal_date",
     lambda p: p["renewal_date"] <= p["start_date"], "renewal_date on or before start_date"),
    ("subscriptions", "billing_period_range", "billing_period_months",
     lambda p: _bad_period(p["billing_period_months"]), "billing_period_months not a whole number from 1 to 120"),
    ("subscriptions", "amount_range", "mrr", lambda p: _out_of_range(p["mrr"]),
     f"mrr outside {AMOUNT_RANGE[0]:g}-{AMOUNT_RANGE[1]:g} (and not zero)"),
    ("usage_events", "negative_value", "quantity",
     lambda p: p["quantity"] < 0, "negative quantity"),
    ("usage_events", "amount_range", "quantity", lambda p: _out_of_range(p["quantity"]),
     f"quantity outside {AMOUNT_RANGE[0]:g}-{AMOUNT_RANGE[1]:g} (and not zero)"),
    ("support_tickets", "resolved_before_created", "resolved_at",
     lambda p: p["resolved_at"] < p["created_at"], "resolved_at before created_at"),
    ("support_tickets", "csat_range", "csat",
     lambda p: (p["csat"] < 1) | (p["csat"] > 5), "csat outside 1-5"),
    ("support_tickets", "ticket_priority", "priority",
     lambda p: ~p["priority"].isin(TICKET_PRIORITIES),
     f"priority not one of {', '.join(TICKET_PRIORITIES)}"),
    ("nps_responses", "nps_score", "score", _bad_nps, "score outside 0-10 or not a whole number"),
]


def value_rules(spec: Table, parsed: Parsed, now: dt.datetime) -> Iterator[Rule]:
    """Future stamps and the per-table value rules whose columns could be parsed."""
    raw = parsed.raw
    for stamp in spec.stamps:
        if stamp in parsed:
            kind = spec.column(stamp).kind
            limit = ibis.literal(now.date() if kind == "date" else now, type=kind)
            message = f"{stamp} later than the time of validation"
            yield _row_rule("future_timestamp", spec, stamp, parsed[stamp] > limit, message, raw)
    for table, check, column, build, message in VALUE_RULES:
        if table != spec.name:
            continue
        try:
            pred = build(parsed)
        except KeyError:  # a column it needs is missing or mistyped: reported already
            continue
        yield _row_rule(check, spec, column, pred, message, raw)


def _keyed(parsed: Parsed, columns: dict[str, str]) -> ibis.Table:
    """The raw table plus parsed key columns (renamed), rows with a null key dropped."""
    keyed = parsed.raw.mutate(**{alias: parsed[col] for alias, col in columns.items()})
    return keyed.filter(*[keyed[alias].notnull() for alias in columns])


def unique_rule(spec: Table, parsed: Parsed) -> Iterator[Rule]:
    """Rows sharing their key with another row."""
    if not spec.key or any(k not in parsed for k in spec.key):
        return
    aliases = {f"_key{i}": k for i, k in enumerate(spec.key)}
    keyed = _keyed(parsed, aliases)
    shared = keyed.group_by(list(aliases)).aggregate(_n=ibis._.count()).filter(ibis._._n > 1)
    tally = shared.aggregate(_n=shared._n.sum().fill_null(0).cast("int64"))
    keyed = keyed.mutate(_n=keyed["_key0"].count().over(ibis.window(group_by=list(aliases))))
    rows = keyed.filter(keyed._n > 1)
    label = spec.key[0] if len(spec.key) == 1 else "(" + ", ".join(spec.key) + ")"
    yield Rule("unique_key", spec.name, spec.key[-1], f"duplicate {label}", rows, tally=tally)


def _account_ids(parsed: Parsed) -> ibis.Table:
    return _keyed(parsed, {"_acc": "account_id"}).select("_acc").distinct()


def foreign_key_rule(spec: Table, parsed: Parsed, accounts: Parsed | None) -> Iterator[Rule]:
    """Child rows whose account_id is not in accounts."""
    if accounts is None or "account_id" not in accounts or "account_id" not in parsed:
        return
    rows = _keyed(parsed, {"_acc": "account_id"}).anti_join(_account_ids(accounts), "_acc")
    yield Rule("foreign_key", spec.name, "account_id", "account_id not found in accounts", rows)


def no_subscription_rule(accounts: Parsed | None, subs: Parsed | None) -> Iterator[Rule]:
    """Accounts that have no subscription row."""
    if accounts is None or subs is None or any("account_id" not in t for t in (accounts, subs)):
        return
    rows = _keyed(accounts, {"_acc": "account_id"}).anti_join(_account_ids(subs), "_acc")
    message = "account has no subscription row"
    yield Rule("no_subscription", "accounts", "account_id", message, rows)


def overlap_rule(parsed: Parsed) -> Iterator[Rule]:
    """Subscriptions that start before an earlier row of the same account and plan has ended.

    Lines of other plans (add-ons beside the base plan) run side by side by design.
    """
    if any(c not in parsed for c in ("account_id", "start_date", "end_date")):
        return
    subs = _keyed(parsed, {"_acc": "account_id", "_start": "start_date"})
    plan = parsed["plan"].fill_null("") if "plan" in parsed else ibis.literal("")
    subs = subs.mutate(_acc=ibis.literal("\x1f").join([subs._acc.cast("string"), plan]))
    subs = subs.mutate(_end=parsed["end_date"].fill_null(FAR_FUTURE))
    subs = subs.filter(subs._end >= subs._start)  # reversed rows are end_before_start errors
    order = ["_start", "_end"]
    # _reach: the latest end among this row and the rows before it; compare with the previous one
    reach = subs._end.max().over(ibis.cumulative_window(group_by="_acc", order_by=order))
    subs = subs.mutate(_reach=reach)
    subs = subs.mutate(_before=subs._reach.lag().over(ibis.window(group_by="_acc", order_by=order)))
    rows = subs.filter(subs._start < subs._before)
    message = "subscription starts before an earlier subscription of the account with the same plan ends"
    yield Rule("overlapping_subscriptions", "subscriptions", "start_date", message, rows)


def set_rules(parsed: dict[str, Parsed]) -> Iterator[Rule]:
    """Rules that compare rows with other rows or tables (keys, foreign keys, overlaps)."""
    accounts = parsed.get("accounts")
    for name, table in parsed.items():
        spec = TABLES[name]
        yield from unique_rule(spec, table)
        if spec.references_accounts:
            yield from foreign_key_rule(spec, table, accounts)
    if "subscriptions" in parsed:
        yield from overlap_rule(parsed["subscriptions"])
    yield from no_subscription_rule(accounts, parsed.get("subscriptions"))
