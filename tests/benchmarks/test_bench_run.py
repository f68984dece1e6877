"""Tests of ``benchmarks/run.py``: the commit a run measured is recorded with its rows."""
from __future__ import annotations

import subprocess

import benchmarks.run as bench_run


def git(root, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=root, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_the_commit_says_when_the_code_measured_differs_from_it(tmp_path, monkeypatch):
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "benchmarks" / "results.md").write_text("old\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "first")
    head = git(tmp_path, "rev-parse", "--short", "HEAD")
    monkeypatch.setattr(bench_run, "ROOT", tmp_path)
    assert bench_run.source_commit() == head
    (tmp_path / "benchmarks" / "results.md").write_text("edited by hand\n")  # the results are not the code
    (tmp_path / "notes.txt").write_text("untracked\n")
    assert bench_run.source_commit() == head
    (tmp_path / "code.py").write_text("x = 2\n")
    assert bench_run.source_commit() == head + "+changes"
    monkeypatch.setattr(bench_run, "ROOT", tmp_path / "benchmarks" / "nowhere")
    assert bench_run.source_commit() == ""
