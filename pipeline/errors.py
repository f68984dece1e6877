"""Errors of the data layers (sources, the contract) and masking passwords out of every message.

The base :class:`models.errors.ChurnError` (and ``ConfigError``, ``ModelError``) live in
:mod:`models.errors`, the lowest layer that raises them; the CLI turns each into a clear
message and exit code 2, never a traceback, and never a password.
"""

import re

import models.errors

__all__ = ["DataContractError", "SourceError", "mask_secrets"]

_USERINFO_PASSWORD = re.compile(r"(\w[\w+.-]*://[^:/@\s]*:)([^\s/]+)(@)")  # up to the host's '@'
_QUERY_PASSWORD = re.compile(r"([?&](?:password|passwd|pwd)=)([^&\s]+?)(?=&|\s|:\s|:?$)", re.IGNORECASE)


class SourceError(models.errors.ChurnError):
    """A data source that cannot be opened or read."""


class DataContractError(models.errors.ChurnError):
    """Input data that breaks the data contract (see ``churn validate``)."""


def mask_secrets(text: object) -> str:
    """Mask every password embedded in a URL (user-info or ``password=`` parameter) inside ``text``."""
    masked = _USERINFO_PASSWORD.sub(r"\1***\3", str(text))
    return _QUERY_PASSWORD.sub(r"\1***", masked)
