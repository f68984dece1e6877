"""How well ``churn init`` guesses: its draft against the truth on differently named warehouses.

One generated world rewritten in each layout of :mod:`benchmarks.worlds.foreign`
(``warehouse``: DuckDB schemas, MRR in cents; ``exports``: CSV folder, NPS 0-100;
``ops``: issue 21's names in DuckDB, ``event_ts`` in epoch milliseconds, NPS 0-100;
``camel``: a CamelCase Parquet folder; ``legacy``: a warehouse's upper-case
abbreviations, MRR in cents not said by the name, written after the guesses were extended; ``blind``:
written after they were final and never tuned to), drafted by ``churn init``; every contract
column of the draft is compared with the layout's own renames.

Usage::

    python -m benchmarks.init_guesses [--accounts 150] [--days 400]

Prints one row per layout: TODOs left in the draft, columns guessed right, guessed
wrong, not found, and whether the value guesses (epoch unit, NPS scale, cents) are there.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import ibis
import yaml

from benchmarks.worlds import foreign

#: layout -> (how it is stored, the unit conversions of :func:`foreign.convert`)
LAYOUTS = {
    "warehouse": ("duckdb", {"cents": True}),
    "exports": ("csv", {"nps_100": True}),
    "ops": ("duckdb", {"nps_100": True, "epoch_ms": True}),
    "camel": ("parquet", {}),
    "legacy": ("duckdb", {"cents": True}),
    "blind": ("duckdb", {"nps_100": True}),
}
#: layout -> (contract table, column) -> the value mapping the draft should hold
VALUES = {
    "warehouse": {("subscriptions", "mrr"): {"unit": "cents"}},
    "exports": {("nps_responses", "score"): {"scale": "0-100"}},
    "ops": {("usage_events", "occurred_at"): {"unit": "epoch_ms"}, ("nps_responses", "score"): {"scale": "0-100"}},
    "camel": {},
    "legacy": {("support_tickets", "priority"): {"map": {"1": "urgent", "2": "high", "3": "normal", "4": "low"}}},
    "blind": {("nps_responses", "score"): {"scale": "0-100"},
              ("support_tickets", "priority"): {"map": {"sev1": "urgent", "sev2": "high", "sev3": "normal",
                                                        "sev4": "low"}}},
}


def write(world: dict, layout: str, where: Path) -> str:
    """The world in ``layout`` under ``where``; the ``--data`` of ``churn init``."""
    kind, options = LAYOUTS[layout]
    tables = foreign.convert(world, layout, **options)
    if kind == "duckdb":
        path = where / f"{layout}.duckdb"
        con = ibis.duckdb.connect(str(path))
        foreign.write_database(tables, layout, con)
        con.disconnect()
        return str(path)
    return str(foreign.write_folder(tables, layout, where / layout, kind))


def score(text: str, layout: str, tables: set[str]) -> dict:
    """TODOs and right / wrong / missing column guesses of a draft, against the renames of the layout's ``tables``."""
    drafted = (yaml.safe_load(text) or {}).get("tables") or {}
    right = wrong = missing = 0
    for table, (schema, name, renames) in foreign.LAYOUTS[layout].items():
        if table not in tables:
            continue
        spec = drafted.get(table) or {}
        ref = f"{schema}.{name}" if schema else name
        columns = spec.get("columns") or {} if spec.get("table") == ref else {}
        for contract, truth in renames.items():
            got = columns.get(contract)
            right += got == truth
            wrong += got is not None and got != truth
            missing += got is None
    values = [(drafted.get(t) or {}).get("values", {}).get(c) == v for (t, c), v in VALUES[layout].items()]
    todos = sum(1 for line in text.splitlines() if line.strip().startswith("# TODO"))
    return {"todos": todos, "right": right, "wrong": wrong, "missing": missing,
            "values": f"{sum(values)}/{len(values)}"}


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - measurement tooling
    from pipeline.steps.init import draft
    from pipeline.synthetic import generate_world

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=150)
    parser.add_argument("--days", type=int, default=400)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        generate_world(Path(tmp) / "world", accounts=args.accounts, days=args.days, seed=7)
        world = foreign.read_world(Path(tmp) / "world")
        print("layout     todos  right  wrong  missing  values")
        for layout in LAYOUTS:
            result = score(draft(write(world, layout, Path(tmp))).text, layout, set(world))
            print(f"{layout:<10} {result['todos']:>5}  {result['right']:>5}  {result['wrong']:>5}  "
                  f"{result['missing']:>7}  {result['values']:>6}")


if __name__ == "__main__":  # pragma: no cover
    main()
