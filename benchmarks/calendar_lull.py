"""Holidays are not churn (issue 26): the trained model on lull dates against the normal dates around them.

For each world (``demo`` and ``seasonal`` have the generator's Dec 24 - Jan 1 lull; ``summer`` adds a
July 21 - August 10 shutdown the features never saw): generate it from 2024-01-01, ``churn train
--train-until`` the first evaluation date (through the CLI, as ``make quality`` does), then build the
features with labels on lull dates (at least 4 of their last 7 days inside the lull) and on normal dates around them, and
score them with the registered model. Reported per group of dates: mean predicted probability, observed
churn rate, high-tier size per date (the configured tier rule), ECE, ROC-AUC, and how often the first reason of a top-decile account
names one of its real drivers (on the dates the world's truth covers: first of the month).

Writes ``benchmarks/calendar_lull.md`` (and ``.json``).

    python -m benchmarks.calendar_lull [--worlds demo,seasonal,summer] [--accounts 2000] [--overlay FILE]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
import yaml

from benchmarks import quality as q
from benchmarks import quality_eval as qe

START = "2024-01-01"
DAYS = 900  # to 2026-06-19: the labels of the last evaluation date (2026-02-01) close
#: Evaluation dates per world: (lull dates, normal dates around them). At least 4 of a lull date's last 7 days are
#: lull days (all 7 but for Dec 28); none of a normal date's.
DATES = {
    "year_end": (["2025-12-28", "2025-12-31", "2026-01-01", "2026-01-02"],
                 ["2025-11-15", "2025-12-01", "2025-12-10", "2026-01-20", "2026-02-01"]),
    "summer": (["2025-07-28", "2025-08-01", "2025-08-05", "2025-08-11"],
               ["2025-06-15", "2025-07-01", "2025-07-10", "2025-08-25", "2025-09-01"]),
}
WORLDS = {"demo": "year_end", "seasonal": "year_end", "summer": "summer"}


def evaluation_rows(cfg_path: Path, model: qe.TrainedModel, dates: list[str]) -> pd.DataFrame:
    """Features and labels of every active account on ``dates``, in the model's vocabulary."""
    from pipeline.config import load_config
    from pipeline.engine.catalog import Vocabulary
    from pipeline.engine.engines import get_engine
    from pipeline.engine.featurize import build_features

    cfg = load_config(cfg_path)
    with get_engine(cfg.engine).source(cfg) as source:
        table = build_features(source, cfg, [date.fromisoformat(d) for d in dates],
                               vocab=Vocabulary.from_dict(model.vocabulary))
    frame = table.frame
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame[frame["label_observed"]].reset_index(drop=True)


def high_tier(rows: pd.DataFrame, model, cfg: dict) -> pd.Series:
    """Whether each row is in the high tier of its date, by the world's configured rule (the default: relative to
    the base rate the model was trained on), as ``churn score`` assigns it."""
    from models.tiers import TierRule
    from pipeline.config import Tiers

    t = Tiers.model_validate(cfg.get("scoring", {}).get("tiers", {}))
    rule, out = TierRule(t.rule, t.high, t.medium), pd.Series(False, index=rows.index)
    for _, day in rows.groupby("as_of"):
        p = day["model"].to_numpy()
        made, _ = rule.assign(p, (-p).argsort().argsort() + 1, getattr(model, "base_rate_", None))
        out[day.index] = made == "high"
    return out


def group_figures(rows: pd.DataFrame, families, truth: str) -> dict:
    """The figures of one group of dates."""
    per_date = rows.groupby("as_of")["high"].sum().astype(int)
    out = {"dates": len(per_date), "rows": len(rows), "mean_p": float(rows["model"].mean()),
           "churn_rate": float(rows["churned"].mean()), "high_per_date": float(per_date.mean()),
           "ece": qe.ece(rows["churned"], rows["model"]), "auc": qe.scores(rows, "model", True)["auc"]}
    grounding = qe.reason_grounding(rows, families, truth)
    out["reasons_real"] = grounding["names_a_real_driver"] if grounding else None
    out["reasons_rows"] = grounding["with_real_driver"] if grounding else 0
    return out


def with_generator_p(rows: pd.DataFrame, truth: pd.DataFrame, how: str = "left") -> pd.DataFrame:
    """``rows`` (``account_id``, ``as_of``) with the generator's ``true_churn_prob`` of the same account and date from
    its ``truth`` (``as_of_date``, ``account_id``, ``true_churn_prob``), merged ``how`` (left: null where the truth
    does not cover the date)."""
    t = truth.assign(as_of=pd.to_datetime(truth["as_of_date"]), account_id=truth["account_id"].astype(str))
    return rows.assign(account_id=rows["account_id"].astype(str)).merge(
        t[["account_id", "as_of", "true_churn_prob"]], on=["account_id", "as_of"], how=how)


def oracle_figures(rows: pd.DataFrame, truth: str) -> dict | None:
    """The model beside the generator's own churn probability (``true_churn_prob``, from the state it knew at the
    as-of date) on the rows the truth covers (first of the month): how much of the gap to the observed churn rate
    no model could know at the as-of date. None without a truth."""
    t = pd.read_parquet(truth)
    if "true_churn_prob" not in t.columns:
        return None
    both = with_generator_p(rows, t, how="inner")
    if both.empty:
        return None
    return {"dates": int(both["as_of"].nunique()), "rows": len(both), "mean_p": float(both["model"].mean()),
            "oracle_p": float(both["true_churn_prob"].mean()), "churn_rate": float(both["churned"].mean()),
            "ece": qe.ece(both["churned"], both["model"]), "oracle_ece": qe.ece(both["churned"], both["true_churn_prob"])}


