"""Time-to-churn curves out of time: the hazard model beside the classifier, the health score, Cox and the oracle.

For each world (the zoo's generator presets, plus ``<preset>@<days>``: the preset
cut to that many days of history before the first test date) the harness of
``benchmarks.quality`` generates the data, builds the panel (``churn features
--panel``: it carries ``next_churn_date``, the first churn within 180 days) and
trains the classifier with ``churn train --train-until CUTOFF`` (the same split as
``make quality``). On the rows known at the cutoff it fits, in process:

* ``hazard``: :class:`models.hazard.HazardModel` on every snapshot before the
  cutoff, censored ones contributing the periods they observed;
* ``hazard_closed``: the same on the snapshots whose label window closed before
  the cutoff only (what the classifier may use): do censored rows help?
* ``cox``: lifelines' Cox proportional hazards on the same features (numeric,
  missing values at the training median, categoricals one-hot), same rows as ``hazard``.

All are measured on the test rows of ``make quality``'s split, but with the
180-day window: the last snapshot dates whose 180 + grace days closed before the
data end (for short-history worlds the world is generated that much longer): time-dependent ROC-AUC at 30/60/90/180 days and the
IPCW integrated Brier score (:mod:`models.survival_metrics`). The classifier,
the health score and the oracle (the world's recorded probability, of churn
within its truth horizon) have one score per row: their AUC is of that score at
every t. Writes ``benchmarks/hazard.md`` and ``benchmarks/hazard.json``.

    python -m benchmarks.hazard --worlds demo,short,monthly,annual,monthly@274
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import quality as q
from benchmarks import quality_eval as qe
from models import survival_metrics as sm
from models.hazard import HazardModel, anchor, durations

PERIOD_DAYS, PERIODS = 30, 6
DAYS = [PERIOD_DAYS * (k + 1) for k in range(PERIODS)]
SHOWN = (30, 60, 90, 180)
#: Churners and survivors a per-horizon model needs among its training rows (else that horizon is not reported).
MIN_EVENTS = 20
#: The issue's targets.
ORACLE_RATIO, MAX_LOSS_VS_CLASSIFIER = 0.97, 0.005


def spec_for(name: str) -> q.Spec:
    """A zoo world, or ``preset@days``: the preset with that many days of history before the test dates."""
    base, _, days = name.partition("@")
    spec = q.zoo()[base]
    return replace(spec, history_days=int(days)) if days else spec


def cox_curves(train: pd.DataFrame, test: pd.DataFrame, feats: list[str], cats: list[str], duration, event):
    """lifelines' CoxPHFitter on the same features: P(churn by each of :data:`DAYS`) for ``test``."""
    from lifelines import CoxPHFitter

    numeric = [c for c in feats if c not in cats]
    med = train[numeric].apply(pd.to_numeric, errors="coerce").median()

    def design(rows: pd.DataFrame) -> pd.DataFrame:
        x = rows[numeric].apply(pd.to_numeric, errors="coerce").fillna(med).fillna(0.0)
        dummies = [pd.get_dummies(rows[c].astype("string"), prefix=c, dtype="float64") for c in cats]
        return pd.concat([x.reset_index(drop=True), *[d.reset_index(drop=True) for d in dummies]], axis=1)

    x_train, x_test = design(train), design(test)
    x_test = x_test.reindex(columns=x_train.columns, fill_value=0.0)
    keep = [c for c in x_train.columns if x_train[c].std() > 0]
    mu, sd = x_train[keep].mean(), x_train[keep].std()
    data = ((x_train[keep] - mu) / sd).assign(duration=duration, event=event)
    cph = CoxPHFitter(penalizer=0.1).fit(data[data["duration"] > 0], "duration", "event")
    surv = cph.predict_survival_function((x_test[keep] - mu) / sd, times=DAYS)
    return 1.0 - surv.to_numpy().T


