"""Validate a data source against the raw data contract (docs/data-contract.md).

Every check runs as a query on the source's own engine: one aggregate per table
counts all row-level problems in a single scan, a few joins check keys, foreign
keys and overlapping subscriptions, and only for a problem that was found is one
example row fetched. Nothing is pulled into memory beyond counts and examples,
and nothing raises on malformed data: an engine error becomes a ``check_failed``
problem. The checks themselves are listed in :data:`pipeline.contract.checks.CHECKS`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import ibis

from pipeline.contract.checks import (
    CHECKS,
    SEVERITY,
    Parsed,
    Parser,
    Rule,
    column_rules,
    set_rules,
    value_rules,
)
from pipeline.contract.tables import TABLES, Table
from pipeline.errors import DataContractError
from pipeline.errors import mask_secrets

__all__ = ["CHECKS", "Problem", "Report", "ensure_valid", "validate"]


@dataclass
class Problem:
    """One contract violation found in the data.

    Attributes
    ----------
    table, column : str
        Where it is; ``column`` is ``None`` for table-level problems.
    check : str
        Name of the check in :data:`CHECKS`.
    severity : str
        ``error`` or ``warning``.
    count : int
        Number of offending rows (0 for table-level problems).
    example : dict or None
        One offending row: its contract columns, raw values made JSON-friendly.
    message : str
        What is wrong, in words.
    origin : str or None
        With a sources mapping: the warehouse object or column it came from.
    """

    table: str
    column: str | None
    check: str
    severity: str
    count: int
    example: dict | None
    message: str
    origin: str | None = None

    def render(self) -> str:
        """One line: severity, ``table.column`` (and its warehouse origin), ``[check]``, count, message, example."""
        where = self.table if self.column is None else f"{self.table}.{self.column}"
        if self.origin:
            where += f" ({self.origin})"
        rows = f" {self.count} row{'s' if self.count != 1 else ''}" if self.count else ""
        line = f"{self.severity.upper()} {where} [{self.check}]{rows}: {self.message}"
        if self.example is not None:
            line += "; example: " + json.dumps(self.example, default=str)
        return line


@dataclass
class Report:
    """The outcome of :func:`validate`: problems found and rows per table present."""

    problems: list[Problem] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether no problem is an error (warnings allowed)."""
        return not self.errors()

    def errors(self) -> list[Problem]:
        """The problems of severity ``error``."""
        return [p for p in self.problems if p.severity == "error"]

    def warnings(self) -> list[Problem]:
        """The problems of severity ``warning``."""
        return [p for p in self.problems if p.severity == "warning"]

    def render(self) -> str:
        """Human-readable report: one line per problem, then a summary line."""
        lines = [p.render() for p in self.problems]
        absent = [n for n, t in TABLES.items() if not t.required and n not in self.row_counts]
        lines += [f"info: optional table {name} not present" for name in absent]
        counts = ", ".join(f"{name}={rows}" for name, rows in self.row_counts.items())
        n_err, n_warn = len(self.errors()), len(self.warnings())
        verdict = "validation passed" if self.ok else "validation FAILED"
        lines.append(
            f"{verdict}: {n_err} error{'s' * (n_err != 1)}, {n_warn} warning{'s' * (n_warn != 1)}"
            f" (rows: {counts or 'none'})"
        )
        return "\n".join(lines)


def validate(source, now: dt.datetime | None = None) -> Report:
    """Check every contract table of ``source``.

    Parameters
    ----------
    source : pipeline.io.sources.Source
        The data to check, queried where it lives.
    now : datetime, optional
        Wall-clock time stamps must not exceed; default ``datetime.now(UTC)``.
        A naive value is taken as UTC.

    Returns
    -------
    Report
        Problems in contract order, with counts and one example row each; never
        raises on malformed data.
    """
    return _Validation(source, _naive_utc(now)).run()


def ensure_valid(source, now: dt.datetime | None = None) -> Report:
    """Validate ``source`` and raise :class:`DataContractError` listing the errors, if any.

    Every command that reads data calls this first, so bad input stops with the
    same message ``churn validate`` gives instead of failing somewhere downstream.
    Warnings are returned, not raised.
    """
    report = validate(source, now)
    if not report.ok:
        raise DataContractError(
            f"{source.label} breaks the data contract (run `churn validate` for the full report):\n"
            + "\n".join(p.render() for p in report.errors())
        )
    return report


