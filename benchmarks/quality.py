"""``make quality``: train and score every world of the zoo out of time, through the CLI.

For each world: generate it (the generator's presets, ``pipeline.synthetic.presets``)
or convert fight-churn's simulator output (``benchmarks/worlds/fightchurn.py``, when
its venv is set up) into a temp folder; build the snapshot panel with
``churn features --panel``; pick the out-of-time split (the last N snapshot dates
whose label window closed before the data end are the test dates, the first of them
is the training cutoff); ``churn train --train-until CUTOFF`` into a temp MLflow;
load the registered model and score the test rows. Beside it, on the same rows: the
world's oracle (its recorded churn probability, where known), the hand-tuned health
score, and a plain LightGBM (200 trees x 7 leaves, no early stopping, no calibration)
fitted on the same panel's rows known at the cutoff.

Writes ``benchmarks/quality.md`` and ``benchmarks/quality.json``.

    python -m benchmarks.quality [--worlds monthly,short] [--quick] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import yaml

from benchmarks import quality_eval as qe
from benchmarks.quality_report import write_reports
from benchmarks.worlds.addon_lines import drop_addon_lines

ROOT = Path(__file__).resolve().parents[1]
WORLDS_DIR = Path(__file__).with_name("worlds")
CACHE = Path(os.environ.get("CHURN_QUALITY_CACHE", Path.home() / ".cache" / "churn-pipeline" / "worlds"))
TIMEOUT = 1800  # seconds per CLI call


@dataclass(frozen=True)
class Spec:
    """How one world is made and evaluated.

    ``history_days``: for generator worlds whose point is a short history, the days
    of data before the first test date (the world is generated long enough after it
    for the test labels to close).
    """

    name: str
    kind: str = "preset"  # "fightchurn"; "one-line": the preset's world without its add-on lines
    preset: str | None = None  # the generator preset, when it is not ``name``
    overlay: str | None = None  # benchmarks/worlds/<overlay>: config merged over configs/pipeline.yaml
    test_snapshots: int = 3
    history_days: int | None = None


def zoo() -> dict[str, Spec]:
    """Every world: the generator's presets, then fight-churn's socialnet7."""
    from pipeline.synthetic.presets import preset_names

    specs = {name: Spec(name) for name in preset_names() if not name.startswith("outreach")}  # a CS team's calls move churn
    specs["short"] = Spec("short", overlay="short.yaml", test_snapshots=8, history_days=183)
    specs["addons-one-line"] = Spec("addons-one-line", kind="one-line", preset="addons")
    specs["fightchurn"] = Spec("fightchurn", kind="fightchurn", overlay="fightchurn.yaml", test_snapshots=4)
    return specs


# ------------------------------------------------------------------ config and CLI
def deep_merge(base: dict, over: dict) -> dict:
    """``over`` on top of ``base``, recursively for mappings (lists are replaced)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def world_config(spec: Spec, work: Path, extra: dict | None = None, candidate: dict | None = None
                 ) -> tuple[Path, dict]:
    """Write the world's config: configs/pipeline.yaml, the world's overlay, the candidate, temp paths on top.

    ``candidate`` (``--overlay FILE``) is a change under test, merged into every world's config.
    """
    cfg = yaml.safe_load((ROOT / "configs" / "pipeline.yaml").read_text()) or {}
    if spec.overlay:
        cfg = deep_merge(cfg, yaml.safe_load((WORLDS_DIR / spec.overlay).read_text()) or {})
    cfg = deep_merge(cfg, candidate or {})
    cfg = deep_merge(cfg, {
        "data": str(work / "data"), "warehouse": str(work / "warehouse.duckdb"),
        "tracking": {"uri": f"sqlite:///{work / 'mlflow.db'}"},
        "training": {"report_dir": str(work / "reports")}, **(extra or {})})
    path = work / ("config.yaml" if not extra else "config-pinned.yaml")
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path, cfg


