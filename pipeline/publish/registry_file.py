"""What a SQLite MLflow registry serves, read from its file without importing MLflow.

``churn score`` asks the registry every time which version of its model serves, then loads
that version from the local copy (:mod:`pipeline.publish.model_cache`) when the copy holds
it. Importing MLflow and opening its store costs about 1.5 s of every process; on the
default SQLite store these functions read the same rows MLflow's own registry store reads
(the alias, the version not deleted, the default workspace). Whenever they cannot answer
exactly as MLflow would (another kind of store, MLflow workspaces switched on, the reserved
``latest`` alias, an unreadable file or another schema) they answer ``None`` and the caller
asks MLflow. :func:`where` says which store a command uses, also without MLflow.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.config import Tracking
from pipeline.errors import mask_secrets

#: Variables that let MLflow read another workspace than its default one: then MLflow answers.
WORKSPACE_VARIABLES = ("MLFLOW_ENABLE_WORKSPACES", "MLFLOW_WORKSPACE", "MLFLOW_WORKSPACE_STORE_URI")
#: MLflow's workspace of a store without workspaces, and the stage of a deleted version.
DEFAULT_WORKSPACE, DELETED_STAGE = "default", "Deleted_Internal"
#: The alias MLflow resolves itself (the highest version), never one stored in the table.
LATEST = "latest"


def where(tracking: Tracking) -> str:
    """One line saying where MLflow logs and reads models, and which setting chose it (passwords masked).

    Examples
    --------
    >>> from pipeline.config import load_config
    >>> where(load_config(None, {"tracking.uri": "postgresql://bob:secret@db/mlflow"}).tracking)
    'MLflow tracking at postgresql://bob:***@db/mlflow (from --tracking-uri)'
    """
    uri = tracking.uri
    if urlsplit(uri).scheme == "sqlite" and not uri.startswith("sqlite:////"):
        uri = f"{uri} = {Path(uri.removeprefix('sqlite:///')).resolve()}"
    return f"MLflow tracking at {mask_secrets(uri)} (from {tracking.origin})"


def served(tracking_uri: str, name: str, alias: str | None = None, version: str | None = None
           ) -> tuple[str, str] | None:
    """(version, run id) that ``name@alias`` (or ``name/version``) is in the registry now.

    ``None`` when the file cannot say (then ask MLflow), also when no such alias or version
    exists: MLflow's own error message is the one to show.
    """
    if alias is not None and alias.lower() == LATEST:
        return None
    sql = ("SELECT v.version, v.run_id FROM model_versions v JOIN registered_model_aliases a "
           "ON a.workspace = v.workspace AND a.name = v.name AND a.version = v.version "
           "WHERE v.workspace = ? AND v.name = ? AND a.alias = ? AND v.current_stage != ?"
           if alias is not None else
           "SELECT v.version, v.run_id FROM model_versions v "
           "WHERE v.workspace = ? AND v.name = ? AND v.version = ? AND v.current_stage != ?")
    key = alias if alias is not None else int(version or 0)
    rows = _rows(tracking_uri, sql, [DEFAULT_WORKSPACE, name, key, DELETED_STAGE])
    if rows is None or len(rows) != 1:
        return None
    found, run_id = rows[0]
    return str(found), run_id or ""


def registered(tracking_uri: str, name: str) -> bool | None:
    """Whether ``name`` is a registered model of the store; ``None`` when the file cannot say."""
    rows = _rows(tracking_uri, "SELECT count(*) FROM registered_models WHERE workspace = ? AND name = ?",
                 [DEFAULT_WORKSPACE, name])
    return None if rows is None else rows[0][0] > 0


def database(tracking_uri: str) -> Path | None:
    """The file of a ``sqlite:///`` tracking URI (relative to the working folder, as MLflow reads it), if any."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix) or "?" in tracking_uri or any(os.environ.get(v) for v in
                                                                          WORKSPACE_VARIABLES):
        return None
    path = Path(tracking_uri.removeprefix(prefix))
    return path if path.name not in ("", ":memory:") and path.is_file() else None


def _rows(tracking_uri: str, sql: str, params: list) -> list | None:
    """The rows of ``sql`` on the store's file, opened read-only; ``None`` on any problem."""
    path = database(tracking_uri)
    if path is None:
        return None
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)) as con:
            return con.execute(sql, params).fetchall()
    except sqlite3.Error:
        return None
