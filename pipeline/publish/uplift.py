"""The uplift model in MLflow: one run per ``churn train-uplift``, its own registered model.

The fitted :class:`models.uplift.UpliftModel` is logged as a pyfunc whose ``predict`` returns
``uplift`` (estimated reduction of the churn probability if contacted) and registered under
``tracking.uplift_model_name``. The version is tagged ``validated`` (``true`` only when the chosen
learner beat chance and the churn probability's order out of time) and gets the alias ``champion``
when validated, ``challenger`` otherwise: the scorer uses only a validated champion.
"""

from __future__ import annotations

import json
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import joblib
import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.pyfunc.model import PythonModel

from models.errors import ModelError
from models.uplift import UpliftModel
from pipeline.config import Config
from pipeline.publish.gate import CHALLENGER, CHAMPION
from pipeline.publish.pyfunc import REQUIREMENTS, _quiet, download
from pipeline.publish.registry import configure, git_commit

ARTIFACT = "uplift_model"


class UpliftPyfunc(PythonModel):
    """Pyfunc wrapper of a joblib-saved :class:`models.uplift.UpliftModel`."""

    def load_context(self, context):
        self.model = joblib.load(context.artifacts[ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return pd.DataFrame({"uplift": self.model.predict(pd.DataFrame(model_input))})


def log(cfg: Config, result: Any) -> str:
    """Log the run and register the model; the registered version (``NAME vN``).

    ``result`` is a :class:`pipeline.steps.uplift.UpliftResult` with a model (publish does not import steps).
    """
    sel, model = result.selection, result.model
    assert sel is not None and model is not None
    name = cfg.tracking.uplift_model_name
    client = configure(cfg.tracking)
    commit, dirty = git_commit()
    with mlflow.start_run(run_name=f"uplift-{result.experiment}") as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tags({"git_commit": commit, "git_dirty": str(dirty), "experiment": result.experiment,
                         "validated": str(sel.validated).lower(), "reason": sel.reason[:5000]})
        mlflow.log_params({"learner": sel.chosen, "test_from": str(sel.test_from), "rows": result.n_closed,
                           "assigned": result.n_assigned, "features": len(result.features),
                           **{f"train_{k}": v for k, v in sel.n_train.items()},
                           **{f"test_{k}": v for k, v in sel.n_test.items()}})
        mlflow.log_metrics({f"qini_{k}": v for k, v in sel.qini.items() if v == v})
        path = Path(tmp) / "uplift_model.joblib"
        joblib.dump(model, path)
        with _quiet():
            info = mlflow.pyfunc.log_model(name="model", python_model=UpliftPyfunc(), artifacts={ARTIFACT: str(path)},
                                           pip_requirements=[f"{n}=={version(n)}" for n in REQUIREMENTS],
                                           registered_model_name=name)
        ver = str(info.registered_model_version)
        tags = {"validated": str(sel.validated).lower(), "learner": str(sel.chosen), "experiment": result.experiment,
                "run_id": run.info.run_id, "features": json.dumps(result.features), "reason": sel.reason[:5000]}
        for key, value in tags.items():
            client.set_model_version_tag(name, ver, key, value)
        client.set_registered_model_alias(name, CHAMPION if sel.validated else CHALLENGER, ver)
    return f"{name} v{ver}"


def load_validated(cfg: Config) -> UpliftModel | None:
    """The validated champion uplift model, or ``None`` when there is none (never an unvalidated one)."""
    from mlflow import MlflowClient

    configure(cfg.tracking)
    name = cfg.tracking.uplift_model_name
    try:
        current = MlflowClient().get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None
    if current.tags.get("validated") != "true":
        return None
    folder = download(f"models:/{name}/{current.version}")
    found = list(folder.rglob(f"{ARTIFACT}*.joblib")) or list(folder.rglob("*.joblib"))
    if not found:
        raise ModelError(f"'{name}' v{current.version} holds no uplift model artifact")
    model = joblib.load(found[0])
    if not isinstance(model, UpliftModel):
        raise ModelError(f"'{name}' v{current.version} is not an uplift model")
    return model