def per_horizon_aucs(before: pd.DataFrame, test: pd.DataFrame, cutoff, grace: int, observed, fit_predict) -> dict:
    """Time-dependent AUC of one model per horizon ``t`` of :data:`SHOWN`, each fitted on "churned within t days".

    The rows are the snapshots before the cutoff whose ``t`` days had been seen by it; ``fit_predict(known, test)``
    fits on ``known`` (its ``churned`` column is the t-day label) and returns probabilities for ``test``, or
    ``None`` (then nothing is reported). A horizon with fewer than :data:`MIN_EVENTS` churners or survivors among
    the known rows is left out.
    """
    duration, event = observed
    out: dict[str, float] = {}
    for t in SHOWN:
        d, e = durations(before, cutoff.date(), grace, t)
        seen = (e == 1) | (d >= t)
        if min(int(e[seen].sum()), int((e[seen] == 0).sum())) < MIN_EVENTS:
            continue
        p = fit_predict(before[seen].assign(churned=e[seen]), test)
        if p is None:
            return {}
        out[f"auc_{t}"] = sm.time_auc(duration, event, p, t)
    return out


def evaluate(panel: pd.DataFrame, split, model, res: dict, cfg: dict, end) -> None:
    """Fit the hazard models and Cox at the cutoff; measure every scorer on the test rows."""
    cutoff, train_dates, test_dates = split
    labels = cfg["labels"]
    grace = int(labels["grace_days"])
    feats, cats = qe.feature_columns(panel)
    before = panel[panel["as_of"] < cutoff].reset_index(drop=True)
    window = pd.Timedelta(days=int(labels["horizon_days"]) + grace)  # the classifier's label window
    closed = panel[panel["as_of"] + window < cutoff].reset_index(drop=True)
    test = panel[panel["label_observed"] & panel["as_of"].isin(test_dates)].reset_index(drop=True)
    duration, event = durations(test, end.date(), grace, DAYS[-1])
    scores: dict[str, np.ndarray] = {}
    curves: dict[str, np.ndarray] = {}
    fitted: dict[str, HazardModel] = {}
    seconds = res.setdefault("seconds", {})
    for name, rows in (("hazard", before), ("hazard_closed", closed)):
        t = time.perf_counter()
        hz = HazardModel(PERIOD_DAYS, PERIODS).fit(rows, cutoff.date(), grace, trees=200, feature_names=feats,
                                                   categorical=cats)
        curves[name] = hz.predict_curve(test)
        fitted[name] = hz
        seconds[name] = time.perf_counter() - t
        res.setdefault("rows", {})[name] = {"snapshots": len(rows), "period_rows": hz.rows_, "events": hz.events_}
    t = time.perf_counter()
    try:
        d_train, e_train = durations(before, cutoff.date(), grace, DAYS[-1])
        curves["cox"] = cox_curves(before, test, feats, cats, d_train, e_train)
    except Exception as exc:  # noqa: BLE001 - recorded in the report
        res["cox_error"] = f"{type(exc).__name__}: {exc}"
    seconds["cox"] = time.perf_counter() - t
    if model is not None:
        scores["classifier"] = model.risk(test)
        h = int(labels["horizon_days"])
        raw = curves["hazard"]
        curves["anchored"] = anchor(raw, DAYS, fitted["hazard"].at(raw, h), scores["classifier"], h)
        inner = getattr(model, "model", None)  # the ChurnModel behind the harness's TrainedModel
        res["serving"] = getattr(inner, "serving_", "classifier")
        registered = getattr(inner, "hazard_", None)
        if registered is not None:  # what `churn score` writes: the registered model's own time-to-churn model
            own = registered.predict_curve(test)
            at_h = registered.at(own, h)
            curves["served"] = own if res["serving"] == "hazard" else anchor(own, DAYS, at_h, scores["classifier"], h)
    scores["health"] = qe.health_risk(test, cfg.get("training", {}).get("health_score", "configs/health_score.yaml"))
    ceiling: dict[str, float] = {}
    if res.get("truth"):
        oracle = qe.attach_oracle(test, res["truth"]).to_numpy()
        if np.isfinite(oracle).all():
            scores["oracle"] = oracle
        ceiling = per_horizon_aucs(before, test, cutoff, grace, (duration, event),
                                   lambda known, rows: qe.driver_ceiling(known, rows, res["truth"]))
    direct = per_horizon_aucs(before, test, cutoff, grace, (duration, event), qe.plain_lightgbm)
    res["test"] = {"rows": len(test), "churned_by": {str(t): int(((duration <= t) & (event == 1)).sum()) for t in SHOWN},
                   "censored_before_180": int(((duration < DAYS[-1]) & (event == 0)).sum())}
    out: dict[str, dict] = {}
    for name, c in curves.items():
        out[name] = {f"auc_{t}": sm.time_auc(duration, event, c[:, DAYS.index(t)], t) for t in SHOWN}
        out[name]["ibs"] = sm.integrated_brier(duration, event, c, DAYS)
        h = int(labels["horizon_days"])
        if h in DAYS:
            out[name][f"brier_{h}"] = sm.brier(duration, event, c[:, DAYS.index(h)], h)
    for name, s in scores.items():
        out[name] = {f"auc_{t}": sm.time_auc(duration, event, s, t) for t in SHOWN}
    if ceiling:
        out["driver ceiling"] = ceiling
    if direct:
        out["per horizon"] = direct
    if "classifier" in scores and int(labels["horizon_days"]) in DAYS:
        h = int(labels["horizon_days"])
        out["classifier"][f"brier_{h}"] = sm.brier(duration, event, scores["classifier"], h)
    res["scores"] = out
    mine = served(res)
    if "cox" in curves and mine in curves:  # is the served curve's IBS below Cox's by more than chance?
        gap, low, high = sm.ibs_difference(duration, event, curves[mine], curves["cox"], DAYS, test["account_id"])
        res["ibs_vs_cox"] = {"scorer": mine, "gap": gap, "low": low, "high": high}


