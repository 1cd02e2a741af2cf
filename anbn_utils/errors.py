"""Exceptions with messages that name the offending file and the fix."""

__all__ = ["DataError", "ParameterError", "RunError"]


class DataError(ValueError):
    """Input data are missing, malformed or inconsistent.

    The message names the file and says how to fix it.
    """


class ParameterError(ValueError):
    """A profile or notebook parameter is unknown or has an invalid value."""


class RunError(RuntimeError):
    """A run cannot start or did not finish (its directory is in use, a stage failed).

    The message says what happened, where the details are, and what to do.
    """
