"""Exceptions with messages that name the offending file and the fix."""

__all__ = ["DataError", "ParameterError"]


class DataError(ValueError):
    """Input data are missing, malformed or inconsistent.

    The message names the file and says how to fix it.
    """


class ParameterError(ValueError):
    """A profile or notebook parameter is unknown or has an invalid value."""
