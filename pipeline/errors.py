"""Errors the CLI turns into a clear message and exit code 2, never a traceback, and never a password."""

import re

from models.errors import ChurnError, ConfigError, ModelError

__all__ = ["ChurnError", "ConfigError", "DataContractError", "ModelError", "SourceError", "mask_secrets"]

_USERINFO_PASSWORD = re.compile(r"(\w[\w+.-]*://[^:/@\s]*:)([^\s/]+)(@)")  # up to the host's '@'
_QUERY_PASSWORD = re.compile(r"([?&](?:password|passwd|pwd)=)([^&\s]+?)(?=&|\s|:\s|:?$)", re.IGNORECASE)


class SourceError(ChurnError):
    """A data source that cannot be opened or read."""


class DataContractError(ChurnError):
    """Input data that breaks the data contract (see ``churn validate``)."""


def mask_secrets(text: str) -> str:
    """Mask every password embedded in a URL (user-info or ``password=`` parameter) inside ``text``."""
    masked = _USERINFO_PASSWORD.sub(r"\1***\3", str(text))
    return _QUERY_PASSWORD.sub(r"\1***", masked)
