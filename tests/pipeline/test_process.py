"""The ``churn`` process's own settings: what the console entry point sets before a command runs."""

from __future__ import annotations

import gc
import subprocess
import sys
import tomllib
from pathlib import Path

from pipeline.process import GC_THRESHOLDS, tune_collector

ROOT = Path(__file__).resolve().parents[2]


def test_the_collector_runs_less_often_and_still_collects_cycles():
    before = gc.get_threshold()
    try:
        tune_collector()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > before[0]

        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
        assert gc.collect() >= 2  # a cycle is garbage as before; only the automatic pace changed
    finally:
        gc.set_threshold(*before)


def test_the_console_entry_point_tunes_the_process_before_the_command():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["churn"] == "pipeline.cli:main"
    probe = ("import gc, sys\nsys.argv = ['churn', '--help']\nfrom pipeline.cli import main\n"
             "try:\n    main()\nexcept SystemExit as done:\n    code = done.code\nprint(gc.get_threshold(), code)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == f"{GC_THRESHOLDS} 0"
