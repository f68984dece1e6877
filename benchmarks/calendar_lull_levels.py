"""Why a world's model sits below the churn rate of its lull dates: the level of a kept ``calendar_lull`` run, date by date.

For a world kept by ``python -m benchmarks.calendar_lull --keep DIR``, scores every first of the month from
``--first`` to the last labelled one, and the benchmark's lull and normal dates, with the registered model; per date:
the observed churn rate, the model's mean probability, the booster's own (uncalibrated) mean probability, the
generator's own probability (``true_churn_prob``: the churn risk of the state it knew at the as-of date) and the
ECE of the model and of the generator's probability. A gap the generator's probability has too is in the outcomes
after the as-of date, not in anything a feature could know.

    python -m benchmarks.calendar_lull_levels --keep DIR/demo [--world demo] [--first 2024-07-01]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import calendar_lull as cl
from benchmarks import quality_eval as qe


def levels(keep: Path, world: str, first: str) -> pd.DataFrame:
    """One row per date: rows, churn rate, model / booster / generator mean probability, model / generator ECE."""
    model = qe.load_trained_model(f"sqlite:///{keep}/mlflow.db", "churn-model", "1")
    lull, normal = cl.DATES[cl.WORLDS[world]]
    months = [d.strftime("%Y-%m-%d") for d in pd.date_range(first, max(lull + normal), freq="MS")]
    rows = cl.evaluation_rows(keep / "config.yaml", model, sorted(set(months) | set(lull) | set(normal)))
    rows["model"] = model.risk(rows)
    rows["booster"] = 1.0 / (1.0 + np.exp(-model.model.raw_score(rows)))
    truth = pd.read_parquet(keep / "data" / "_truth" / "truth.parquet")
    return date_levels(rows, truth, lull, normal)


def date_levels(rows: pd.DataFrame, truth: pd.DataFrame, lull: list[str], normal: list[str]) -> pd.DataFrame:
    """:func:`levels` of scored ``rows`` (``as_of``, ``account_id``, ``churned``, ``model``, ``booster``) and the
    world's ``truth`` (``as_of_date``, ``account_id``, ``true_churn_prob``; it covers some dates only)."""
    rows = cl.with_generator_p(rows, truth)
    out = []
    for day, g in rows.groupby("as_of"):
        o = g.dropna(subset=["true_churn_prob"])
        out.append({"as_of": day.date(), "group": "lull" if str(day.date()) in lull else
                    "normal" if str(day.date()) in normal else "", "rows": len(g),
                    "churn_rate": g["churned"].mean(), "model_p": g["model"].mean(), "booster_p": g["booster"].mean(),
                    "generator_p": o["true_churn_prob"].mean() if len(o) else np.nan,
                    "model_ece": qe.ece(g["churned"], g["model"]),
                    "generator_ece": qe.ece(o["churned"], o["true_churn_prob"]) if len(o) else np.nan})
    return pd.DataFrame(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keep", type=Path, required=True, help="one world's folder of a kept calendar_lull run")
    ap.add_argument("--world", default="demo", help=f"its world: one of {', '.join(cl.WORLDS)}")
    ap.add_argument("--first", default="2024-07-01", help="first month start to score")
    args = ap.parse_args(argv)
    table = levels(args.keep, args.world, args.first)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
