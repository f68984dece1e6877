"""``churn init``: inspect a warehouse or a folder and draft ``configs/sources.yaml``.

Tables and columns are guessed by name and type (:mod:`pipeline.steps.guess`),
value mappings from the values themselves (priority words, the NPS scale, the
epoch unit of timestamps stored as numbers) or the column's name (cents, ``nps_0_100``). Every guess carries a ``# guess`` comment saying
why, every required column or table not found a ``# TODO``, and naive
timestamps a note on time zones, which no data can tell.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any
from pathlib import Path

from pipeline.contract.tables import TABLES, TICKET_PRIORITIES
from models.errors import ConfigError
from pipeline.io.inspect import distinct_values, resolver, value_range, warehouse_tables
from pipeline.io.sources import open_source
from pipeline.io.urls import mask_url
from pipeline.steps.guess import (EPOCH_FACTORS, TableGuess, epoch_unit, guess_tables, in_cents, nps_scale, numeric,
                                  priority_map)

PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
YAML_WORDS = {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"}


@dataclass
class Draft:
    """A drafted mapping: its text and what a person still has to look at."""

    text: str
    mapped: int
    guesses: int
    todos: int


def draft(spec: str) -> Draft:
    """Inspect the data source ``spec`` (folder, DuckDB file or PostgreSQL URL) and draft its mapping."""
    with open_source(spec) as source:
        found = resolver(source)
        tables = warehouse_tables(found)
        if not tables:
            raise ConfigError(f"{source.label} holds no table, view or file to map")
        columns = {t.ref: t.columns for t in tables}
        guesses = guess_tables(tables)
        for guess in guesses:
            if guess.ref is not None:
                guess.values = _value_hints(found, guess, columns[guess.ref])
        return render(guesses, columns, source.label)


def _value_hints(found, guess: TableGuess, columns: dict[str, str]) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    priority = guess.column("priority") if guess.contract == "support_tickets" else None
    if guess.ref is None:
        return hints
    if priority is not None:
        words = priority_map(distinct_values(found, guess.ref, priority))
        if words:
            hints["priority"] = {"map": words}
    score = guess.column("score") if guess.contract == "nps_responses" else None
    if score is not None:
        low, high = value_range(found, guess.ref, score)
        scale = nps_scale(low, high, score)
        if scale:
            hints["score"] = {"scale": scale, "why": f"values run from {low:g} to {high:g}"}
    mrr = guess.column("mrr") if guess.contract == "subscriptions" else None
    if mrr is not None and in_cents(mrr):
        hints["mrr"] = {"unit": "cents", "why": f"the column name '{mrr}' says cents"}
    hints.update(_epoch_hints(found, guess, columns))
    stamps = [g.column for g in guess.columns if g.column and TABLES[guess.contract].column(g.contract).kind
              == "timestamp"]
    naive = [c for c in stamps if columns[c].lstrip("!").startswith(("string", "date", "timestamp"))
             and "'" not in columns[c]]
    hints["_naive"] = naive
    return hints


def _epoch_hints(found, guess: TableGuess, columns: dict[str, str]) -> dict[str, Any]:
    """Timestamp and date columns stored as numbers: the epoch unit their values fit, or a TODO."""
    hints: dict[str, Any] = {}
    for g in guess.columns:
        if guess.ref is None or g.column is None or not numeric(columns[g.column]) \
                or TABLES[guess.contract].column(g.contract).kind not in ("timestamp", "date"):
            continue
        low, high = value_range(found, guess.ref, g.column)
        unit = epoch_unit(low, high)
        told = "no values" if low is None or high is None else f"numbers from {low:.0f} to {high:.0f}"
        if unit and low is not None and high is not None:
            first, last = (dt.datetime.fromtimestamp(v / EPOCH_FACTORS[unit], dt.timezone.utc).date()
                           for v in (low, high))
            hints[g.contract] = {"unit": unit, "why": f"{told}: {unit} gives {first} to {last}"}
        else:
            hints[g.contract] = {"todo": f"{{unit: {'|'.join(EPOCH_FACTORS)}}}  # {told}: no epoch unit fits"}
    return hints


def _q(value) -> str:
    text = str(value)
    return text if PLAIN.match(text) and text.lower() not in YAML_WORDS else json.dumps(text)


def render(guesses: list[TableGuess], columns: dict[str, dict[str, str]], label: str) -> Draft:
    """The commented YAML of a draft mapping."""
    lines = [
        f"# Sources mapping drafted by `churn init --data {label}`: the warehouse's tables and columns -> the",
        "# data contract (docs/data-contract.md). Lines marked '# guess' were guessed from names, types and",
        "# values: check each one. Lines marked TODO need a name only you know. Then run `churn validate`.",
        "tables:",
    ]
    guessed = todo = mapped = 0
    for guess in guesses:
        spec = TABLES[guess.contract]
        if guess.ref is None:
            if spec.required:
                lines.append(f"  # TODO {guess.contract} (required): no table found; add it with "
                             "`table: schema.table` and `columns:`, or `sql: select ...`")
                todo += 1
            else:
                lines.append(f"  # {guess.contract} (optional): no table found; its features drop out")
            continue
        mapped += 1
        guessed += 1
        lines += [f"  {guess.contract}:", f"    table: {_q(guess.ref)}  # guess: {guess.why}", "    columns:"]
        for col in guess.columns:
            optional = spec.column(col.contract).optional
            if col.column is None:
                if optional:
                    lines.append(f"      # {col.contract}: (optional column, not found)")
                else:
                    lines.append(f"      # TODO {col.contract}: <column>  # required, not found; {col.why}")
                    todo += 1
                continue
            mark = "# same name" if col.why == "same name" else f"# guess: {col.why}"
            guessed += col.why != "same name"
            lines.append(f"      {col.contract}: {_q(col.column)}  {mark}")
        naive = [str(c) for c in guess.values.pop("_naive", [])]
        if naive:
            lines.append(f"    # timezone: Europe/Berlin  # no time zone on {', '.join(naive)}: read as UTC; "
                         "if local time, uncomment and name their zone")
        value_lines, n, unsure = _values(guess.values)
        lines += value_lines
        guessed += n
        todo += unsure
    used = {g.ref for g in guesses if g.ref}
    rest = [ref for ref in columns if ref not in used]
    if rest:
        lines.append(f"# not mapped: {', '.join(rest)}")
    return Draft("\n".join(lines) + "\n", mapped, guessed, todo)


def _values(values: dict[str, dict]) -> tuple[list[str], int, int]:
    """The ``values:`` lines of a table, the guesses among them and the TODOs."""
    if not values:
        return [], 0, 0
    lines, n, todo = ["    values:"], 0, 0
    for column, hint in values.items():
        if "todo" in hint:
            lines.append(f"      # TODO {column}: {hint['todo']}")
            todo += 1
        elif "map" in hint:
            lines += [f"      {column}:", "        map:"]
            for word, target in sorted(hint["map"].items()):
                if target is None:
                    lines.append(f"          # TODO {_q(word)}: one of {', '.join(TICKET_PRIORITIES)}")
                else:
                    lines.append(f"          {_q(word)}: {target}  # guess")
                    n += 1
        else:
            key = "scale" if "scale" in hint else "unit"
            lines.append(f"      {column}: {{{key}: {hint[key]}}}  # guess: {hint['why']}")
            n += 1
    return lines, n, todo


def write_draft(spec: str, out: Path, force: bool = False) -> Draft:
    """Draft the mapping of ``spec`` into ``out`` (refusing to replace a file unless ``force``)."""
    out = Path(out)
    if out.exists() and not force:
        raise ConfigError(f"{out} exists; pass --force to replace it, or --out another file")
    result = draft(spec)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(result.text)
    return result


def next_steps(spec: str, out: Path, result: Draft) -> str:
    """What ``churn init`` prints: what was written and the commands that follow."""
    data = f"--data {_shell(mask_url(spec))} --sources {_shell(str(out))}"
    return "\n".join([
        f"wrote {out}: {result.mapped} contract tables mapped, {result.guesses} guesses to confirm ('# guess'), "
        f"{result.todos} to fill in ('# TODO')",
        "next:",
        f"  churn validate {data}",
        f"  churn train {data}",
        f"  churn score {data}",
        "  churn risk-list --top 20",
    ])


def _shell(text: str) -> str:
    return text if re.match(r"^[A-Za-z0-9_./:@+=-]+$", text) else "'" + text.replace("'", "'\\''") + "'"
