"""Errors that reach the user, each mapped to an exit status.

Exit statuses are part of the CLI contract: 0 ok, 1 the operation failed, 2 invalid input.
"""

from __future__ import annotations

import reprlib

SHOWN_MAX = 120  # characters of a rejected value repeated in the message

# A rejected value is shown through a bounded repr: a huge one (a YAML alias bomb expands to
# billions of items) costs a few items per level, never a full repr.
_SHOWN = reprlib.Repr()
_SHOWN.maxlevel = 3
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = _SHOWN.maxset = _SHOWN.maxfrozenset = 12
_SHOWN.maxstring = _SHOWN.maxother = _SHOWN.maxlong = SHOWN_MAX


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
        if value is None:  # a missing field: Python's None means nothing to the user
            super().__init__(f"{field}: not given: {allowed}")
            return
        shown = value if isinstance(value, str) else _SHOWN.repr(value)
        if len(shown) > SHOWN_MAX:
            shown = shown[: SHOWN_MAX - 3] + "..."
        super().__init__(f"{field}: {shown!r} is not valid: {allowed}")


class OperationFailed(SmartcronError):
    """The input was fine but the operation could not be carried out (database down, ...)."""

    exit_code = 1


class NotFound(SmartcronError):
    """A named object (task, run, user) does not exist."""

    exit_code = 1