class CliError(RuntimeError):
    """A CLI call failed; the message is its last words."""


def churn(cmd: list[str], args: list[str], log: Path) -> float:
    """Run one CLI command, logging its output; return seconds or raise :class:`CliError`."""
    started = time.perf_counter()
    with open(log, "w") as out:
        try:
            run = subprocess.run([*cmd, *args], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise CliError(f"timed out after {TIMEOUT} s") from None
    if run.returncode:
        lines = [ln.strip() for ln in log.read_text().splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("error:")]
        raise CliError((errors[-1].removeprefix("error:").strip() if errors else lines[-1] if lines else
                        f"exit code {run.returncode}"))
    return time.perf_counter() - started


def churn_command(override: str | None) -> list[str]:
    """The CLI: ``--churn`` if given, else .venv/bin/churn, else ``python -m pipeline.cli``."""
    if override:
        return shlex.split(override)
    venv = ROOT / ".venv" / "bin" / "churn"
    return [str(venv)] if venv.exists() else [sys.executable, "-m", "pipeline.cli"]


# ------------------------------------------------------------------ data
def make_world(spec: Spec, folder: Path, size: dict, cfg: dict, seed: int, fresh: bool) -> dict:
    """Generate or convert the world into ``folder``; return what it is."""
    if spec.kind == "fightchurn":
        from benchmarks.worlds import fightchurn

        if fightchurn.simulator_python() is None:
            raise FileNotFoundError("fightchurn not installed: run python -m benchmarks.worlds.fightchurn --setup")
        customers = size["customers"]
        cached = CACHE / (f"fightchurn-{fightchurn.VERSION}-{fightchurn.MODEL}-c{customers}-s{seed}-"
                          f"{fightchurn.START.replace('-', '')}-{fightchurn.END.replace('-', '')}"
                          f"-x{fightchurn.EXPORT_VERSION}")
        if fresh or not (cached / "_truth" / "world.json").exists():
            fightchurn.build(cached, customers=customers, seed=seed, progress=say)
        folder.symlink_to(cached, target_is_directory=True)
        meta = json.loads((cached / "_truth" / "world.json").read_text())
        return {"description": f"fight-churn socialnet7 ({customers} initial customers, seed {seed}, "
                               f"{meta['data_start']}..{meta['data_end']}); converted from PostgreSQL",
                "truth": None, "source": str(cached), "data_start": meta["data_start"]}
    from pipeline.synthetic import generate_world
    from pipeline.synthetic.presets import get_preset

    days = None
    if spec.history_days:  # long enough after the cutoff for the test snapshots' labels to close
        step = 7 if cfg.get("snapshots", {}).get("frequency") == "weekly" else 31
        window = cfg["labels"]["horizon_days"] + cfg["labels"]["grace_days"]
        days = spec.history_days + step * spec.test_snapshots + window + step
    preset = spec.preset or spec.name
    summary = generate_world(folder, accounts=size["accounts"], seed=seed, preset=preset, days=days)
    description = get_preset(preset).description
    if spec.kind == "one-line":
        description = drop_addon_lines(folder, get_preset(preset).params["addon_products"])
    return {"description": description, "truth": str(folder / "_truth" / "truth.parquet"),
            "data_start": summary["data_start"], "data_end": summary["data_end"],
            "events": summary["tables"]["usage_events"]}


# ------------------------------------------------------------------ one world
def run_world(spec: Spec, work: Path, cmd: list[str], size: dict, seed: int, fresh: bool,
              candidate: dict | None = None, noise: bool = False) -> dict:
    """Evaluate one world; failures are recorded, never raised.

    With ``noise``, the world is trained and evaluated a second time with a random
    high-cardinality attribute configured as categorical (:func:`run_noise_attribute`).
    """
    res: dict = {"world": spec.name, "status": "ok", "seconds": {}}
    started = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    cfg_path, cfg = world_config(spec, work, candidate=candidate)
    labels = cfg.get("labels", {})
    window = int(labels.get("horizon_days", 90)) + int(labels.get("grace_days", 30))
    res["settings"] = {"horizon_days": labels.get("horizon_days"), "grace_days": labels.get("grace_days"),
                       "frequency": cfg.get("snapshots", {}).get("frequency"), "config": spec.overlay or "pipeline.yaml",
                       "promotion_min_auc_gain_vs_health":
                           cfg.get("training", {}).get("promotion_min_auc_gain_vs_health", 0.05)}
    try:
        t = time.perf_counter()
        res.update(make_world(spec, work / "data", size, cfg, seed, fresh))
        res["seconds"]["data"] = time.perf_counter() - t
        res["seconds"]["panel"] = churn(cmd, ["features", "--data", str(work / "data"), "--panel", "--no-validate",
                                              "--out", str(work / "panel.parquet"), "--config", str(cfg_path)],
                                        work / "features.log")
        panel = qe.read_panel(work / "panel.parquet")
        cutoff, train_dates, test_dates = qe.split(panel, window, spec.test_snapshots)
    except Exception as exc:  # noqa: BLE001 - recorded in the report
        res.update(status="error", error=f"{type(exc).__name__}: {exc}")
        return res
    res["split"] = {"cutoff": str(cutoff.date()), "train_snapshots": len(train_dates),
                    "test_dates": [str(pd.Timestamp(d).date()) for d in test_dates],
                    "history_days": int((cutoff - pd.Timestamp(res["data_start"])).days)}
    model = train(cmd, cfg_path, cfg, work, cutoff, res)
    if model is not None and not set(model.feature_names) <= set(panel.columns):
        # the training build resolved another vocabulary: rebuild the panel with the model's
        vocab = model.vocabulary
        pinned, _ = world_config(spec, work, {"features": deep_merge(cfg.get("features", {}), {
            "usage": {"event_types": vocab.get("event_types", [])},
            "milestones": {"milestones": vocab.get("milestones", [])}})}, candidate)
        churn(cmd, ["features", "--data", str(work / "data"), "--panel", "--no-validate", "--out",
                    str(work / "panel.parquet"), "--config", str(pinned)], work / "features-pinned.log")
        panel = qe.read_panel(work / "panel.parquet")
    evaluate(panel, train_dates, test_dates, model, res, cfg, seed, cfg_path)
    if noise and model is not None:
        res["noise_attribute"] = run_noise_attribute(spec, work, cmd, cfg, cutoff, test_dates, seed, candidate)
    res["seconds"]["total"] = time.perf_counter() - started
    return res


def run_noise_attribute(spec: Spec, work: Path, cmd: list[str], cfg: dict, cutoff, test_dates, seed: int,
                        candidate: dict | None) -> dict:
    """Train and evaluate the world again with a random categorical attribute; its ROC-AUC on the same test rows."""
    noisy = work / "noise"
    try:
        qe.with_noise_attribute(work / "data", noisy / "data", seed)
        attributes = cfg.get("features", {}).get("attributes", {})
        added = {"features": {"attributes": {**attributes,
                                             "categorical": [*attributes.get("categorical", []), qe.NOISE_ATTRIBUTE]}}}
        cfg_path, noisy_cfg = world_config(spec, noisy, candidate=deep_merge(candidate or {}, added))
        churn(cmd, ["features", "--data", str(noisy / "data"), "--panel", "--no-validate",
                    "--out", str(noisy / "panel.parquet"), "--config", str(cfg_path)], noisy / "features.log")
        res: dict = {"seconds": {}}
        model = train(cmd, cfg_path, noisy_cfg, noisy, cutoff, res)
        if model is None:
            return {"error": res.get("error", "no model")}
        panel = qe.read_panel(noisy / "panel.parquet")
        test = panel[panel["label_observed"] & panel["as_of"].isin(test_dates)].copy()
        test["model"] = model.risk(test)
        return {"auc": qe.scores(test, "model", probability=True)["auc"],
                "used": f"attr_{qe.NOISE_ATTRIBUTE}" in model.feature_names, "levels": qe.NOISE_LEVELS, "missing": qe.NOISE_MISSING}
    except Exception as exc:  # noqa: BLE001 - recorded in the report
        return {"error": f"{type(exc).__name__}: {exc}"}


def train(cmd, cfg_path: Path, cfg: dict, work: Path, cutoff, res: dict):
    """``churn train --train-until CUTOFF``; return the registered model or None (failure recorded)."""
    tracking = cfg["tracking"]["uri"]
    try:
        res["seconds"]["train"] = churn(cmd, [
            "train", "--data", str(work / "data"), "--train-until", str(cutoff.date()), "--tracking-uri", tracking,
            "--report-dir", str(work / "reports"), "--config", str(cfg_path)], work / "train.log")
    except CliError as exc:
        res.update(status="train failed", error=str(exc))
        return None
    try:
        version = qe.registered_version(tracking, cfg["tracking"].get("model_name", "churn-model"))
        if version is None:
            raise RuntimeError("churn train registered no model version")
        res["registry"] = version
        return qe.load_trained_model(tracking, cfg["tracking"].get("model_name", "churn-model"), version["version"])
    except Exception as exc:  # noqa: BLE001
        res.update(status="model not loadable", error=f"{type(exc).__name__}: {exc}")
        return None


def evaluate(panel: pd.DataFrame, train_dates, test_dates, model, res: dict, cfg: dict, seed: int,
             cfg_path: Path | None = None) -> None:
    """Metrics of every scorer on the test rows (label windows closed, after the cutoff)."""
    known = panel[panel["label_observed"] & panel["as_of"].isin(train_dates)]
    test = panel[panel["label_observed"] & panel["as_of"].isin(test_dates)].copy()
    res["data"] = {"train_rows": len(known), "train_positives": int(known["churned"].sum()),
                   "test_rows": len(test), "test_accounts": int(test["account_id"].nunique()),
                   "test_positives": int(test["churned"].sum()), "test_rate": float(test["churned"].mean()),
                   "features": len(qe.feature_columns(panel)[0])}
    if model is not None:
        try:
            test["model"] = model.risk(test)
            res["model"] = qe.scores(test, "model", probability=True)
        except Exception as exc:  # noqa: BLE001
            res.update(status="model failed to score", error=f"{type(exc).__name__}: {exc}")
        try:
            res["tiers"] = qe.tiers_on_test_dates(model.model, test, cfg)
            res["drift"] = qe.drift_on_test_dates(model.model, test, cfg)
        except Exception as exc:  # noqa: BLE001
            res["drift"] = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        test["health"] = qe.health_risk(test, cfg.get("training", {}).get("health_score", "configs/health_score.yaml"))
        res["health"] = qe.scores(test, "health", probability=False)
    except Exception as exc:  # noqa: BLE001
        res["health"] = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        test["plain"] = qe.plain_lightgbm(known, test, seed)
        res["plain"] = qe.scores(test, "plain", probability=True)
    except Exception as exc:  # noqa: BLE001
        res["plain"] = {"error": f"{type(exc).__name__}: {exc}"}
    if res.get("truth"):
        test["oracle"] = qe.attach_oracle(test, res["truth"])
        covered = test[test["oracle"].notna()]
        res["oracle"] = {**qe.scores(covered, "oracle", probability=True), "coverage": len(covered) / max(len(test), 1)}
        if "model" in test and len(covered):
            res["model_on_oracle_rows_auc"] = qe.scores(covered, "model", probability=True)["auc"]
        ceiling = qe.driver_ceiling(known, test, res["truth"], seed)
        if ceiling is not None:
            test["drivers"] = ceiling
            res["drivers"] = qe.scores(test, "drivers", probability=True)
        if "model" in test and model is not None:
            try:
                families = qe.first_reason_families(model.model, test, cfg_path)
                res["reasons"] = qe.reason_grounding(test, families, res["truth"])
            except Exception as exc:  # noqa: BLE001
                res["reasons"] = {"error": f"{type(exc).__name__}: {exc}"}


# ------------------------------------------------------------------ main
def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def git_state() -> str:
    if os.environ.get("CHURN_QUALITY_REVISION"):  # measuring an exported tree (no .git)
        return os.environ["CHURN_QUALITY_REVISION"]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True,
                               check=True).stdout.strip()
        return head + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv=None) -> int:
    specs = zoo()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worlds", help=f"comma-separated subset of: {', '.join(specs)} (default: all)")
    ap.add_argument("--quick", action="store_true", help="tiny worlds (300 accounts): a smoke test, not a measurement")
    ap.add_argument("--accounts", type=int, help="accounts per generator world (default 4000; --quick 300)")
    ap.add_argument("--customers", type=int, help="fight-churn initial customers (default 3000; --quick 300)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).parent, help="where quality.md/.json go")
    ap.add_argument("--keep", type=Path, help="keep every world's data, panel, logs and MLflow here")
    ap.add_argument("--churn", help="CLI command to run (default .venv/bin/churn)")
    ap.add_argument("--overlay", type=Path,
                    help="a YAML change under test (e.g. training: {lightgbm: {num_leaves: 15}}), merged into every "
                         "world's config; the report names it")
    ap.add_argument("--noise-attribute", action="store_true",
                    help=f"train every world again with a random {qe.NOISE_LEVELS}-level categorical attribute "
                         "(no signal): its ROC-AUC beside the model's")
    ap.add_argument("--fresh", action="store_true", help="re-run fight-churn's simulator even if its export is cached")
    args = ap.parse_args(argv)
    names = args.worlds.split(",") if args.worlds else list(specs)
    unknown = [n for n in names if n not in specs]
    if unknown:
        ap.error(f"unknown world(s) {unknown}; known: {', '.join(specs)}")
    size = {"accounts": args.accounts or (300 if args.quick else 4000),
            "customers": args.customers or (300 if args.quick else 3000)}
    cmd = churn_command(args.churn)
    candidate = yaml.safe_load(args.overlay.read_text()) if args.overlay else None
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="churn-quality-") as tmp:
        root = args.keep or Path(tmp)
        for name in names:
            say(f"[{name}] ...")
            if specs[name].kind == "fightchurn" and not _fightchurn_ready():
                results.append({"world": name, "status": "skipped",
                                "error": "fightchurn not installed (python -m benchmarks.worlds.fightchurn --setup)"})
                say(f"[{name}] skipped: fightchurn not installed")
                continue
            res = run_world(specs[name], root / name, cmd, size, args.seed, args.fresh, candidate, args.noise_attribute)
            results.append(res)
            say(f"[{name}] {res['status']}: model {res.get('model', {}).get('auc')}, plain "
                f"{res.get('plain', {}).get('auc')}, oracle {res.get('oracle', {}).get('auc')} "
                f"({res['seconds'].get('total', 0):.0f} s)" + (f" -- {res['error']}" if res.get("error") else ""))
    meta = {"when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "git": git_state(),
            "command": "python -m benchmarks.quality " + shlex.join(argv if argv is not None else sys.argv[1:]),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "size": size, "seed": args.seed, "overlay": candidate, "seconds": round(time.perf_counter() - started, 1)}
    md, js = write_reports(results, meta, args.out_dir)
    say(f"wrote {md} and {js} in {meta['seconds']:.0f} s")
    return 0


def _fightchurn_ready() -> bool:
    from benchmarks.worlds import fightchurn

    return fightchurn.simulator_python() is not None


if __name__ == "__main__":
    sys.exit(main())
