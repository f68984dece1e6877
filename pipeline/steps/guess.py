"""Guess which warehouse table and column is which contract table and column, by name and type.

Pure functions over :class:`pipeline.io.inspect.WarehouseTable` lists; ``churn init``
(:mod:`pipeline.steps.init`) turns the guesses into a commented draft of
``configs/sources.yaml``. Every guess says why it was made, so a person can confirm it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pipeline.contract.tables import TABLES, TICKET_PRIORITIES
from pipeline.steps.guess_words import ABBREVIATIONS, COLUMN_WORDS, CONCEPTS, PRIORITY_WORDS, TABLE_WORDS

#: Epoch units and the factor from seconds; numbers are read as one when all of them fall in these years.
EPOCH_FACTORS = {"epoch_s": 1, "epoch_ms": 1_000, "epoch_us": 1_000_000}
EPOCH_YEARS = (1990, 2100)


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
    """Lower case, CamelCase words and runs of other characters split by one underscore.

    Examples
    --------
    >>> normal("ContractStartDate"), normal("OrgID"), normal("Event TS")
    ('contract_start_date', 'org_id', 'event_ts')
    """
    split = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name))
    return re.sub(r"[^a-z0-9]+", "_", split.lower()).strip("_")


def words(name: str) -> set[str]:
    """The words of a name (:func:`normal`), with what their :data:`ABBREVIATIONS` stand for.

    Examples
    --------
    >>> sorted(words("TKT_OPEN_DTTM"))
    ['dttm', 'open', 'opened', 'ticket', 'time', 'tkt']
    """
    parts = set(normal(name).split("_"))
    return parts | {ABBREVIATIONS[p] for p in parts if p in ABBREVIATIONS}


def numeric(dtype: str) -> bool:
    """Whether an ibis type holds numbers."""
    return bool(re.match(r"u?int|float|decimal", dtype.lower()))


def fits(kind: str, dtype: str) -> bool:
    """Whether a warehouse column of ibis type ``dtype`` can hold a contract column of ``kind``.

    Timestamps and dates may be numbers: epoch seconds, milliseconds or microseconds (see :func:`epoch_unit`).
    """
    dtype = dtype.lower()
    text = dtype.startswith("string")
    if kind in ("timestamp", "date"):
        return text or dtype.startswith(("timestamp", "date")) or numeric(dtype)
    if kind in ("float", "int"):
        return text or numeric(dtype)
    return True


def guess_columns(contract: str, columns: dict[str, str]) -> list[ColumnGuess]:
    """Each contract column of ``contract`` matched to a distinct warehouse column.

    First by the names of :data:`COLUMN_WORDS` (and type) for every contract column, then, for those
    still unmatched, by the words of :data:`CONCEPTS` in the names left over, then (timestamps, dates and
    numbers) by type when a single free column has it.
    """
    normals = {normal(c): c for c in columns}
    used: set[str] = set()
    found: dict[str, tuple[str, str]] = {}
    for col in TABLES[contract].columns:
        for word in COLUMN_WORDS.get(col.name, (col.name,)):
            name = normals.get(word)
            if name is not None and name not in used and fits(col.kind, columns[name]):
                found[col.name] = name, "same name" if name == col.name else f"name '{name}' ({columns[name]})"
                used.add(name)
                break
    for col in TABLES[contract].columns:
        if col.name not in found and (by_words := _by_words(col.name, col.kind, columns, used)) is not None:
            found[col.name] = by_words
            used.add(by_words[0])
    for col in TABLES[contract].columns:
        if col.name not in found and (by_type := _by_type(col.kind, columns, used)) is not None:
            found[col.name] = by_type
            used.add(by_type[0])
    return [ColumnGuess(c.name, found[c.name][0], found[c.name][1]) if c.name in found
            else ColumnGuess(c.name, None, _candidates(c.kind, columns, used)) for c in TABLES[contract].columns]


def _by_type(kind: str, columns: dict[str, str], used: set[str]) -> tuple[str, str] | None:
    """The one free column stored with the type of ``kind`` (a timestamp, a date, a number), and why."""
    family = {"timestamp": ("timestamp",), "date": ("date", "timestamp")}.get(kind)
    free = [c for c, t in columns.items() if c not in used and (
        t.lower().startswith(family) if family else kind in ("float", "int") and numeric(t))]
    if len(free) != 1:
        return None
    return free[0], f"the only unmatched column of type {columns[free[0]]}"


def _by_words(contract: str, kind: str, columns: dict[str, str], used: set[str]) -> tuple[str, str] | None:
    """The free column whose name's words say ``contract`` best (:data:`CONCEPTS`), and why; ``None``: none."""
    meaning, role = CONCEPTS.get(contract, ((), ()))
    ranked = []
    for name, dtype in columns.items():
        said = words(name)
        hits, roles = sorted(said & set(meaning)), said & set(role)
        typed = kind == "string" or not dtype.lower().startswith("string") or roles
        if hits and name not in used and fits(kind, dtype) and typed:
            ranked.append((-2 * len(hits) - len(roles), len(said), name, hits))
    if not ranked:
        return None
    _, _, name, hits = min(ranked)
    return name, f"name '{name}' ({columns[name]}) has the word{'s' * (len(hits) > 1)} {', '.join(hits)}"


def _candidates(kind: str, columns: dict[str, str], used: set[str]) -> str:
    free = [c for c, t in columns.items() if c not in used and fits(kind, t)]
    return "unmatched columns of a fitting type: " + (", ".join(free[:8]) or "none")


def _table_score(contract: str, table) -> tuple[int, int]:
    said = words(table.ref.rsplit(".", 1)[-1]) | {normal(table.ref.rsplit(".", 1)[-1])}
    named = 10 if normal(table.ref.rsplit(".", 1)[-1]) == contract else 3 * len(said & set(TABLE_WORDS.get(contract, ())))
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


def nps_scale(low: float | None, high: float | None, column: str = "") -> str | None:
    """The NPS scale the values (or the column's name, ``nps_0_100``, when they fit it) suggest, if not 0-10."""
    if high is None or low is None:
        return None
    named = re.search(r"(?:^|_)(\d+)_(\d+)(?:_|$)", normal(column))
    if named and float(named[1]) <= low and high <= float(named[2]) and float(named[1]) < float(named[2]):
        return None if (named[1], named[2]) == ("0", "10") else f"{named[1]}-{named[2]}"
    if high > 10:
        return "0-100"
    if low >= 1 and high <= 5:
        return "1-5"
    return None


def in_cents(column: str) -> bool:
    """Whether an MRR column's name says cents."""
    return "cent" in normal(column)


def epoch_unit(low: float | None, high: float | None) -> str | None:
    """The epoch unit (``epoch_s``, ``epoch_ms``, ``epoch_us``) of numbers from ``low`` to ``high``: the one
    that puts all of them between :data:`EPOCH_YEARS`; ``None`` when none does.

    Examples
    --------
    >>> epoch_unit(1.7e9, 1.75e9), epoch_unit(1.7e12, 1.75e12), epoch_unit(1.7e15, 1.7e15), epoch_unit(1, 5)
    ('epoch_s', 'epoch_ms', 'epoch_us', None)
    """
    if low is None or high is None:
        return None
    first, last = (datetime(year, 1, 1, tzinfo=timezone.utc).timestamp() for year in EPOCH_YEARS)
    return next((unit for unit, factor in EPOCH_FACTORS.items() if first * factor <= low and high <= last * factor),
                None)
