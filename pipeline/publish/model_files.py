"""The churn model's files: downloaded from the tracking store, read back without MLflow's serving set-up.

MLflow is imported only to download; reading a folder that already holds the pyfunc (the local
copy of :mod:`pipeline.publish.model_cache`) needs joblib and YAML alone, so a ``churn score``
served from that copy does not pay MLflow's import.
"""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import yaml

from models.classifier import ChurnModel
from models.errors import ModelError

ARTIFACT = "churn_model"
SCORECARD = "health_score"
#: The model description MLflow writes beside the artifacts.
MLmodel = "MLmodel"


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
    import mlflow.artifacts
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
        import mlflow

        raise ModelError(f"cannot load the model '{uri}' from {mlflow.get_tracking_uri()}: {exc}") from None
    found = ((spec.get("flavors") or {}).get("python_function") or {}).get("artifacts") or {}
    if ARTIFACT not in found:
        raise ModelError(f"'{uri}' is not a churn model (its pyfunc holds no '{ARTIFACT}' artifact)")
    return {name: local / entry["path"] for name, entry in found.items()}