def _naive_utc(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        now = dt.datetime.now(dt.UTC)
    if now.tzinfo is not None:
        now = now.astimezone(dt.UTC).replace(tzinfo=None)
    return now


def _engine_error(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return mask_secrets(f"{type(exc).__name__}: {text[0] if text else ''}")


class _Validation:
    """State of one validation run: the parser, the problems so far and row counts."""

    def __init__(self, source, now: dt.datetime):
        self.source = source
        self.now = now
        self.report = Report()
        self.parser: Parser | None = None

    def run(self) -> Report:
        try:
            self.parser = Parser(self.source)
        except Exception as exc:
            self._failed("(source)", None, exc)
            return self.report
        specs = list(TABLES.values())
        if getattr(self.source, "concurrent_queries", False):  # Spark: the tables' checks side by side
            with ThreadPoolExecutor(max_workers=3, thread_name_prefix="churn-validate") as pool:
                outcomes = list(pool.map(self._checked_table, specs))
        else:
            outcomes = [self._checked_table(spec) for spec in specs]
        parsed = {spec.name: table for spec, table in zip(specs, outcomes) if table is not None}
        self._check_set_rules(parsed)
        order = {name: i for i, name in enumerate(TABLES)}
        self.report.problems.sort(key=lambda p: order.get(p.table, -1))
        return self.report

    # ------------------------------------------------------------------ problems

    def _add(self, table, column, check, message, count=0, example=None) -> None:
        self.report.problems.append(
            Problem(table, column, check, SEVERITY[check], count, example, message, self._origin(table, column))
        )

    def _origin(self, table: str, column: str | None) -> str | None:
        origin = getattr(self.source, "origin", None)
        return origin(table, column) if origin is not None else None

    def _failed(self, table: str, column: str | None, exc: Exception, check: str = "") -> None:
        what = f"{check} check could not run" if check else "could not be checked"
        self._add(table, column, "check_failed", f"{what}: {_engine_error(exc)}")

    # ------------------------------------------------------------------ tables

    def _checked_table(self, spec: Table) -> Parsed | None:
        """:meth:`_check_table`, an engine error reported as a problem of that table (None: nothing parsed).

        Problems may be added from several threads (one table each): :meth:`run` sorts them by table after."""
        try:
            return self._check_table(spec)
        except Exception as exc:
            self._failed(spec.name, None, exc)
            return None

    def _check_table(self, spec: Table) -> Parsed | None:
        if not self.source.has(spec.name):
            if spec.required:
                message = f"required table {spec.name} is missing"
                self._add(spec.name, None, "missing_table", message)
            return None
        raw = self.source.raw(spec.name)
        for col in spec.columns:
            if col.name not in raw.columns and not col.optional:
                message = f"required column {col.name} is missing"
                self._add(spec.name, col.name, "missing_column", message)
        parsed, mistyped = self._parse(spec, raw)
        rules = [*column_rules(spec, raw, parsed, mistyped), *value_rules(spec, parsed, self.now)]
        total, counts = self._count(spec.name, raw, rules, parsed)
        if total is None:
            return parsed
        self.report.row_counts[spec.name] = total
        if total == 0 and spec.required:
            self._add(spec.name, None, "empty_table", f"required table {spec.name} has no rows")
        for rule, count in zip(rules, counts):
            if count:
                self._report_rows(rule, count, total)
        return parsed

    def _ready_parser(self) -> Parser:
        if self.parser is None:
            raise RuntimeError("the source could not be opened for parsing: run() reports why")
        return self.parser

    def _parse(self, spec: Table, raw: ibis.Table) -> tuple[Parsed, dict[str, str]]:
        columns, mistyped = {}, {}
        for col in spec.columns:
            if col.name not in raw.columns:
                continue
            value = self._ready_parser().parse(raw[col.name], col.kind)
            if value is None:
                mistyped[col.name] = str(raw[col.name].type())
            else:
                columns[col.name] = value
        return Parsed(raw, columns), mistyped

    def _count(self, table: str, raw: ibis.Table, rules: list[Rule], parsed: Parsed) -> tuple[int | None, list]:
        """Row count and per-rule counts in one scan; rule by rule if that scan fails."""
        metrics = {f"r{i}": raw.count(where=rule.predicate) for i, rule in enumerate(rules)}
        if table == "usage_events" and "event_type" in parsed and "occurred_at" in parsed:
            counted = self._count_with_summary(raw, metrics, parsed)
            if counted is not None:
                return counted
        try:
            row = raw.aggregate(_rows=raw.count(), **metrics).to_pyarrow().to_pylist()[0]
            return row["_rows"], [row[f"r{i}"] for i in range(len(rules))]
        except Exception:
            pass
        try:
            total = int(raw.count().execute())
        except Exception as exc:
            self._failed(table, None, exc)
            return None, []
        return total, [self._count_one(rule) for rule in rules]

    def _count_with_summary(self, raw: ibis.Table, metrics: dict, parsed: Parsed) -> tuple[int, list] | None:
        """:meth:`_count` of the events per event type, which gives the source its events summary in the same
        scan (:meth:`pipeline.io.sources.Source.event_summary`: the data's span and vocabulary), so the events are
        read once; ``None`` if the engine refuses the query."""
        try:
            summary = self.source.event_summary_metrics(parsed["occurred_at"])
            rows = raw.group_by(event_type=parsed["event_type"]).aggregate(
                _rows=raw.count(), **metrics, **summary).execute()
        except Exception:  # counted again without the summary, then rule by rule
            return None
        self.source.keep_event_summary(rows[["event_type", *summary]])
        return int(rows["_rows"].sum()), [int(rows[name].sum()) for name in metrics]

    def _count_one(self, rule: Rule) -> int | None:
        try:
            return int(rule.rows.count().execute())
        except Exception as exc:
            self._failed(rule.table, rule.column, exc, rule.check)
            return None

    def _report_rows(self, rule: Rule, count: int, total: int | None = None) -> None:
        """Add the problem of ``rule``; null rules become all_null when every row is null."""
        check, message = rule.check, rule.message
        if check in ("not_null", "all_null_nullable"):
            if count == total:
                check = "all_null" if check == "not_null" else check
                message = f"every {rule.column} is null"
            elif check == "all_null_nullable":
                return
        self._add(rule.table, rule.column, check, message, count, self._example(rule))

    def _check_set_rules(self, parsed: dict[str, Parsed]) -> None:
        try:
            rules = list(set_rules(parsed))
        except Exception as exc:
            self._failed("(source)", None, exc)
            return
        for rule, count in zip(rules, self._count_together(rules)):
            if count:
                self._report_rows(rule, count)

    def _count_together(self, rules: list[Rule]) -> list[int | None]:
        """Offending rows per rule in one query (a union); rule by rule if it fails."""
        if not rules:
            return []
        parts = [(r.rows.aggregate(_n=ibis._.count()) if r.tally is None else r.tally).mutate(_i=i)
                 for i, r in enumerate(rules)]
        try:
            found = {row["_i"]: row["_n"] for row in ibis.union(*parts).to_pyarrow().to_pylist()}
            return [found[i] for i in range(len(rules))]
        except Exception:
            return [self._count_one(rule) for rule in rules]

    # ------------------------------------------------------------------ examples

    def _example(self, rule: Rule) -> dict | None:
        """The first offending row (byte-wise order over its contract columns), JSON-friendly."""
        rows = rule.rows
        names = [c.name for c in TABLES[rule.table].columns if c.name in rows.columns]
        try:
            plain = rows.select(**{n: _plain(rows[n]) for n in names})
            order = [self._ready_parser().sort_key(plain[n]) for n in names]
            found = plain.order_by(order).limit(1).to_pyarrow().to_pylist()
        except Exception:
            return None
        return {k: _jsonable(v) for k, v in found[0].items()} if found else None


def _plain(value: ibis.Value) -> ibis.Value:
    """Timestamps as naive UTC microseconds, so every engine shows the same example."""
    return value.cast("timestamp") if value.type().is_timestamp() else value


def _jsonable(value):
    """A value json.dumps accepts and that reads the same from every engine."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return _jsonable(float(value))
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
