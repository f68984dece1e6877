"""The drift check of ``make quality`` again on kept runs, with the references today's code records.

``python -m benchmarks.quality --keep DIR`` keeps each world's panel, config and model. This
re-computes the model's drift references from the kept panel the way ``churn train`` does now
(whole history and the last ``scoring.drift_recent_days`` up to the first test date; tenure aged,
windows compared among accounts with their history, date-relative features left out), then checks
every test date and a shift injected into the last one, as the harness does. No retraining: the
trees are the kept model's. Writes a markdown table.

    python -m benchmarks.quality_drift --keep DIR --report DIR/quality.json [--out benchmarks/quality_drift.md]
"""

from __future__ import annotations

import argparse
import glob
import json
import subprocess
from datetime import timedelta
from pathlib import Path

import joblib
import pandas as pd

from benchmarks.quality_eval import drift_on_test_dates
from pipeline.config import load_config
from pipeline.engine.catalog import Vocabulary, catalog

TABLES = {"usage_events", "support_tickets", "milestones", "nps_responses", "subscriptions", "accounts"}


def recheck(folder: Path, world: dict) -> dict:
    """:func:`benchmarks.quality_eval.drift_on_test_dates` of one kept world with references recorded anew."""
    model = joblib.load(glob.glob(f"{folder}/mlruns/**/churn_model.joblib", recursive=True)[0])
    cfg = load_config(folder / "config.yaml")
    feats = {f.name: f for f in catalog(cfg, Vocabulary.from_dict(model.vocabulary_), TABLES)}
    panel = pd.read_parquet(folder / "panel.parquet")
    panel["as_of"] = pd.to_datetime(panel["as_of"]).dt.date
    tests = sorted(pd.to_datetime(world["split"]["test_dates"]).date)
    until = tests[0]
    recent = panel[(panel["as_of"] <= until) & (panel["as_of"] > until - timedelta(days=cfg.scoring.drift_recent_days))]
    names = [n for n in model.feature_names_ if n in feats]
    model.set_drift_references(panel[(panel["as_of"] < until) & panel["label_observed"]], recent,
                               ages=[n for n in names if feats[n].definition.ages],
                               history={n: feats[n].history_days for n in names if feats[n].history_days},
                               skip=[n for n in names if feats[n].definition.date_relative],
                               weekly=[n for n in names if feats[n].definition.weekday])
    test = panel[panel["as_of"].isin(tests)]
    return drift_on_test_dates(model, test, {"scoring": {"psi_threshold": cfg.scoring.psi_threshold}})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, required=True)
    ap.add_argument("--report", type=Path, required=True, help="the kept run's quality.json")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("quality_drift.md"))
    args = ap.parse_args(argv)
    report = json.loads(args.report.read_text())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    lines = ["# Drift check on the kept zoo runs, references recorded by today's code", "",
             f"`python -m benchmarks.quality_drift --keep {args.keep} --report {args.report}` at commit {commit}, "
             f"on the runs of `{report['meta']['command']}` (commit {report['meta']['git']}). Target: no warning "
             "on every test date of any world; the injected shift (the most important numeric feature the check "
             "compares, + 1 SD on the last test date) caught everywhere.", "",
             "| world | test dates warned | drifted features (date: features) | injected shift | caught |",
             "|---|---|---|---|---|"]
    for world in report["worlds"]:
        found = recheck(args.keep / world["world"], world)
        shown = "; ".join(f"{d}: {', '.join(v)}" for d, v in found["by_date"].items() if v) or "—"
        lines.append(f"| {world['world']} | {found['warned_dates']} of {found['dates']} | {shown} | "
                     f"{found['injected']} | {'yes' if found['injected_caught'] else 'no'} |")
        print(lines[-1], flush=True)
    args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
