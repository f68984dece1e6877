"""A local copy of the registered model's artifacts, keyed by its registry version and run id.

``churn score`` still asks the registry which version serves (an alias moves);
the copy is used only when it holds that very version of that run, downloaded
from the same tracking store. Any other version replaces it: one slot per
(tracking store, model name), written beside it and swapped in by a rename, so
a download that fails half-way never leaves a partial copy in use.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Callable

#: The file in a slot that says which version it holds.
KEY_FILE = "key.json"


def slot(root: Path, tracking_uri: str, name: str) -> Path:
    """The folder holding the copy of model ``name`` from ``tracking_uri`` (the URI is hashed: no password on disk)."""
    return Path(root).expanduser() / hashlib.sha256(f"{tracking_uri}\n{name}".encode()).hexdigest()[:20]


def held(root: Path, tracking_uri: str, name: str, version: str, run_id: str) -> Path | None:
    """The folder of the cached copy of ``name`` version ``version`` of run ``run_id``; ``None`` when not cached."""
    here = slot(root, tracking_uri, name)
    stamp = here / KEY_FILE
    if not stamp.is_file():
        return None
    key = {"name": name, "version": str(version), "run_id": run_id}
    found = json.loads(stamp.read_text())
    if {k: found.get(k) for k in key} == key and (here / found.get("dir", "")).is_dir():
        return here / found["dir"]
    return None


def cached(root: Path, tracking_uri: str, name: str, version: str, run_id: str,
           download: Callable[[Path], Path]) -> Path:
    """The local folder of ``name`` version ``version`` (logged by run ``run_id``), downloaded when not cached.

    Parameters
    ----------
    root : pathlib.Path
        The cache folder (``scoring.model_cache_dir``).
    tracking_uri, name, version, run_id : str
        Where the registry is, and what it says serves now.
    download : callable
        ``download(folder)`` fetches the model's artifacts into ``folder`` and returns
        the folder holding its ``MLmodel`` (called only when the cache holds another version).

    Returns
    -------
    pathlib.Path
        The folder of the cached model (its ``MLmodel`` and artifacts).
    """
    found = held(root, tracking_uri, name, version, run_id)
    if found is not None:
        return found
    here = slot(root, tracking_uri, name)
    key = {"name": name, "version": str(version), "run_id": run_id}
    here.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(dir=here.parent, prefix=".download-"))
    old = here.parent / f".old-{uuid.uuid4().hex}"
    try:
        local = Path(download(fresh / "model"))
        (fresh / KEY_FILE).write_text(json.dumps({**key, "dir": str(local.relative_to(fresh))}))
        if here.exists():
            here.rename(old)
        fresh.rename(here)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
    return here / local.relative_to(fresh)
