"""Whole-process ``churn score`` and ``churn --help`` timings, optionally against another checkout in the same run.

    python -m benchmarks.score_speed --world W --tracking-uri sqlite:///.../mlflow.db [--baseline DIR] [--tree DIR] [--repeats 3]

Each run is a fresh ``churn score`` process (model load, features, TreeSHAP, reasons,
the DuckDB write, interpreter start-up included) into a fresh warehouse. ``--baseline``
runs the same commands with another source tree first on ``PYTHONPATH`` (e.g. a
``git archive`` of the commit before), so before and after share the machine and its load.
Prints one JSON line per code tree: median seconds, every run, the ``score_runs`` step
timings of the last run, and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], tree: Path, env: dict) -> tuple[float, str]:
    """Wall seconds and stdout+stderr of one process run from ``tree``."""
    started = time.perf_counter()
    out = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if out.returncode:
        raise SystemExit(f"{' '.join(command)} failed in {tree}:\n{out.stderr[-3000:]}")
    return seconds, out.stdout + out.stderr


def measure(tree: Path, world: Path, tracking_uri: str, repeats: int) -> dict:
    """Median whole-process seconds of ``churn score`` and ``churn --help`` with the code in ``tree``.

    The model cache is the config's (``scoring.model_cache_dir``): the first run of a tree that has one downloads.
    """
    env = {**os.environ, "PYTHONPATH": str(tree)}
    churn = [sys.executable, "-m", "pipeline.cli"]
    help_runs = [timed([*churn, "--help"], tree, env)[0] for _ in range(repeats)]
    score_runs, last = [], ""
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            warehouse = Path(tmp) / f"scores{i}.duckdb"
            seconds, last = timed([*churn, "score", "--data", str(world), "--tracking-uri", tracking_uri,
                                   "--warehouse", str(warehouse)], tree, env)
            score_runs.append(seconds)
    timings = next((line for line in last.splitlines() if line.startswith("timings:")), "")
    scored = next((line for line in last.splitlines() if line.startswith("scored ")), "")
    return {"tree": str(tree), "score_s": round(statistics.median(score_runs), 2),
            "score_runs": [round(s, 2) for s in score_runs], "help_s": round(statistics.median(help_runs), 2),
            "help_runs": [round(s, 2) for s in help_runs], "steps": timings, "scored": scored[:80]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--baseline", type=Path, default=None, help="Another source tree, measured first.")
    parser.add_argument("--tree", type=Path, default=ROOT, help="The source tree measured (default: this checkout).")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    for tree in [t for t in (args.baseline, args.tree) if t is not None]:
        load = os.getloadavg()[0]
        report = measure(tree.resolve(), args.world.resolve(), args.tracking_uri, args.repeats)
        report["load"] = f"{load:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
