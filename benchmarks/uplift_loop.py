"""Closed loop: the CS team calls the first K accounts of a ranking each week; MRR kept over a year.

For each ``outreach-varied`` world (a call's effect differs between accounts), the candidates of a
week are the accounts the world's CS team listed that week (both arms: here the ranking decides
whom to call), with features as of their listing date. Each quarter of the last year of the world
the pipeline refits on what it knows then (outcomes whose windows closed before the quarter
starts): the uplift model by :func:`pipeline.steps.uplift.fit` (learner chosen on training cohorts,
validated or not on later ones). The churn probability is what ``churn score`` gives the listed
account on its listing date: ``base_risk``, a churn model of every account of the world refitted on
each snapshot date on the labels closed before it (:func:`models.uplift_baseline.as_of_risk`), which
the uplift learners read too, as in ``churn train-uplift`` (where no label had closed yet, a churn
model of the experiment's own closed outcomes stands in). Each week every policy calls its first K
accounts (the same K for every policy):

* ``probability``: the estimated churn probability;
* ``probability x MRR``: the estimated revenue at risk;
* ``expected_saved_mrr``: what ``churn_scores.expected_saved_mrr`` holds: the uplift model's
  reduction of churn probability × MRR when the model is validated, probability × MRR before;
* ``uplift x MRR``: the chosen uplift model × MRR even when it is not validated;
* ``true uplift x MRR``: the generator's true uplift × MRR, the ceiling.

MRR kept is an *expected value from the generator's truth*, not a re-simulation: each called
account adds its true uplift (churn probability without a call minus with one, over the label
horizon, ``_truth/outreach.parquet``) × its MRR at listing. The gain of ``expected_saved_mrr``
over ``probability`` is given per seed with a t interval (95 %) over seeds.

Writes ``benchmarks/uplift_loop.md``.

    python -m benchmarks.uplift_loop [--seeds 1,2,3] [--calls 5,10]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import stats

from models import folds as folds_
from models.experiments import OUTREACH
from models.uplift import PARAMS
from models.uplift_baseline import BASE_RISK, as_of_risk
from pipeline.config import load_config
from pipeline.engine.engines import get_engine
from pipeline.engine.featurize import build_features
from pipeline.engine.labels import data_end, snapshot_dates
from pipeline.steps.uplift import fit
from pipeline.synthetic import generate_world

OUT = Path(__file__).with_name("uplift_loop.md")
POLICIES = ("probability", "probability x MRR", "expected_saved_mrr", "uplift x MRR", "true uplift x MRR")


def listed_frame(preset: str, seed: int, work: Path) -> tuple[pd.DataFrame, dict]:
    """Every listed account with its features as of its listing date, the truth, and whether its outcome closed."""
    folder = work / f"{preset}-{seed}"
    generate_world(folder, preset=preset, seed=seed)
    truth = pd.read_parquet(folder / "_truth" / "outreach.parquet")
    truth["account_id"] = truth["account_id"].astype(str)
    cfg = load_config(None, {"data": str(folder), "warehouse": str(work / "wh.duckdb")})
    window = folds_.label_window_days(cfg.labels)
    dates = sorted(pd.to_datetime(truth["listed_on"]).dt.date.unique())
    with get_engine(cfg.engine).source(cfg) as source:
        end = data_end(source)
        table = build_features(source, cfg, dates, with_labels=True, end=end)
        refits = [d for d in snapshot_dates(source, cfg, end=end) if d <= max(dates)]
        book = build_features(source, cfg, refits, vocab=table.vocabulary, with_labels=True, end=end).frame
    panel = table.frame.assign(as_of=pd.to_datetime(table.frame["as_of"]).dt.date)
    frame = truth.assign(assigned_date=pd.to_datetime(truth["listed_on"]).dt.date).merge(
        panel, left_on=["account_id", "assigned_date"], right_on=["account_id", "as_of"], how="inner")
    frame["treated"] = (frame["arm"] == OUTREACH).astype(int)
    frame["label_observed"] = frame["label_observed"].astype(bool)
    frame["churned"] = frame["churned"].fillna(0).astype(int)
    frame[BASE_RISK] = as_of_risk(book, frame, table.feature_names, table.categorical, window, refits, seed)
    meta = {"features": [*table.feature_names, BASE_RISK], "categorical": table.categorical, "window": window,
            "end": end, "groups": {f.name: f.family for f in table.features} | {BASE_RISK: BASE_RISK}}
    return frame, meta


def _churn_model(rows: pd.DataFrame, features: list[str], categorical: list[str], seed: int):
    levels = {c: sorted(rows[c].dropna().astype(str).unique()) for c in categorical}

    def matrix(frame):
        x = frame[features].copy()
        for c, lv in levels.items():
            x[c] = pd.Categorical(x[c].astype("string"), categories=lv)
        return x

    model = lgb.LGBMClassifier(**{**PARAMS, "random_state": seed}).fit(matrix(rows), rows["churned"])
    return lambda frame: model.predict_proba(matrix(frame))[:, 1]


def quarters(end: date) -> list[pd.Timestamp]:
    """Starts of the four quarters of the year before ``end``."""
    last = pd.Timestamp(end) - pd.DateOffset(years=1)
    return [last + pd.DateOffset(months=3 * k) for k in range(4)]


def run_loop(frame: pd.DataFrame, meta: dict, calls: list[int], seed: int = 0) -> dict:
    """MRR kept over the last year by each policy and K; plus the uplift model of each quarter."""
    feats, cats, window = meta["features"], meta["categorical"], meta["window"]
    listed = pd.to_datetime(frame["assigned_date"])
    kept = {k: dict.fromkeys(POLICIES, 0.0) for k in calls}
    fits, starts = [], quarters(meta["end"])
    for q, start in enumerate(starts):
        stop = starts[q + 1] if q + 1 < len(starts) else pd.Timestamp(meta["end"])
        known = frame[folds_.closed_before(frame["assigned_date"], start.date(), window) & frame["label_observed"]]
        known = known.reset_index(drop=True)
        sel, model, message = fit(known, feats, cats, window, seed=seed, groups=meta["groups"])
        own = [f for f in feats if f != BASE_RISK]
        prob = _churn_model(known, own, cats, seed)
        rows = frame[(listed >= start) & (listed < stop)].reset_index(drop=True)
        base = rows[BASE_RISK].to_numpy(float)
        mrr, p = rows["mrr"].fillna(0).to_numpy(float), np.where(np.isnan(base), prob(rows), base)
        uplift = model.predict(rows) if model is not None else None
        validated = bool(sel and sel.validated)
        scores = {"probability": p, "probability x MRR": p * mrr,
                  "expected_saved_mrr": (uplift if validated else p) * mrr,
                  "uplift x MRR": (uplift if uplift is not None else p) * mrr,
                  "true uplift x MRR": rows["true_uplift"].to_numpy() * mrr}
        value = rows["true_uplift"].to_numpy() * mrr
        week = ((pd.to_datetime(rows["assigned_date"]) - start).dt.days // 7).to_numpy()
        for w in np.unique(week):
            idx = np.flatnonzero(week == w)
            for k in calls:
                for name, s in scores.items():
                    top = idx[np.argsort(-s[idx], kind="stable")[:k]]
                    kept[k][name] += float(value[top].sum())
        fits.append({"quarter": str(start.date()), "rows": len(known), "listed": len(rows),
                     "chosen": sel.chosen if sel else None, "validated": validated,
                     "message": message if sel is None else f"{sel.chosen}, {'validated' if validated else 'not validated'}"})
    return {"kept": kept, "fits": fits}


def interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95 % t interval over seeds."""
    v = np.asarray(values, float)
    if v.size < 2:
        return float(v.mean()), float("nan"), float("nan")
    half = stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size)
    return float(v.mean()), float(v.mean() - half), float(v.mean() + half)


