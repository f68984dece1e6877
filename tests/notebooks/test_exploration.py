"""The exploration notebook (a jupytext percent script) executes top to bottom on a small world."""

from __future__ import annotations

from pathlib import Path

import jupytext
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "exploration.py"


def test_exploration_notebook_runs(small_world, monkeypatch):
    monkeypatch.setenv("CHURN_DATA", str(small_world))
    monkeypatch.setenv("CHURN_TRUTH", str(small_world / "_truth" / "truth.parquet"))
    monkeypatch.setenv("CHURN_BACKTEST", str(small_world / "no_such_run.parquet"))
    # the small world is too short for the default three-month test and validation periods
    monkeypatch.setenv("CHURN_TEST_DAYS", "31")
    monkeypatch.setenv("CHURN_MIN_TRAIN_DATES", "1")
    notebook = jupytext.read(NOTEBOOK)
    assert notebook.metadata["jupytext"]["text_representation"]["format_name"] == "percent"
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "ROC-AUC: ceiling vs model" in text and "model / ceiling" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # cohorts, gain, calibration
