"""The churn model as an MLflow pyfunc: probabilities and per-feature contributions, not class labels.

The :class:`ChurnModel` is saved with joblib as the pyfunc's only artifact;
``predict`` returns ``churn_probability`` plus one ``contrib__<feature>`` column
per feature and ``base_value`` (TreeSHAP, in log-odds). The nightly scorer uses
:func:`load_churn_model` to get the :class:`ChurnModel` itself back.
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
import mlflow.artifacts
import mlflow.pyfunc
import pandas as pd
import yaml
from mlflow.models import infer_signature
from mlflow.pyfunc.model import PythonModel

from models.classifier import ChurnModel
from models.errors import ModelError

ARTIFACT = "churn_model"
SCORECARD = "health_score"
CONTRIB_PREFIX = "contrib__"
#: The model description MLflow writes beside the artifacts.
MLmodel = "MLmodel"
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


def load_churn_model_and_scorecard(uri: str, local: Path | None = None) -> tuple[ChurnModel, dict | None]:
    """The :class:`ChurnModel` and the health scorecard logged with it (``None`` for models logged without).

    ``local`` is a folder already holding the pyfunc at ``uri`` (:mod:`pipeline.publish.model_cache`);
    without it the artifacts are downloaded.

    Read from the pyfunc's artifacts directly (joblib and JSON), not by unpickling the wrapper: a model
    logged by an earlier release, whose wrapper class lived elsewhere, still loads, and nothing of
    MLflow's serving set-up runs.

    Raises
    ------
    models.errors.ModelError
        When nothing is found at ``uri`` or it is not a churn model.
    """
    artifacts = _artifacts(uri, local)
    model = joblib.load(artifacts[ARTIFACT])
    if not isinstance(model, ChurnModel):
        raise ModelError(f"'{uri}' is not a churn model (its '{ARTIFACT}' artifact holds {type(model).__name__})")
    scorecard = json.loads(artifacts[SCORECARD].read_text()) if SCORECARD in artifacts else None
    return model, scorecard


def download(uri: str, dst: Path | None = None) -> Path:
    """Download the pyfunc at ``uri`` (into ``dst``, default a temporary folder); the folder holding its ``MLmodel``.

    Raises
    ------
    models.errors.ModelError
        When nothing is found at ``uri``.
    """
    from mlflow.exceptions import MlflowException

    if dst is not None:
        Path(dst).mkdir(parents=True, exist_ok=True)
    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=None if dst is None else str(dst)))
    except (MlflowException, OSError) as exc:
        raise ModelError(f"cannot load the model '{uri}' from {mlflow.get_tracking_uri()}: {exc}") from None


def _artifacts(uri: str, local: Path | None = None) -> dict[str, Path]:
    """The pyfunc's artifacts at ``uri`` (downloaded unless ``local`` holds them), by name.

    Raises
    ------
    models.errors.ModelError
        When nothing is found at ``uri`` or its pyfunc holds no churn model artifact.
    """
    local = download(uri) if local is None else Path(local)
    try:
        spec = yaml.safe_load((local / MLmodel).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ModelError(f"cannot load the model '{uri}' from {mlflow.get_tracking_uri()}: {exc}") from None
    found = ((spec.get("flavors") or {}).get("python_function") or {}).get("artifacts") or {}
    if ARTIFACT not in found:
        raise ModelError(f"'{uri}' is not a churn model (its pyfunc holds no '{ARTIFACT}' artifact)")
    return {name: local / entry["path"] for name, entry in found.items()}
