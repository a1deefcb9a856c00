"""Human-friendly durations and sizes: "30s", "5m", "2h", "512M", "1G".

Pure functions. Each rejection names the field so that the caller's error is one clear line.
"""

from __future__ import annotations

import re

from smartcron.errors import InvalidInput

_DURATION_UNITS = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_DURATION_RE = re.compile(r"^\s*(\d+)\s*([a-z]*)\s*$")
# Only the units of _SIZE_UNITS (1Q is no size), each optionally followed by B or iB.
_SIZE_RE = re.compile(rf"^\s*([0-9]+)\s*([{''.join(_SIZE_UNITS)}]?)(?:i?b)?\s*$")
DURATION_HELP = "a whole number of seconds or a number with a unit s, m, h or d, e.g. 30s, 5m, 2h"
SIZE_HELP = "bytes or a number with a unit K, M, G or T (powers of 1024), e.g. 512M, 1G"
# The largest duration and size anything accepts. Both fit the database columns and what
# systemd can represent (a time span is a 64-bit count of microseconds; StartLimitIntervalSec=
# multiplies a task's timeout by its attempts, so a task's own limit is far below this).
MAX_DURATION = 365 * 86400  # 365d
MAX_SIZE = 1024**5  # 1024T
_MAX_DIGITS = 30


def parse_duration(
    field: str, value: str | int, *, minimum: int = 0, maximum: int = MAX_DURATION
) -> int:
    """Given a field name and a duration such as "90", "5m" or 300, return whole seconds
    between `minimum` and `maximum` (default 365d)."""
    if isinstance(value, bool):
        raise InvalidInput(field, value, DURATION_HELP)
    if isinstance(value, int):
        seconds = value
    else:
        parts = [p for p in re.split(r"\s+", str(value).strip().lower()) if p] or [""]
        seconds = 0
        for part in parts:
            match = _DURATION_RE.match(part)
            if not match or match.group(2) not in _DURATION_UNITS:
                if part.startswith("-"):
                    raise InvalidInput(field, value, f"must not be negative; {DURATION_HELP}")
                raise InvalidInput(field, value, DURATION_HELP)
            digits = match.group(1)
            if len(digits) > _MAX_DIGITS:  # int() of a huge text is slow, then refused
                raise InvalidInput(field, value, f"at most {format_duration(maximum)}")
            seconds += int(digits) * _DURATION_UNITS[match.group(2)]
    if seconds < minimum:
        raise InvalidInput(field, value, f"must be at least {minimum}s; {DURATION_HELP}")
    if seconds > maximum:
        raise InvalidInput(field, value, f"at most {format_duration(maximum)}; {DURATION_HELP}")
    return seconds


def parse_size(field: str, value: str | int, *, maximum: int = MAX_SIZE) -> int:
    """Given a field name and a size such as "512M", "1G" or 1048576, return bytes (at most
    `maximum`, default 1024T)."""
    if isinstance(value, bool):
        raise InvalidInput(field, value, SIZE_HELP)
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE_RE.match(str(value).lower())
        if not match:
            raise InvalidInput(field, value, SIZE_HELP)
        if len(match.group(1)) > _MAX_DIGITS:
            raise InvalidInput(field, value, f"at most {format_size(maximum)}")
        size = int(match.group(1)) * _SIZE_UNITS[match.group(2)]
    if size <= 0:
        raise InvalidInput(field, value, f"must be positive; {SIZE_HELP}")
    if size > maximum:
        raise InvalidInput(field, value, f"at most {format_size(maximum)}; {SIZE_HELP}")
    return size


def format_duration(seconds: int) -> str:
    """Given whole seconds, return the shortest exact human form (3600 is "1h", 90 is "90s")."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_size(size: int) -> str:
    """Given bytes, return the shortest exact human form (1073741824 is "1G")."""
    for unit, factor in (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)
