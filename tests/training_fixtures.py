"""Helpers shared by the training tests: one small world and its snapshot panel, built once per session.

Imported by ``models/test_evaluation.py``, ``models/test_registry.py`` and
``pipeline/steps/test_train.py`` (the ``demo`` fixture in ``conftest.py`` uses it).
"""

from __future__ import annotations

from pipeline.config import load_config
from pipeline.steps import train

#: Small enough for CI, long enough for two out-of-time folds with the default 90 + 30 day label window.
WORLD = {"accounts": 1000, "days": 620, "seed": 11}
TRAINING = {"training.folds": 2, "training.test_days": 62, "training.trees": [50, 150]}
WINDOW = 120
_BUILT: dict = {}


def train_config(data, tmp, **overrides):
    """The pipeline config of these tests: temporary report dir and tracking store, never the repo's."""
    return load_config(None, {
        "data": str(data), **TRAINING, "training.report_dir": str(tmp / "reports"),
        "tracking.uri": f"sqlite:///{tmp / 'mlflow.db'}", **overrides,
    })


def build_demo(factory) -> dict:
    """Generate the test world and its snapshot panel once per session."""
    if not _BUILT:
        from pipeline.synthetic import generate_world

        folder = factory.mktemp("train_world") / "world"
        generate_world(folder, **WORLD)
        cfg = train_config(folder, factory.mktemp("unused"))
        table, _ = train.build_panel(cfg, None, lambda msg: None)
        _BUILT.update(folder=folder, table=table)
    return _BUILT
