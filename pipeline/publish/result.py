"""What a training run produced, typed: the train step fills it, publishing (MLflow, the report) reads it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from models import evaluation
from models.classifier import ChurnModel
from models.health_score import HealthScore
from pipeline.config import Config
from pipeline.engine.featurize import FeatureTable
from pipeline.publish.gate import Decision


@dataclass
class TrainResult:
    """Everything a training run produced (the CLI prints it, MLflow stores it).

    Attributes
    ----------
    cfg : Config
        The configuration it was trained under.
    model : ChurnModel
        The final model: trained on every usable snapshot with the recipe chosen out of time.
    backtest : models.evaluation.Backtest
        Empty (no fold) when the history is too short for an out-of-time test: the model is unvalidated.
    recipe : models.evaluation.Recipe
        The number of trees and the calibration the folds chose.
    panel : pandas.DataFrame
        The usable (labelled, label window closed) snapshots.
    table : FeatureTable
        The feature build (feature definitions, vocabulary).
    train_until : date
        Nothing known after this date was used.
    fingerprint : str
        SHA-256 of the usable panel (keys, features, labels).
    importance : pandas.Series
        Mean absolute contribution per feature of the final model on its validation period.
    """

    cfg: Config
    model: ChurnModel
    backtest: evaluation.Backtest
    panel: pd.DataFrame
    table: FeatureTable
    train_until: date
    fingerprint: str
    importance: pd.Series
    seconds: dict[str, float] = field(default_factory=dict)
    decision: Decision | None = None
    run_id: str | None = None
    version: str | None = None
    report: Path | None = None
    health: HealthScore | None = None
    data_label: str = ""
    recipe: evaluation.Recipe | None = None

    @property
    def validated(self) -> bool:
        """Whether an out-of-time fold tested the recipe (otherwise promotion needs ``--promote``)."""
        return bool(self.backtest.folds)
