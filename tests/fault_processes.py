"""Run `churn` commands from a fork server, so a test can kill them at a chosen moment of their work.

Used by ``test_faults.py``: the server imports the scorer's libraries once, then
forks one ``churn ARGS`` process per request, so kill times measured from the
fork land in the scorer's work rather than in Python's start-up.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from scoring_fixtures import ROOT, churn_env

#: A fork server: it does the scorer's imports once, then forks one `churn ARGS` process per line read
#: (the line names the files for its stdout and stderr) and reports "started PID" and "exit PID CODE".
#: The kill clock starts at the fork, so the kills land in the scorer's work (loading the model, building
#: features, scoring, writing), not in Python's start-up, and no importing process competes for the CPU.
ZYGOTE = """
import os, sys
import duckdb, ibis, lightgbm, mlflow, mlflow.pyfunc, pandas, psycopg  # noqa: F401
from pipeline import cli  # noqa: F401
from pipeline.io import warehouse  # noqa: F401
from pipeline.steps import score  # noqa: F401
print("ready", flush=True)
for line in sys.stdin:
    base, _, pause = line.rstrip("\\n").partition("\\t")
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        if pause:  # hold at that point until killed (pipeline.pause_points)
            os.environ["CHURN_PAUSE_AT"], os.environ["CHURN_PAUSE_FILE"] = pause, base + ".paused"
        for fd, suffix in ((1, ".out"), (2, ".err")):
            os.dup2(os.open(base + suffix, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        sys.stdout.reconfigure(line_buffering=True)
        code = 1
        try:
            cli.app(sys.argv[1:], prog_name="churn")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    print(f"started {pid}", flush=True)
    print(f"exit {pid} {os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])}", flush=True)
"""


class Zygote:
    """The fork server running ``churn ARGS`` on demand (see :data:`ZYGOTE`)."""

    def __init__(self, args: list, folder: Path):
        self.folder, self.count = folder, 0
        self.proc = subprocess.Popen([sys.executable, "-c", ZYGOTE, *map(str, args)], cwd=ROOT, env=churn_env(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.replies: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.replies.put(line.strip()) for line in self.proc.stdout],
                         daemon=True).start()
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        assert self._reply(300) == "ready"

    def _reply(self, timeout: float) -> str:
        try:
            return self.replies.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the fork server did not answer within {timeout} s") from None

    def start(self, pause: str | None = None) -> Child:
        """Fork one run; with ``pause`` (a :data:`pipeline.pause_points.POINTS` name) it holds there until killed."""
        self.count += 1
        base = self.folder / f"run{self.count}"
        self.proc.stdin.write(f"{base}\t{pause or ''}\n")
        self.proc.stdin.flush()
        kind, pid = self._reply(60).split()
        assert kind == "started"
        self.child = Child(self, int(pid), base)
        return self.child

    def close(self) -> None:
        if self.count:
            self.child.kill()  # a no-op unless a failed assertion left it running
            self.child.finish(60)
        self.proc.stdin.close()
        self.proc.wait(60)


class Child:
    """One `churn` process forked by the :class:`Zygote`; its output goes to ``base``.out/.err."""

    def __init__(self, zygote: Zygote, pid: int, base: Path):
        self.zygote, self.pid, self.base = zygote, pid, base
        self.started, self.code = time.monotonic(), None

    def text(self, suffix: str) -> str:
        path = self.base.with_suffix(suffix)
        return path.read_text() if path.exists() else ""

    def wait_line(self, prefix: str, suffix: str = ".err", timeout: float = 300) -> float | None:
        """When a line starting with ``prefix`` was first seen (polled); ``None`` if the process ended first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.poll()
            if any(line.startswith(prefix) for line in self.text(suffix).splitlines()):
                return time.monotonic()
            if done:
                return None
            time.sleep(0.005)
        raise AssertionError(f"no line '{prefix}...' after {timeout} s: {self.text('.err')}")

    def wait_paused(self, timeout: float = 600) -> str | None:
        """The pause point the process holds at, once it is there; ``None`` if it ended first.

        The timeout only guards against a hang: the process waits at its point however long the test takes.
        """
        marker = self.base.with_suffix(".paused")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker.exists():
                return marker.read_text()
            if self.poll():
                return marker.read_text() if marker.exists() else None
            time.sleep(0.005)
        raise AssertionError(f"not paused after {timeout} s: {self.text('.err')}")

    def poll(self) -> bool:
        """Whether the process has exited (its exit code is then in :attr:`code`)."""
        if self.code is None:
            try:
                kind, pid, code = self.zygote.replies.get_nowait().split()
            except queue.Empty:
                return False
            assert (kind, int(pid)) == ("exit", self.pid)
            self.code = int(code)
        return True

    def kill(self) -> None:
        if not self.poll():
            os.kill(self.pid, signal.SIGKILL)

    def finish(self, timeout: float = 300) -> int:
        deadline = time.monotonic() + timeout
        while not self.poll():
            assert time.monotonic() < deadline, f"still running after {timeout} s: {self.text('.err')}"
            time.sleep(0.01)
        return self.code