def run_world(name: str, work: Path, cmd, size: dict, seed: int) -> dict:
    """One world through the quality harness, then :func:`evaluate`; failures are recorded."""
    spec = spec_for(name)
    res: dict = {"world": name, "status": "ok", "seconds": {}}
    started = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    cfg_path, cfg = q.world_config(spec, work)
    labels = cfg["labels"]
    # the test snapshots must have seen 180 days (plus grace) for the 180-day column: an earlier cut than make
    # quality's on the same world, the same cut for every scorer (the classifier is trained at it too)
    reach = max(int(labels["horizon_days"]), DAYS[-1])
    window = reach + int(labels["grace_days"])
    longer = {**cfg, "labels": {**labels, "horizon_days": reach}}
    res["settings"] = {"horizon_days": labels["horizon_days"], "grace_days": labels["grace_days"],
                       "frequency": cfg.get("snapshots", {}).get("frequency"), "config": spec.overlay or "pipeline.yaml"}
    try:
        res.update(q.make_world(spec, work / "data", size, longer, seed, False))
        q.churn(cmd, ["features", "--data", str(work / "data"), "--panel", "--no-validate",
                      "--out", str(work / "panel.parquet"), "--config", str(cfg_path)], work / "features.log")
        panel = qe.read_panel(work / "panel.parquet")
        end = pd.Timestamp(res["data_end"])
        closed = panel.assign(label_observed=panel["as_of"] + pd.Timedelta(days=window) < end)
        split = qe.split(closed, window, spec.test_snapshots)
        res["split"] = {"cutoff": str(split[0].date()), "test_dates": [str(pd.Timestamp(d).date()) for d in split[2]],
                        "history_days": int((split[0] - pd.Timestamp(res["data_start"])).days)}
        model = q.train(cmd, cfg_path, cfg, work, split[0], res)
        if model is not None and not set(model.feature_names) <= set(panel.columns):
            raise RuntimeError("the model's vocabulary differs from the panel's (rebuild not supported here)")
        evaluate(panel, split, model, res, cfg, end)
    except Exception as exc:  # noqa: BLE001
        res.update(status="error", error=f"{type(exc).__name__}: {exc}")
    res["seconds"]["total"] = time.perf_counter() - started
    return res


def _f(v) -> str:
    return "—" if v is None else f"{v:.3f}"


def _ratio_30(res: dict, reference: str) -> str:
    s = res.get("scores") or {}
    mine, ref = (s.get(served(res)) or {}).get("auc_30"), (s.get(reference) or {}).get("auc_30")
    return "—" if mine is None or not ref else f"{mine / ref:.3f}"


