"""The ``churn`` process's own settings: what the console entry point sets before a command runs."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from pipeline.process import ARROW_MEMORY_POOL, GC_THRESHOLDS, tune_collector

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
    probe = ("import atexit, gc, sys\nsys.argv = ['churn', '--help']\nfrom pipeline.cli import main\n"
             "atexit.register(lambda: print(gc.get_threshold(), __import__('pyarrow').default_memory_pool().backend_name))\n"
             "main()")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                          env=_without_arrow_pool())
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1] == f"{GC_THRESHOLDS} {ARROW_MEMORY_POOL}"


def _without_arrow_pool(**more) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    return {**env, **more}


def _pool_after_tuning(before: str, env: dict) -> str:
    """Arrow's default pool in a fresh process that runs ``before``, then :func:`tune_allocator`, then allocates."""
    probe = (f"{before}\nfrom pipeline.process import tune_allocator\ntune_allocator()\nimport pyarrow as pa\n"
             "pa.array(range(1000))\nprint(pa.default_memory_pool().backend_name)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip()


def test_arrow_allocates_from_malloc_unless_the_environment_names_another_pool():
    assert _pool_after_tuning("", _without_arrow_pool()) == "system"
    # pyarrow imported and its pool in use before the command's settings: the default pool is switched
    assert _pool_after_tuning("import pyarrow; pyarrow.array([1])", _without_arrow_pool()) == "system"
    # the user's own choice stands
    assert _pool_after_tuning("", _without_arrow_pool(ARROW_DEFAULT_MEMORY_POOL="mimalloc")) == "mimalloc"


def _numpy_huge_pages_after_tuning(env: dict) -> bool:
    """Whether NumPy asks for huge pages in a fresh process that imports it after :func:`tune_process`."""
    probe = ("from pipeline.process import tune_process\ntune_process()\nimport numpy as np\n"
             "print(np._core.multiarray._set_madvise_hugepage(True))")  # returns the setting it replaces
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip() == "True"


def test_numpy_takes_ordinary_pages_unless_the_environment_asks_for_huge_ones():
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    assert _numpy_huge_pages_after_tuning(env) is False
    assert _numpy_huge_pages_after_tuning({**env, "NUMPY_MADVISE_HUGEPAGE": "1"}) is True


def test_the_fast_exit_keeps_what_a_normal_exit_does():
    """Threads are waited for, atexit handlers run, streams are flushed, the code is the command's."""
    probe = ("import atexit, sys, threading, time\nfrom pipeline.process import exit_fast\n"
             "threading.Thread(target=lambda: (time.sleep(0.3), print('thread done', end=' '))).start()\n"
             "from concurrent.futures import ThreadPoolExecutor\npool = ThreadPoolExecutor(2)\n"
             "pool.submit(lambda: None).result()\n"  # an idle pool's workers stop, as at a normal exit
             "atexit.register(lambda: print('atexit ran', end=' '))\n"
             "print('unflushed', end=' ')\nsys.stderr.write('to stderr')\nexit_fast(int(sys.argv[1]))")
    for code in (0, 2):
        done = subprocess.run([sys.executable, "-c", probe, str(code)], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert (done.returncode, done.stdout, done.stderr) == (code, "unflushed thread done atexit ran ", "to stderr")
    said = subprocess.run([sys.executable, "-c", "from pipeline.process import exit_fast; exit_fast('no data')"],
                          cwd=ROOT, capture_output=True, text=True)
    assert (said.returncode, said.stderr) == (1, "no data\n")


def test_churn_exits_with_the_commands_code(tmp_path):
    churn = Path(sys.executable).parent / "churn"
    done = subprocess.run([str(churn), "validate", "--data", str(tmp_path / "no-such-folder")], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 2 and "no-such-folder' does not exist" in done.stderr
