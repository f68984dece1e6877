"""The error types of the modelling layer; the CLI turns each into a clear message and exit code 2."""


class ChurnError(Exception):
    """A problem the user can act on; the message says what and where."""

    exit_code = 2


class ConfigError(ChurnError):
    """A configuration file or flag with an unknown key or a bad value."""


class ModelError(ChurnError):
    """A model that does not fit the data or configuration it is used with."""
