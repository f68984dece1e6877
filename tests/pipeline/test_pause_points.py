"""Tests mirroring ``pipeline/pause_points.py``: a point holds only the process told to stop there."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from pipeline.pause_points import POINTS, pause_point


def test_a_point_not_named_in_the_environment_passes(monkeypatch):
    monkeypatch.setenv("CHURN_PAUSE_AT", "run_recorded")
    pause_point("model_loaded")
    with pytest.raises(ValueError, match="unknown pause point 'modle_loaded'"):
        pause_point("modle_loaded")


def test_the_named_point_holds_the_process_and_says_so(tmp_path):
    marker = tmp_path / "paused"
    code = "from pipeline.pause_points import pause_point; pause_point('write_began'); print('passed')"
    env = {"CHURN_PAUSE_AT": "write_began", "CHURN_PAUSE_FILE": str(marker), "PATH": ""}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300  # a guard against a hang only: start-up may be slow on a busy machine
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.read_text() == "write_began" and "write_began" in POINTS
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=1)  # held: past the point it would print and end in microseconds
    finally:
        proc.kill()
        assert proc.communicate()[0] == ""
