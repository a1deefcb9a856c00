"""Timezones: the host's zone, and checking IANA zone names."""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smartcron.errors import InvalidInput


def is_zone(name: str) -> bool:
    """Return True if `name` is an IANA timezone this host knows (no paths, no spaces)."""
    if not name or " " in name or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def host_timezone() -> str:
    """Return the host's IANA timezone name (from $TZ, /etc/timezone or /etc/localtime), else
    UTC."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and is_zone(tz):
        return tz
    try:
        name = Path("/etc/timezone").read_text(encoding="utf-8").strip()
        if is_zone(name):
            return name
    except OSError:
        pass
    try:
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            name = target.split("zoneinfo/", 1)[1]
            if is_zone(name):
                return name
    except OSError:
        pass
    return "UTC"


def check_timezone(value: object) -> str:
    """Given an IANA timezone name, return it or raise InvalidInput."""
    if not isinstance(value, str) or not is_zone(value):
        raise InvalidInput(
            "timezone",
            value,
            "use an IANA timezone name such as 'Pacific/Auckland' or 'UTC' "
            "(see `timedatectl list-timezones`)",
        )
    return value
