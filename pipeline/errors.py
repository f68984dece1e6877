"""Errors the CLI turns into a clear message and exit code 2, never a traceback."""


class ChurnError(Exception):
    """A problem the user can act on; the message says what and where."""

    exit_code = 2


class SourceError(ChurnError):
    """A data source that cannot be opened or read."""


class ConfigError(ChurnError):
    """A configuration file or flag with an unknown key or a bad value."""


class DataContractError(ChurnError):
    """Input data that breaks the data contract (see ``churn validate``)."""


class ModelError(ChurnError):
    """A model that does not fit the data or configuration it is used with."""