def served(res: dict) -> str:
    """The curve `churn score` writes (``served``); for results without it, ``hazard`` anchored to the classifier
    unless training chose the hazard model."""
    s = res.get("scores") or {}
    if "served" in s:
        return "served"
    return "anchored" if res.get("serving", "classifier") == "classifier" and "anchored" in s else "hazard"


def misses(res: dict) -> list[str]:
    """The issue's targets this world misses, on the served curve."""
    s = res.get("scores") or {}
    hz, out = s.get(served(res)) or {}, []
    oracle, clf, cox = s.get("oracle") or {}, s.get("classifier") or {}, s.get("cox") or {}
    if oracle.get("auc_30") and hz.get("auc_30") is not None and hz["auc_30"] < ORACLE_RATIO * oracle["auc_30"]:
        out.append(f"30-day AUC {hz['auc_30'] / oracle['auc_30']:.3f} x oracle < {ORACLE_RATIO}")
    if clf.get("auc_90") is not None and hz.get("auc_90") is not None and hz["auc_90"] < clf["auc_90"] - MAX_LOSS_VS_CLASSIFIER:
        out.append(f"90-day AUC {hz['auc_90'] - clf['auc_90']:+.3f} vs classifier")
    if cox.get("ibs") is not None and hz.get("ibs") is not None and hz["ibs"] >= cox["ibs"]:
        out.append(f"IBS {hz['ibs']:.4f} not below Cox {cox['ibs']:.4f}")
    return out


def _ibs_gap(res: dict) -> str:
    gap = res.get("ibs_vs_cox")
    return "—" if not gap else f"{gap['gap']:+.4f} [{gap['low']:+.4f}, {gap['high']:+.4f}]"