def report(results: dict, calls: list[int], command: str, seconds: float) -> list[str]:
    seeds = sorted(results)
    lines = ["# Closed loop: MRR kept by calling the first K accounts of a ranking each week", "",
             f"Generated by `{command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC ({platform.machine()}, "
             f"{seconds:.0f} s).", "", __doc__.split("\n\n", 1)[1].rsplit("\n\nWrites", 1)[0], ""]
    for k in calls:
        lines += [f"## K = {k} calls a week", "",
                  "| policy | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | vs probability (mean, 95 % CI) |",
                  "|---|" + "---:|" * (len(seeds) + 2)]
        for name in POLICIES:
            kept = [results[s]["kept"][k][name] for s in seeds]
            gain = [results[s]["kept"][k][name] / results[s]["kept"][k]["probability"] - 1 for s in seeds]
            m, lo, hi = interval(gain)
            lines.append(f"| {name} | " + " | ".join(f"{v:,.0f}" for v in kept) + f" | {np.mean(kept):,.0f} | "
                         + ("-" if name == "probability" else f"{m:+.0%} ({lo:+.0%} to {hi:+.0%})") + " |")
        m, lo, hi = interval([results[s]["kept"][k]["expected_saved_mrr"] / results[s]["kept"][k]["probability"] - 1
                              for s in seeds])
        met = m >= 0.2 and lo > 0
        lines += ["", f"Target (expected_saved_mrr keeps >= 20 % more MRR than probability, CI excluding 0): "
                  f"{'**met**' if met else '**not met**'} ({m:+.0%}, 95 % CI {lo:+.0%} to {hi:+.0%}).", ""]
    lines += ["## The uplift model of each quarter", "", "| seed | quarter from | closed rows | listed in quarter | model |",
              "|---|---|---:|---:|---|"]
    for s in seeds:
        lines += [f"| {s} | {f['quarter']} | {f['rows']} | {f['listed']} | {f['message']} |" for f in results[s]["fits"]]
    return lines + [""]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1,2,3", help="seeds of the outreach-varied world")
    parser.add_argument("--calls", default="5,10", help="K: calls a week (same for every policy)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    calls = [int(k) for k in args.calls.split(",")]
    started, results = time.perf_counter(), {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in [int(s) for s in args.seeds.split(",") if s]:
            print(f"outreach-varied seed {seed} ...", flush=True)
            frame, meta = listed_frame("outreach-varied", seed, Path(tmp))
            results[seed] = run_loop(frame, meta, calls)
            print(results[seed], flush=True)
    command = f"python -m benchmarks.uplift_loop --seeds {args.seeds} --calls {args.calls}"
    args.out.write_text("\n".join(report(results, calls, command, time.perf_counter() - started)))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
