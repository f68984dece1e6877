"""``make bench``: measure the pipeline against the floor, a pandas and a Featuretools baseline, in one run.

For each world size (usage events) it generates the world once (in chunks,
bounded memory), then runs every step in its own process ``--repeats`` times
and keeps the median wall time and the largest peak RSS. Results are written to
``benchmarks/results.md`` with the machine and library versions.

    python -m benchmarks.run --sizes 1000000 10000000 [--repeats 3] [--engines duckdb spark postgres]

``--engines spark`` adds the Spark rows (``benchmarks/spark_steps.py``: panel,
training and scoring 100k accounts on a ``local[2]`` session) beside DuckDB's,
measured in the same run; ``--engines postgres`` the panel computed in PostgreSQL,
with the session's JIT off and with the server's (``benchmarks/postgres_steps.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Accounts per world size: enough that scoring and training see realistic account counts.
ACCOUNTS = {1_000_000: 1_000, 10_000_000: 5_000, 100_000_000: 20_000}
IN_MEMORY = {"pandas", "featuretools"}  # baselines that load every event into memory: run up to IN_MEMORY_LIMIT
IN_MEMORY_LIMIT = 10_000_000


def world_for(size: int, root: Path) -> Path:
    """Generate (once) a world of about ``size`` usage events."""
    world = root / f"events_{size}"
    if not (world / "accounts.csv").exists():
        accounts = ACCOUNTS.get(size, max(1_000, size // 5_000))
        subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "generate", "--out", str(world),
             "--accounts", str(accounts), "--events", str(size), "--seed", "1"],
            check=True, cwd=ROOT,
        )
    return world


def run_step(step: str, world: Path) -> dict:
    """Run one step in a fresh process and return its JSON report, with the process's wall time
    (``process_seconds``: start-up, imports and model load included)."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.steps", step, str(world)],
        check=True, cwd=ROOT, capture_output=True, text=True,
    )
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "process_seconds": time.perf_counter() - started}


def measure(step: str, world: Path, repeats: int) -> dict:
    """Median seconds and the largest peak RSS over ``repeats`` runs."""
    load = os.getloadavg()[0]
    runs = [run_step(step, world) for _ in range(repeats)]
    report = dict(runs[-1])
    report["load"] = f"{load:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    report["seconds"] = statistics.median(r["seconds"] for r in runs)
    report["all_seconds"] = [round(r["seconds"], 3) for r in runs]
    report["process_seconds"] = statistics.median(r["process_seconds"] for r in runs)
    report["peak_rss_mb"] = max(max(r["peak_rss_mb"], r.get("jvm_rss_mb", 0)) for r in runs)
    return report


def process_seconds(command: list[str], repeats: int) -> float:
    """Median wall time of a whole process, start-up included."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def cli_startup(world: Path, repeats: int) -> dict:
    """``churn features`` for one date vs a bare Python process running the floor query, and ``churn --help``."""
    bare = [sys.executable, "-c",
            "import duckdb; duckdb.connect().execute(\"SELECT account_id, CAST(occurred_at AS DATE) d, "
            f"count(*), sum(quantity) FROM read_parquet('{world}/usage_events/*.parquet') GROUP BY ALL\").fetchall()"]
    churn = [str(Path(sys.executable).parent / "churn"), "features", "--data", str(world),
             "--out", str(world.parent / "one_date.parquet"), "--no-validate"]
    return {"churn_features_s": process_seconds(churn, repeats), "bare_floor_s": process_seconds(bare, repeats),
            "help_s": process_seconds([str(Path(sys.executable).parent / "churn"), "--help"], repeats)}


def source_commit() -> str:
    """The commit measured (short), ``+changes`` when tracked files other than the results differ from it;
    empty outside a git checkout."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                      ":!benchmarks/results.md", ":!benchmarks/results.json")
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head + ("+changes" if changed else "")


def versions() -> str:
    names = ["duckdb", "ibis-framework", "pandas", "pyarrow", "lightgbm", "scikit-learn", "mlflow", "pyspark"]
    return ", ".join(f"{n} {metadata.version(n)}" for n in names)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python {platform.python_version()}"


def merge_saved(path: Path, results: dict, repeats: int) -> dict:
    """Keep the sizes and steps measured earlier (e.g. the opt-in 100 M run, or every step but those of
    ``--steps``) beside the ones measured now."""
    saved = json.loads(path.read_text()) if path.exists() else {}
    for size, steps in results.items():
        saved[str(size)] = {**saved.get(str(size), {}), **steps, "repeats": repeats}
    path.write_text(json.dumps(saved, indent=1, default=str) + "\n")
    return {int(size): {k: v for k, v in steps.items() if k != "repeats"} for size, steps in sorted(saved.items(), key=lambda kv: int(kv[0]))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--root", type=Path, default=ROOT / "data" / "bench")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.md")
    parser.add_argument("--steps", nargs="+", default=None, help="Subset of steps (default: all of --engines).")
    parser.add_argument("--engines", nargs="+", default=["duckdb"], choices=["duckdb", "spark", "postgres"],
                        help="Engines whose steps run (default: duckdb; spark adds the Spark rows, postgres the "
                             "PostgreSQL rows: benchmarks/postgres_steps.py).")
    args = parser.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    from benchmarks.steps import ENGINE_STEPS

    chosen = [step for engine in args.engines for step in ENGINE_STEPS[engine]]

    load_start = os.getloadavg()[0]
    commit = source_commit()
    results = {}
    for size in args.sizes:
        world = world_for(size, args.root)
        steps = [s for s in (args.steps or chosen) if s not in IN_MEMORY or size <= IN_MEMORY_LIMIT]
        results[size] = {step: {**measure(step, world, args.repeats), "commit": commit} for step in steps}
        if "duckdb" in args.engines and args.steps is None:  # --steps measures those steps only
            results[size]["cli"] = cli_startup(world, args.repeats)
        print(json.dumps({str(size): results[size]}, default=str), flush=True)
    from benchmarks.report import NOTES, POSTGRES_NOTES, write_results

    results = merge_saved(args.out.with_suffix(".json"), results, args.repeats)
    write_results(args.out, results, machine(), versions(), args.repeats,
                  datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                  f"{load_start:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
                  POSTGRES_NOTES if args.engines == ["postgres"] else NOTES)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