def run_world(name: str, work: Path, cmd: list[str], accounts: int, seed: int, overlay: dict | None) -> dict:
    """Generate, train out of time and score one world on its lull and normal dates."""
    from pipeline.synthetic import generate_world

    lull, normal = DATES[WORLDS[name]]
    work.mkdir(parents=True, exist_ok=True)
    cfg_path, cfg = q.world_config(q.Spec(name), work, candidate=overlay)
    generate_world(work / "data", accounts=accounts, seed=seed, preset=name, start_date=START, days=DAYS)
    cutoff = pd.Timestamp(min(lull + normal))
    res: dict = {"world": name, "cutoff": str(cutoff.date()), "seconds": {}}
    model = q.train(cmd, cfg_path, cfg, work, cutoff, res)
    if model is None:
        return res
    rows = evaluation_rows(cfg_path, model, lull + normal)
    rows["model"] = model.risk(rows)
    families = qe.first_reason_families(model.model, rows, cfg_path)
    truth = str(work / "data" / "_truth" / "truth.parquet")
    rows["high"] = high_tier(rows, model.model, cfg)
    in_lull = rows["as_of"].isin(pd.to_datetime(lull)).to_numpy()
    res["lull"] = group_figures(rows[in_lull], families[in_lull], truth)
    res["normal"] = group_figures(rows[~in_lull], families[~in_lull], truth)
    res["oracle"] = {g: oracle_figures(rows[m], truth) for g, m in (("normal", ~in_lull), ("lull", in_lull))}
    res["all_auc"] = qe.scores(rows, "model", True)["auc"]
    res["features"] = len(model.feature_names)
    return res


def ratio(a, b) -> str:
    return f"{a / b - 1:+.1%}" if a is not None and b else "–"


def markdown(results: list[dict], meta: dict) -> str:
    lines = ["# Holidays are not churn: the model on lull dates (issue 26)", "",
             f"`{meta['command']}` at {meta['git']}, {meta['when']}; {meta['accounts']} accounts per world, "
             f"seed {meta['seed']}, generated from {START} for {DAYS} days; overlay: {meta['overlay'] or 'none'}.",
             "", "Targets: mean probability on lull dates within ±10 % of the normal dates around them, high tier "
             "within ±15 %, ECE on lull dates ≤ 0.02; first reasons of the top decile name a real driver as often.",
             "", "| world | dates | mean p | churn rate | high tier / date | ECE | AUC | first reason names a real "
             "driver |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if "lull" not in r:
            lines.append(f"| {r['world']} | failed: {r.get('error', r.get('status'))} | | | | | | |")
            continue
        for g in ("normal", "lull"):
            f = r[g]
            reasons = f"{f['reasons_real']:.0%} of {f['reasons_rows']}" if f["reasons_real"] is not None else "–"
            lines.append(f"| {r['world']} | {g} ({f['dates']}) | {f['mean_p']:.4f} | {f['churn_rate']:.4f} | "
                         f"{f['high_per_date']:.1f} | {f['ece']:.4f} | {f['auc']:.4f} | {reasons} |")
        n, lu = r["normal"], r["lull"]
        lines.append(f"| {r['world']} | **lull vs normal** | **{ratio(lu['mean_p'], n['mean_p'])}** | "
                     f"{ratio(lu['churn_rate'], n['churn_rate'])} | **{ratio(lu['high_per_date'], n['high_per_date'])}**"
                     f" | | {'all dates %.4f' % r['all_auc'] if r.get('all_auc') else ''} | |")
    oracle = [(r["world"], g, o) for r in results for g, o in (r.get("oracle") or {}).items() if o]
    if oracle:
        lines += ["", "Beside the generator's own probability (`true_churn_prob`, from the state it knew at the as-of "
                  "date), on the dates its truth covers (first of the month):", "",
                  "| world | dates | rows | mean p | generator's p | churn rate | ECE | generator's ECE |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {w} | {g} ({o['dates']}) | {o['rows']} | {o['mean_p']:.4f} | {o['oracle_p']:.4f} | "
                  f"{o['churn_rate']:.4f} | {o['ece']:.4f} | {o['oracle_ece']:.4f} |" for w, g, o in oracle]
    lines += ["", "Dates: " + "; ".join(f"{k}: lull {', '.join(v[0])}, normal {', '.join(v[1])}"
                                        for k, v in DATES.items()), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worlds", default="demo,seasonal,summer", help=f"comma-separated subset of {', '.join(WORLDS)}")
    ap.add_argument("--accounts", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--overlay", type=Path, help="a YAML change under test, merged into every world's config")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("calendar_lull.md"))
    ap.add_argument("--keep", type=Path, help="keep every world's data, logs and MLflow here")
    ap.add_argument("--churn", help="CLI command to run (default .venv/bin/churn)")
    args = ap.parse_args(argv)
    overlay = yaml.safe_load(args.overlay.read_text()) if args.overlay else None
    cmd = q.churn_command(args.churn)
    results = []
    with tempfile.TemporaryDirectory(prefix="churn-lull-") as tmp:
        root = args.keep or Path(tmp)
        for name in args.worlds.split(","):
            q.say(f"[{name}] ...")
            res = run_world(name, root / name, cmd, args.accounts, args.seed, overlay)
            results.append(res)
            q.say(f"[{name}] {json.dumps({k: res.get(k) for k in ('lull', 'normal')}, default=str)}")
    meta = {"when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "git": q.git_state(),
            "command": "python -m benchmarks.calendar_lull " + shlex.join(argv if argv is not None else sys.argv[1:]),
            "accounts": args.accounts, "seed": args.seed, "overlay": overlay}
    args.out.write_text(markdown(results, meta))
    args.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str))
    q.say(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
