"""Why it moved, whatever the order of the runs: ``python -m benchmarks.why_moved [DATA] [OUT]``.

Scores the demo world (``DATA``, default ``data/warehouse.duckdb``, with the champion of the configured
tracking store) on its last day and the four month starts before it three times, into three warehouses
under ``OUT``: in date order; latest first, then the earlier dates shuffled (a backfill); and in date order
with the middle date scored again at the end (a re-score after a data fix). Prints one JSON object: rows
moved by at least ``scoring.change_min_points`` and the share of them with a change reason, whether the
three warehouses hold identical rows, and how many rows show a group identifier in a page text column.
"""

from __future__ import annotations

import json
import random
import re
import sys
import time
from pathlib import Path

import pandas as pd

from pipeline.config import load_config
from pipeline.engine.labels import data_end
from pipeline.io.sources import open_source
from pipeline.io.warehouse import Warehouse
from pipeline.steps import score

KEEP = ["as_of_date", "account_id", "churn_probability", "probability_change", "change_reasons"]


def main(data: str = "data/warehouse.duckdb", out: str = "/tmp/why-moved") -> dict:
    cfg = load_config(None, {"data": data})
    with open_source(cfg.data) as source:
        end = data_end(source)
    days = [*score.earlier_dates(end, 4, cfg.snapshots.frequency), end]
    shuffled = days[:-1]
    random.Random(25).shuffle(shuffled)
    orders = {"date order": days, "latest first, then shuffled": [end, *shuffled],
              "re-score in the middle": [*days, days[2]]}
    rows, seconds = {}, {}
    for i, (name, order) in enumerate(orders.items()):
        store = Warehouse(Path(out) / f"order{i}.duckdb")
        started = time.perf_counter()
        for day in order:
            score.run(cfg, as_of=day, warehouse=store.url)
        seconds[name] = round(time.perf_counter() - started, 1)
        rows[name] = pd.concat([store.scores(d) for d in days]).sort_values(["as_of_date", "account_id"])
    base = rows["date order"].reset_index(drop=True)
    identical = {name: bool(frame[KEEP].reset_index(drop=True).equals(base[KEEP])) for name, frame in rows.items()}
    floor = cfg.scoring.change_min_points / 100
    result = {"dates": [str(d) for d in days], "orders": {k: [str(d) for d in v] for k, v in orders.items()},
              "rows": len(base), "identical_to_date_order": identical, "seconds": seconds}
    for name, frame in rows.items():
        moved = frame["probability_change"].abs() >= floor
        result[name] = {"moved_5_points": int(moved.sum()),
                        "explained": int(frame.loc[moved, "change_reasons"].notna().sum()),
                        "small_moves_with_a_reason": int(frame.loc[~moved, "change_reasons"].notna().sum())}
    groups = {g for c in base["contributions"] for g in json.loads(c) if "_" in g}
    pattern = re.compile("|".join(rf"\b{re.escape(g)}\b" for g in sorted(groups)))
    texts = base["reason_summary"].fillna("") + " " + base["change_reasons"].fillna("") + " " + \
        base["reasons"].map(lambda d: " ".join(r["sentence"] for part in ("risk", "protective", "context")
                                               for r in (d or {}).get(part, [])))
    result["rows_showing_a_group_identifier"] = int(texts.map(lambda t: bool(pattern.search(t))).sum())
    result["examples"] = base.loc[base["change_reasons"].notna() & (base["as_of_date"] == end),
                                  ["account_id", "change_reasons"]].head(5).values.tolist()
    return result


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:]), indent=1, default=str))
