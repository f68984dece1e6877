"""Uplift learners out of time against the generator's true uplift.

For each world (the ``outreach-varied`` preset with several seeds, where a call's effect differs
between accounts, and the ``outreach`` preset, one relative effect for every account), the
experiment is the one the world's CS team ran: every account it listed, its arm (the pipeline's
hash) and listing date, as ``churn_experiments`` would hold them. Features as of that date and
outcomes by the pipeline's labels come from :func:`pipeline.steps.uplift.experiment_frame`; the
learners are compared by :func:`models.uplift.select` (earlier cohorts train, later ones test).

Reported per world and learner: the out-of-time Qini coefficient on observed outcomes, its ratio to
the Qini coefficient of the ranking by the true uplift on the same test rows (the target: >= 0.7),
and the oracle Qini (:func:`models.uplift.oracle_qini`: the true uplift gained by the ranking, as a
share of the best ranking's; needs no outcomes, so it is far less noisy).

Writes ``benchmarks/uplift.md``.

    python -m benchmarks.uplift [--seeds 1,2,3] [--null-seeds 1] [--accounts 4000]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from models import folds as folds_
from models.uplift import LEARNERS, PARAMS, _matrix, oracle_qini, qini_coefficient
from pipeline.config import load_config
from pipeline.steps.uplift import experiment_data, fit
from pipeline.synthetic import generate_world
from pipeline.synthetic.outreach import call_uplift
from pipeline.synthetic.params import WorldParams
from pipeline.synthetic.presets import world_params

OUT = Path(__file__).with_name("uplift.md")


CEILING = "features ceiling"
KNOWABLE = "world's ceiling"


def knowable_uplift(truth: pd.DataFrame, p: WorldParams) -> pd.Series:
    """The expected uplift of each listed account given all the world knew at listing but the bad-reaction coin.

    Its own churn probability without a call and its driver-weighted save share (hidden drivers included), with
    the chance of a bad reaction (``outreach_backfire_share``) the same for every account, as the generator draws
    it: no ranking from any table can know more, so its Qini bounds every learner's.
    """
    share, prob, effect = p.outreach_backfire_share, truth["p_no_call"], truth["driver_effect"]
    return pd.Series((1 - share) * call_uplift(p, prob, effect, False) + share * call_uplift(p, prob, effect, True),
                     index=truth.index)


def ceiling_scores(frame: pd.DataFrame, features: list[str], categorical: list[str], uplift: np.ndarray,
                   test: np.ndarray) -> np.ndarray:
    """The best any learner of these features can do: LightGBM fitted to the *true* uplift of the training rows.

    No outcome noise and no arm to compare: what is left between it and the true uplift is what the
    features do not show (unobserved causes, the accounts that react badly at random).
    """
    import lightgbm as lgb

    train = ~test & np.isfinite(uplift)
    categories = {c: sorted(frame.loc[train, c].dropna().astype("string").unique()) for c in categorical}
    model = lgb.LGBMRegressor(**{**PARAMS, "random_state": 0})
    model.fit(_matrix(frame[train], features, categories), uplift[train])
    return model.predict(_matrix(frame[test], features, categories))


def world_rows(preset: str, seed: int, accounts: int | None, work: Path) -> dict:
    """Generate the world, build the experiment frame, compare the learners; one result dict."""
    folder = work / f"{preset}-{seed}"
    generate_world(folder, preset=preset, seed=seed, accounts=accounts)
    truth = pd.read_parquet(folder / "_truth" / "outreach.parquet")
    assigned = pd.DataFrame({"account_id": truth["account_id"].astype(str), "arm": truth["arm"],
                             "assigned_date": pd.to_datetime(truth["listed_on"]).dt.date})
    cfg = load_config(None, {"data": str(folder), "warehouse": str(work / "wh.duckdb")})
    data = experiment_data(cfg, assigned)
    frame = data.frame
    truth = truth.assign(account_id=truth["account_id"].astype(str), knowable=knowable_uplift(truth, world_params(preset)))
    matched = frame[["account_id"]].merge(truth[["account_id", "true_uplift", "knowable"]], on="account_id", how="left")
    uplift = matched["true_uplift"].to_numpy()
    window = folds_.label_window_days(cfg.labels)
    sel, _, message = fit(frame, data.features, data.categorical, window, true_uplift=uplift, groups=data.groups)
    out = {"world": f"{preset} seed {seed}", "listed": len(truth), "closed": len(frame), "message": message}
    if sel is None:
        return out
    test = (pd.to_datetime(frame["assigned_date"]) >= pd.Timestamp(sel.test_from)).to_numpy()
    sel.test_scores[CEILING] = ceiling_scores(frame, data.features, data.categorical, uplift, test)
    rows = frame[test]
    sel.qini[CEILING] = qini_coefficient(sel.test_scores[CEILING], rows["treated"], rows["churned"])
    sel.test_scores[KNOWABLE] = matched["knowable"].to_numpy()[test]
    sel.qini[KNOWABLE] = qini_coefficient(sel.test_scores[KNOWABLE], rows["treated"], rows["churned"])
    out.update(test_from=sel.test_from, n_train=sel.n_train, n_test=sel.n_test, chosen=sel.chosen,
               validated=sel.validated, qini=sel.qini, inner=sel.inner,
               oracle={k: oracle_qini(v, uplift[test]) for k, v in sel.test_scores.items()},
               true_sd=float(np.std(uplift[test])))
    return out


def table(results: list[dict]) -> list[str]:
    names = [*LEARNERS, CEILING, KNOWABLE, "true uplift"]
    lines = ["| world | learner | Qini training (cross-fitted) | Qini test (observed) | ratio to true uplift's "
             "| oracle Qini | chosen |", "|---|---|---:|---:|---:|---:|---|"]
    for r in results:
        if "qini" not in r:
            lines.append(f"| {r['world']} | - | - | - | - | - | {r['message']} |")
            continue
        best = r["qini"]["true uplift"]
        for name in names:
            q = r["qini"][name]
            ratio = f"{q / best:.2f}" if best > 0 else "n/a"
            mark = "**chosen**" + (" (validated)" if r["validated"] else " (not validated)") if name == r["chosen"] else ""
            inner = f"{r['inner'][name]:.4f}" if name in r["inner"] else "-"
            lines.append(f"| {r['world']} | {name} | {inner} | {q:.4f} | {ratio} | {r['oracle'][name]:.2f} | {mark} |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1,2,3", help="seeds of the outreach-varied world")
    parser.add_argument("--null-seeds", default="1", help="seeds of the homogeneous outreach world")
    parser.add_argument("--accounts", type=int, default=None, help="accounts per world (default: the preset's)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    started, results = time.perf_counter(), []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [("outreach-varied", int(s)) for s in args.seeds.split(",") if s] + [
            ("outreach", int(s)) for s in args.null_seeds.split(",") if s]
        for preset, seed in jobs:
            print(f"{preset} seed {seed} ...", flush=True)
            results.append(world_rows(preset, seed, args.accounts, Path(tmp)))
            print("\n".join(table(results[-1:])), flush=True)
    varied = [r for r in results if r["world"].startswith("outreach-varied") and "qini" in r]
    ratios = [r["qini"][r["chosen"]] / r["qini"]["true uplift"] for r in varied if r["qini"]["true uplift"] > 0]
    lines = [
        "# Uplift learners out of time vs the true uplift",
        "",
        f"Generated by `python -m benchmarks.uplift --seeds {args.seeds} --null-seeds {args.null_seeds}"
        + (f" --accounts {args.accounts}" if args.accounts else "") + "` on "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC ({platform.machine()}, "
        f"{time.perf_counter() - started:.0f} s).",
        "",
        "The experiment of each world is the one its CS team ran (listed accounts, arm by the pipeline's hash, "
        "listing date); features as of that date and outcomes by the pipeline's labels "
        "(`pipeline.steps.uplift.experiment_frame`). Earlier cohorts train (outcome windows closed before the "
        "first test cohort), later ones test. The learner is chosen on the training cohorts only: *Qini "
        "training* is its Qini coefficient cross-fitted over four runs of consecutive training cohorts "
        "(`models.uplift.inner_qini`), and the chosen learner is the most structured (rr, t, x, dr) within one "
        "bootstrap standard error of the best (`models.uplift.one_se_choice`); the test cohorts never enter the "
        "choice. *Qini test (observed)*: `models.uplift.qini_coefficient` on the test "
        "rows' outcomes; *ratio*: to the Qini of ranking the same rows by the generator's true uplift (target "
        ">= 0.7); *oracle Qini*: true uplift gained by the ranking as a share of the best ranking's "
        "(`models.uplift.oracle_qini`, no outcome noise). `risk` ranks by the estimated churn probability "
        "without a call (the churn model's order), the baseline. `rr`: risk × relative effect by reason "
        "group (`models.uplift_relative`). Every learner also reads `base_risk`, the pipeline's churn "
        "probability as of the assignment date (a churn model of all the world's accounts refitted on each "
        "snapshot date on the labels closed before it, `models.uplift_baseline.as_of_risk`): the offset of "
        "`rr`, a feature of the others. *features ceiling* is not a learner: LightGBM fitted to the generator's "
        "true uplift of the training rows (`ceiling_scores`), the most these features can tell of who responds. "
        "*world's ceiling* is not a learner either: each account's expected uplift given everything the generator "
        "knew at listing (its churn probability without a call, its save share from every driver, the hidden ones "
        "included) except the coin that makes some listed accounts react badly (`knowable_uplift`); no table "
        "shows that coin, so no ranking from the data can beat this one's Qini but by luck.",
        "",
        *table(results),
        "",
        "Accounts per arm (training / test): " + "; ".join(
            f"{r['world']}: {r['n_train']} / {r['n_test']}" for r in results if "n_train" in r),
        "",
        ("Chosen learner's Qini / true uplift's Qini on the varied worlds: "
         + ", ".join(f"{v:.2f}" for v in ratios) + f" (mean {np.mean(ratios):.2f}).") if ratios else "",
        "",
        ("Oracle Qini (noise-free) on the varied worlds: chosen learner "
         + ", ".join(f"{r['oracle'][r['chosen']]:.2f}" for r in varied) + "; world's ceiling "
         + ", ".join(f"{r['oracle'][KNOWABLE]:.2f}" for r in varied) + "; the chosen learner's share of the world's "
         "ceiling " + ", ".join(f"{r['oracle'][r['chosen']] / r['oracle'][KNOWABLE]:.2f}" for r in varied)
         + ".") if varied else "",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
