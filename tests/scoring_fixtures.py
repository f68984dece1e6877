"""Helpers shared by the scoring tests: small registered models, CLI configs, `churn` as a real process.

Imported by ``test_score``, ``test_faults``, ``test_mismatch``, ``test_secrets`` and
``test_reproducibility``. Everything lives in a test's private folder: the
tracking store, the model artifacts and the warehouses, never the repository's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import mlflow
import pandas as pd
import yaml

from models.classifier import ChurnModel
from pipeline.publish.pyfunc import log_model
from pipeline.publish.registry import configure
from pipeline.config import CONFIG_VERSION, load_config
from pipeline.engine.featurize import build_features
from pipeline.engine.labels import data_end, snapshot_dates
from pipeline.io.sources import open_source

ROOT = Path(__file__).resolve().parents[1]
NAME = "churn-test"
#: `churn train` settings that fit the small world: one out-of-time fold of one month, 60 trees at most.
SMALL_TRAINING = {"training.folds": 1, "training.test_days": 31,
                  "training.lightgbm": {"num_boost_round": 60}}
#: Compared between runs: everything a row says except which run wrote it and when.
ROW_COLUMNS = ["as_of_date", "account_id", "account_name", "csm", "segment", "churn_probability", "risk_rank",
               "risk_tier", "mrr", "revenue_at_risk", "health_score", "reasons", "reason_summary",
               "probability_change", "change_reasons", "contributions", "model_name", "model_version",
               "churn_probability_30d", "churn_probability_60d", "churn_probability_90d", "churn_probability_180d",
               "expected_churn_window", "uplift", "expected_saved_mrr", "renewal_date"]


def scoring_config(data, tmp: Path, **overrides):
    """The pipeline config of a scoring test: warehouse, tracking store and artifacts under ``tmp``."""
    return load_config(None, {
        "data": str(data), "warehouse": str(tmp / "wh.duckdb"), "tracking.uri": f"sqlite:///{tmp / 'mlflow.db'}",
        "tracking.model_name": NAME, "tracking.artifact_location": str(tmp / "mlruns"),
        "training.report_dir": str(tmp / "reports"), "scoring.model_cache_dir": str(tmp / "model_cache"),
        **overrides,
    })


def feature_panel(cfg):
    """``(table, panel, end)``: the snapshot feature table of ``cfg.data``, its labelled rows, the data end."""
    with open_source(cfg.data) as source:
        end = data_end(source)
        table = build_features(source, cfg, snapshot_dates(source, cfg, end), end=end)
    return table, table.frame[table.frame["label_observed"]], end


def fit_model(table, panel: pd.DataFrame, seed: int = 1, rounds: int = 60) -> ChurnModel:
    """A small sigmoid-calibrated model: the last two snapshot dates validate, the others fit."""
    dates = sorted(panel["as_of"].unique())
    fit, valid = panel[panel["as_of"].isin(dates[:-2])], panel[panel["as_of"].isin(dates[-2:])]
    model = ChurnModel(params={"num_boost_round": rounds}, seed=seed, calibration="sigmoid").fit(
        fit, fit["churned"], X_valid=valid, y_valid=valid["churned"], X_calib=valid, y_calib=valid["churned"],
        feature_names=table.feature_names, categorical=table.categorical,
        vocabulary=table.vocabulary.to_dict(), config_version=CONFIG_VERSION)
    return model


def register(cfg, model: ChurnModel, sample: pd.DataFrame, alias: str | None = "champion") -> str:
    """Log ``model`` in ``cfg.tracking``'s store, register it and (optionally) give it ``alias``; its version."""
    client = configure(cfg.tracking)
    with mlflow.start_run():
        info = log_model(model, sample.head(20), registered_model_name=cfg.tracking.model_name)
    version = str(info.registered_model_version)
    if alias:
        client.set_registered_model_alias(cfg.tracking.model_name, alias, version)
    return version


def write_config(cfg, path: Path) -> Path:
    """``cfg`` as a YAML file for ``churn --config`` (so a subprocess sees exactly this config)."""
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    return path


def churn_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def churn(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``churn ARGS`` as a real process from the repository root; stdout/stderr captured as text."""
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *map(str, args)], cwd=ROOT, env=churn_env(),
                          capture_output=True, text=True, timeout=timeout)


def start_churn(*args: str) -> subprocess.Popen:
    """Start ``churn ARGS`` as a real process (see :class:`Lines` to follow its output)."""
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", *map(str, args)], cwd=ROOT, env=churn_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class Lines:
    """Collect a process's stdout and stderr lines (with arrival times) in background threads."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.out: list[tuple[float, str]] = []
        self.err: list[tuple[float, str]] = []
        self.threads = [threading.Thread(target=self._read, args=(stream, into), daemon=True)
                        for stream, into in ((proc.stdout, self.out), (proc.stderr, self.err))]
        for t in self.threads:
            t.start()

    @staticmethod
    def _read(stream, into) -> None:
        for line in stream:
            into.append((time.monotonic(), line))

    def first(self, prefix: str, stream: str = "err") -> float | None:
        """Arrival time of the first line of ``stream`` (``out`` or ``err``) starting with ``prefix``."""
        return next((at for at, line in list(getattr(self, stream)) if line.startswith(prefix)), None)

    def wait_line(self, prefix: str, timeout: float, stream: str = "err") -> float | None:
        """Arrival time of the first line starting with ``prefix``; ``None`` if the process ended without it."""
        deadline = time.monotonic() + timeout
        while (at := self.first(prefix, stream)) is None:
            if self.proc.poll() is not None:
                for t in self.threads:
                    t.join(5)
                return self.first(prefix, stream)
            if time.monotonic() > deadline:
                raise AssertionError(f"no line '{prefix}...' after {timeout} s; stderr so far: {self.stderr}")
            time.sleep(0.01)
        return at

    def finish(self, timeout: float = 600) -> int:
        """Wait for the process and its output; its return code."""
        code = self.proc.wait(timeout)
        for t in self.threads:
            t.join(10)
        return code

    @property
    def stdout(self) -> str:
        return "".join(line for _, line in self.out)

    @property
    def stderr(self) -> str:
        return "".join(line for _, line in self.err)


def comparable(rows: pd.DataFrame) -> pd.DataFrame:
    """Score rows without run_id/scored_at, sorted by account, ``reasons`` as parsed JSON."""
    import json

    out = rows[ROW_COLUMNS].sort_values(["as_of_date", "account_id"]).reset_index(drop=True)
    for column in ("reasons", "contributions"):
        out[column] = [json.loads(r) if isinstance(r, str) else r for r in out[column]]
    out["as_of_date"] = pd.to_datetime(out["as_of_date"]).dt.date
    return out