def report(results: list[dict], meta: dict) -> str:
    lines = ["# Time-to-churn curves out of time", "",
             f"Generated by `{meta['command']}` on {meta['when']} (git {meta['git']}; {meta['machine']}; "
             f"{meta['size']['accounts']} accounts per world, seed {meta['seed']}, {meta['seconds']:.0f} s).", "",
             "Time-dependent ROC-AUC (cumulative/dynamic, IPCW) at 30/60/90/180 days and the IPCW integrated Brier "
             "score over 30..180 days (lower is better) on the last snapshot dates whose 180 + grace days "
             "closed before the data end (the first of them is the training cutoff of every scorer; short-history "
             "worlds are generated that much longer). `hazard`: the discrete-time hazard "
             "model on every snapshot before the cutoff (censored ones contribute the periods they observed); "
             "`hazard_closed`: the same on the classifier's rows only (label window closed before the cutoff); "
             "`anchored`: `hazard`'s curve anchored to the classifier's probability at the horizon "
             "(`models.hazard.anchor`: the classifier's level there, the hazard model's shape; what `churn score` "
             "writes when the classifier serves the horizon, but from the harness's own fit); `served`: what "
             "`churn score` writes, from the registered model's own time-to-churn model (`hazard_`, fitted by "
             "`churn train --train-until CUTOFF` on the same rows with the pipeline's monotone constraints and "
             "LightGBM parameters), anchored to the classifier unless training chose the hazard model; "
             "`per horizon`: a plain LightGBM (200 trees x 7 leaves, the quality harness's) fitted for each t on "
             "\"churned within t days\" of the snapshots before the cutoff that had seen t days, from the features "
             "(one model per column, no curve; a check of what the hazard model's one booster loses at each t); "
             "`cox`: lifelines 0.30.3 CoxPHFitter (penalizer 0.1) on the same features and rows as `hazard`; "
             "`classifier`: the model `churn train --train-until CUTOFF` registered (one probability, of churn within "
             "the horizon); `health`: 100 - health score; `oracle`: the world's recorded probability of churn within "
             "its truth horizon (90 days), ranked against each t; `driver ceiling`: a plain LightGBM (200 trees x 7 "
             "leaves) fitted, for each t, on \"churned within t days\" of the snapshots before the cutoff that had "
             "seen t days, from the generator's *true* pushes of every observable driver and the contract timing "
             "(`benchmarks.quality_eval.driver_ceiling`): what a model of these labels reaches if its features "
             "measured the drivers exactly (the gap to the oracle is the unpredictable part and the finite "
             "training set).", "",
             "| world | scorer | AUC 30 d | AUC 60 d | AUC 90 d | AUC 180 d | IBS | Brier at horizon |",
             "|---|---|---|---|---|---|---|---|"]
    for res in results:
        s = res.get("scores") or {}
        if not s:
            lines.append(f"| {res['world']} | {res['status']}: {res.get('error', '')} | | | | | | |")
            continue
        h = res["settings"]["horizon_days"]
        for name in ("hazard", "hazard_closed", "anchored", "served", "cox", "classifier", "per horizon", "health",
                     "driver ceiling", "oracle"):
            m = s.get(name)
            if m is None:
                continue
            lines.append(f"| {res['world']} | {name} | " + " | ".join(_f(m.get(f"auc_{t}")) for t in SHOWN) +
                         f" | {_f(m.get('ibs'))} | {_f(m.get(f'brier_{h}'))} |")
    lines += ["", "## Targets", "",
              f"30-day AUC ≥ {ORACLE_RATIO} × the oracle's 30-day AUC; 90-day AUC no lower than the classifier's by more "
              f"than {MAX_LOSS_VS_CLASSIFIER}; IBS below Cox's.", "",
              "| world | history (days) | horizon | served curve | 30-day AUC / oracle's | 30-day AUC / driver ceiling's "
              "| IBS − Cox's [95 % interval] | misses |", "|---|---|---|---|---:|---:|---:|---|"]
    for res in results:
        lines.append(f"| {res['world']} | {(res.get('split') or {}).get('history_days', '—')} | "
                     f"{res['settings']['horizon_days']} d | {served(res)} | {_ratio_30(res, 'oracle')} | "
                     f"{_ratio_30(res, 'driver ceiling')} | {_ibs_gap(res)} | {'; '.join(misses(res)) or '—'} |")
    lines += ["", "The IBS difference is the served curve's minus Cox's on the same test rows; its interval is a "
              "percentile bootstrap (2,000 draws) resampling whole accounts with all their test snapshots "
              "(`models.survival_metrics.ibs_difference`). An interval that holds 0 cannot tell the two apart."]
    lines += ["", "## Rows", ""]
    for res in results:
        lines.append(f"- {res['world']}: cutoff {(res.get('split') or {}).get('cutoff')}; training "
                     f"{json.dumps(res.get('rows'))}; test {json.dumps(res.get('test'))}; seconds "
                     f"{json.dumps({k: round(v, 1) for k, v in res['seconds'].items()})}"
                     + (f"; Cox failed: {res['cox_error']}" if res.get("cox_error") else ""))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worlds", default="demo,short,monthly,annual",
                    help="comma-separated zoo worlds, or PRESET@DAYS for a preset cut to DAYS of history")
    ap.add_argument("--accounts", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).parent)
    ap.add_argument("--keep", type=Path, help="keep every world's data, panel, logs and MLflow here")
    args = ap.parse_args(argv)
    size = {"accounts": args.accounts, "customers": args.accounts}
    cmd = q.churn_command(None)
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="churn-hazard-") as tmp:
        root = args.keep or Path(tmp)
        for name in args.worlds.split(","):
            q.say(f"[{name}] ...")
            res = run_world(name, root / name.replace("@", "-"), cmd, size, args.seed)
            results.append(res)
            q.say(f"[{name}] {res['status']} {res.get('error', '')} {json.dumps(res.get('scores', {}).get('hazard'))}")
            write(results, argv, args, started)
    return 0


def write(results: list[dict], argv, args, started: float) -> None:
    """The report of the worlds done so far (rewritten after each world)."""
    meta = {"when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "git": q.git_state(),
            "command": "python -m benchmarks.hazard " + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": f"{q.platform.machine()}, {q.os.cpu_count()} cores",
            "size": {"accounts": args.accounts}, "seed": args.seed,
            "seconds": time.perf_counter() - started}
    (args.out_dir / "hazard.md").write_text(report(results, meta))
    (args.out_dir / "hazard.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str))
    q.say(f"wrote {args.out_dir / 'hazard.md'}")


if __name__ == "__main__":
    sys.exit(main())
