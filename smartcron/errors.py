"""Errors that reach the user, each mapped to an exit status.

Exit statuses are part of the CLI contract: 0 ok, 1 the operation failed, 2 invalid input.
"""

from __future__ import annotations


class SmartcronError(Exception):
    """Base class: a failure with a message fit to show the user."""

    exit_code = 1


class InvalidInput(SmartcronError):
    """Given a field, the offending value and what is allowed, describe a rejected input.

    The message is one line: it names the field, repeats the value and says what is allowed,
    so that the user can fix it without reading the code.
    """

    exit_code = 2

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        shown = value if isinstance(value, str) else repr(value)
        if isinstance(shown, str) and len(shown) > 120:
            shown = shown[:117] + "..."
        super().__init__(f"{field}: {shown!r} is not valid: {allowed}")


class OperationFailed(SmartcronError):
    """The input was fine but the operation could not be carried out (database down, ...)."""

    exit_code = 1


class NotFound(SmartcronError):
    """A named object (task, run, user) does not exist."""

    exit_code = 1
