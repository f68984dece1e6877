"""The churn model as an MLflow pyfunc: probabilities and per-feature contributions, not class labels.

The :class:`ChurnModel` is saved with joblib as the pyfunc's only artifact;
``predict`` returns ``churn_probability`` plus one ``contrib__<feature>`` column
per feature and ``base_value`` (TreeSHAP, in log-odds). The nightly scorer gets the
:class:`ChurnModel` itself back with :func:`load_churn_model` (reading the files:
:mod:`pipeline.publish.model_files`, which imports MLflow only to download).
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import joblib
import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.models import infer_signature
from mlflow.pyfunc.model import PythonModel

from models.classifier import ChurnModel
from pipeline.publish.model_files import (ARTIFACT, SCORECARD, MLmodel, download,  # noqa: F401 (re-exported)
                                          load_churn_model_and_scorecard)

CONTRIB_PREFIX = "contrib__"
#: Libraries the pickled model needs at serving time (with this package), pinned to the versions trained with.
REQUIREMENTS = ("lightgbm", "scikit-learn", "pandas", "numpy", "joblib", "mlflow")


def predict_frame(model, X: pd.DataFrame) -> pd.DataFrame:
    """``churn_probability``, ``contrib__<feature>`` columns and ``base_value`` for each row of ``X``."""
    contrib = model.contributions(X)
    contrib.columns = [c if c == "base_value" else CONTRIB_PREFIX + c for c in contrib.columns]
    return pd.concat([pd.DataFrame({"churn_probability": model.predict_risk(X)}, index=X.index), contrib], axis=1)


class ChurnPyfunc(PythonModel):
    """Pyfunc wrapper of a joblib-saved :class:`models.classifier.ChurnModel`."""

    def load_context(self, context):
        self.model = joblib.load(context.artifacts[ARTIFACT])
        scorecard = context.artifacts.get(SCORECARD)
        self.scorecard = json.loads(Path(scorecard).read_text()) if scorecard else None

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return predict_frame(self.model, pd.DataFrame(model_input))


def log_model(model, sample: pd.DataFrame, registered_model_name: str | None = None, scorecard: dict | None = None):
    """Log ``model`` as a pyfunc in the active run (and register it under ``registered_model_name``).

    Parameters
    ----------
    model : ChurnModel
    sample : pandas.DataFrame
        A few feature rows, used to infer the input and output signature.
    scorecard : dict, optional
        The health scorecard the model was compared against (``HealthScore.to_dict()``);
        the scorer writes that baseline next to the model's probabilities.

    Returns
    -------
    mlflow.models.model.ModelInfo
    """
    inputs = model.prepare(sample).astype({c: "object" for c in model.categorical_})
    signature = infer_signature(inputs, predict_frame(model, sample))
    with tempfile.TemporaryDirectory() as tmp, _quiet():
        path = Path(tmp) / "churn_model.joblib"
        joblib.dump(model, path)
        artifacts = {ARTIFACT: str(path)}
        if scorecard is not None:
            artifacts[SCORECARD] = str(Path(tmp) / "health_score.json")
            Path(artifacts[SCORECARD]).write_text(json.dumps(scorecard, indent=1))
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=ChurnPyfunc(),
            artifacts=artifacts,
            signature=signature,
            pip_requirements=[f"{name}=={version(name)}" for name in REQUIREMENTS],
            registered_model_name=registered_model_name,
        )


@contextmanager
def _quiet():
    """Silence MLflow's logging-time advice (input example, cloudpickle) that does not apply here."""
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        logger.setLevel(level)


def load_churn_model(uri: str) -> ChurnModel:
    """The :class:`ChurnModel` behind a logged pyfunc, e.g. ``models:/churn-model@champion``.

    Raises
    ------
    models.errors.ModelError
        When nothing is found at ``uri`` or it is not a churn model.
    """
    return load_churn_model_and_scorecard(uri)[0]
