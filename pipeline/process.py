"""Process-wide settings of a ``churn`` command, and of the benchmark steps that time one."""

from __future__ import annotations

import gc
import os
import sys
from typing import NoReturn

#: Allocations between two collections of the youngest generation, then collections of one generation before
#: the next older one is collected (Python's default: 700, 10, 10).
GC_THRESHOLDS = (100_000, 50, 100)


def tune_collector() -> None:
    """Collect cyclic garbage less often than Python's default, which collects every 700 allocations.

    A command allocates millions of objects that live until it ends (imported modules, ibis expressions,
    feature frames, reason documents) and few reference cycles, so most collections find nothing. Importing
    and building one date's features on the 1 M-event bench world ran 805 collections by default and 21 with
    these thresholds: 3.25 s -> 3.03 s (medians of 5 fresh processes, alternated). Cycles are still collected.
    """
    gc.set_threshold(*GC_THRESHOLDS)


#: Arrow's allocator (its ``ARROW_DEFAULT_MEMORY_POOL``) unless the environment already names one.
ARROW_MEMORY_POOL = "system"


def tune_allocator() -> None:
    """Let Arrow allocate from the C library's ``malloc`` rather than its bundled mimalloc, unless
    ``ARROW_DEFAULT_MEMORY_POOL`` is set.

    Scoring builds about 400 MB of reason documents for 100,000 accounts in Arrow, block after block. With
    mimalloc the kernel's share of scoring the 10 M-event bench world was 3.0-3.9 s, with ``malloc`` 1.7-2.6 s,
    and the whole process 9.1-9.9 s against 8.6-9.5 s (three fresh processes each, alternated); building the
    feature panel was unchanged. Set before Arrow is first used (the variable is read once); a process that
    already imported pyarrow has its default pool switched instead.
    """
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", ARROW_MEMORY_POOL)
    if "pyarrow" in sys.modules and os.environ["ARROW_DEFAULT_MEMORY_POOL"] == "system":
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())


#: NumPy's ``madvise`` of transparent huge pages for its arrays (its ``NUMPY_MADVISE_HUGEPAGE``: 1 asks for them)
#: unless the environment already says.
NUMPY_HUGE_PAGES = "0"


def tune_numpy_pages() -> None:
    """Let NumPy's arrays take the kernel's ordinary pages rather than ask for transparent huge pages, unless
    ``NUMPY_MADVISE_HUGEPAGE`` is set.

    Scoring 100,000 accounts fills arrays of 100 MB (the feature matrix, its TreeSHAP contributions) that are new
    memory to the process. On the bench machines (virtual machines) a 100 MB array took 0.016-0.23 s to fill with
    huge pages (fast only when huge pages this machine had just freed were reused) and 0.03 s with ordinary
    pages; scoring the 1 M-event bench world took 5.8 s instead of 6.4 s (whole process, medians of 6 alternated
    pairs), the 10 M one 7.4 s instead of 7.6 s (5 pairs), and building the panel was unchanged. Where huge pages come
    cheap, set the variable to 1. NumPy reads it once, when it is first imported: set before any import of it.
    """
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", NUMPY_HUGE_PAGES)


def tune_process() -> None:
    """Every process-wide setting of a ``churn`` command, set before the command's imports: what the console entry
    point calls first, and the bench steps that time a command."""
    tune_collector()
    tune_allocator()
    tune_numpy_pages()


def exit_fast(code: int | str | None = 0) -> NoReturn:
    """End the process as Python's own exit does, without tearing the interpreter down.

    Thread pools are stopped and other non-daemon threads waited for, ``atexit`` handlers run (MLflow ends
    an open run, logging flushes, temporary files are removed) and the standard streams are flushed; only
    the release of every module and object, which the operating system does at once, is skipped. After
    scoring 100,000 accounts that release took 0.4-0.7 s of the process (README, "Benchmarks").
    ``code`` is what ``SystemExit`` carries: ``None`` is 0, a text is printed to stderr and exits 1.
    """
    import atexit
    import threading

    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    # what Py_Finalize does first, in its order: stop thread pools (their threading atexit hooks), wait for the
    # other non-daemon threads, run the atexit handlers; the rest of finalisation is what os._exit skips
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: Python's own exit ignores it too
            pass
    os._exit(0 if code is None else int(code))
