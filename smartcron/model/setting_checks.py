"""The checks of setting values, each (name, value) -> None or what is allowed, the limits
they enforce, and the type a value must have in the file and in the environment. config.py
declares every setting with one of these; doctor and the watchdog read the values with the
same grammar (parse_duration), so they agree.
"""

from __future__ import annotations

import dataclasses
import json
import pwd
import re
from collections.abc import Mapping
from typing import Any

from smartcron.errors import InvalidInput
from smartcron.model.quantities import parse_duration

_TIMESPAN = re.compile(r"^\d+(\.\d+)?\s*(us|ms|s|sec|m|min|h|hr|d)?$")


_TIMESPAN_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
_TIMESPAN_UNITS |= {"hr": 3600, "d": 86400, "": 1}
MAX_ACCURACY = 86400.0  # one day: longer is meaningless for AccuracySec=
MAX_RETENTION_DAYS = 36500
MAX_BACKUPS_KEPT = 10000


def check_timespan(name: str, value: Any) -> str | None:
    match = _TIMESPAN.match(str(value)) if len(str(value)) <= 32 else None
    allowed = "expected a systemd time span such as 1s, 250ms or 1min, at most 1d"
    if not match:
        return allowed
    number = float(str(value).rstrip("abcdefghijklmnopqrstuvwxyz "))
    seconds = number * _TIMESPAN_UNITS[match[2] or ""]
    return None if seconds <= MAX_ACCURACY else allowed


def check_duration(name: str, value: Any) -> str | None:
    """A smartcron duration (30s, 5m, 4h, 1d): the one grammar of `parse_duration`, so the
    config check says exactly what the watchdog would say when it reads the setting."""
    try:
        parse_duration(name, value, minimum=1)
    except InvalidInput as exc:
        return exc.allowed
    return None


MIN_HOST_DOWN_AFTER = 30  # seconds: three missed heartbeats (every 10 s), not one slow one


def check_host_down_after(name: str, value: Any) -> str | None:
    """host_down_after: a duration of at least MIN_HOST_DOWN_AFTER. A shorter one would call
    a host down between two heartbeats of a slow but healthy watchdog."""
    try:
        parse_duration(name, value, minimum=MIN_HOST_DOWN_AFTER)
    except InvalidInput as exc:
        return exc.allowed
    return None


def check_absolute(name: str, value: Any) -> str | None:
    return None if str(value).startswith("/") else "expected an absolute path"


def check_url(name: str, value: Any) -> str | None:
    ok = str(value).startswith(("sqlite:///", "mysql+pymysql://"))
    return (
        None
        if ok
        else "expected sqlite:////path/file.db or mysql+pymysql://user:password@host/dbname"
    )


def whole_number(maximum: int) -> Any:
    """A check for a whole-number setting from 1 to `maximum`."""

    def check(name: str, value: Any) -> str | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= maximum
        return None if ok else f"expected a whole number from 1 to {maximum}"

    return check


_ACCOUNT = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def check_default_user(name: str, value: Any) -> str | None:
    if not _ACCOUNT.match(str(value)):
        return "a system account name (lowercase letters, digits, '_' and '-'), e.g. nobody"
    if value == "root":
        return (
            "must be an unprivileged account; a task that needs root says so itself (--user root)"
        )
    return None


DEFAULT_SERVICE_USER = "smartcron"  # the default of the service_user setting (install.sh)


def account_exists(account: str) -> bool:
    """Return True when `account` names a user of this host."""
    try:
        pwd.getpwnam(account)
    except (KeyError, ValueError):  # ValueError: a NUL in the name
        return False
    return True


def check_service_user(name: str, value: Any) -> str | None:
    """service_user: empty (root), an account of this host, or the default left missing (a
    development machine). Any other missing account, a typo, would run the services as root."""
    if not value or value == DEFAULT_SERVICE_USER or account_exists(str(value)):
        return None
    return (
        "an account that exists on this host (no user has this name), or empty to run "
        "smartcron's own services as root"
    )


def check_networks(name: str, value: Any) -> str | None:
    """Addresses or networks, comma-separated (127.0.0.1, ::1, 10.0.0.0/24), or empty."""
    import ipaddress

    for item in (p.strip() for p in str(value).split(",")):
        if not item:
            continue
        try:
            ipaddress.ip_network(item)
        except ValueError as exc:
            return (
                f"{item!r} is not an address or network ({exc}); e.g. 127.0.0.1,::1 or 10.0.0.0/24"
            )
    return None


def check_optional_absolute(name: str, value: Any) -> str | None:
    return None if not value or str(value).startswith("/") else "expected an absolute path or empty"


def check_listen(name: str, value: Any) -> str | None:
    host, _, port = str(value).rpartition(":")
    ok = bool(host) and port.isascii() and port.isdigit() and 0 < int(port) < 65536
    return None if ok else "expected host:port, e.g. 127.0.0.1:8080 or 0.0.0.0:8080"


def check_host_name_setting(name: str, value: Any) -> str | None:
    """The host_name setting: a host name as `hostname` prints it (model/placement.py)."""
    from smartcron.model.placement import check_host_name

    try:
        check_host_name(name, value)
    except InvalidInput as exc:
        return exc.allowed
    return None


def check_clock_time(name: str, value: Any) -> str | None:
    """A time of day, "HH:MM" from 00:00 to 23:59, or empty (off)."""
    from smartcron.model.digest import parse_clock

    try:
        if value:
            parse_clock(str(value))
    except ValueError:
        return 'a time of day as "HH:MM" from 00:00 to 23:59 (e.g. "07:30"), or empty for off'
    return None


def check_weekday(name: str, value: Any) -> str | None:
    """A weekday as three letters (Mon ... Sun), or empty (off)."""
    from smartcron.model.digest import WEEKDAYS

    if not value or value in WEEKDAYS:
        return None
    return f"one of {', '.join(WEEKDAYS)}, or empty for no weekly digest"


def check_zone_setting(name: str, value: Any) -> str | None:
    """An IANA time zone name, or empty (the host's)."""
    from smartcron.model.zones import is_zone

    if not value or is_zone(str(value)):
        return None
    return "an IANA time zone such as Europe/Berlin (see `timedatectl list-timezones`), or empty"


def check_digest_settings(values: Mapping[str, Any], where: str) -> list[InvalidInput]:
    """Return what is wrong across the digest's settings: its channels must exist, and a
    weekly digest needs its time of day."""
    problems = []
    channels = values.get("channels", {})
    for name in values.get("digest_channels", []):
        if name not in channels:
            known = ", ".join(channels) or "none configured"
            problems.append(
                InvalidInput(
                    f"{where}: digest_channels", name, f"a channel from `channels` ({known})"
                )
            )
    if values.get("digest_weekly") and not values.get("digest_time"):
        problems.append(
            InvalidInput(
                f"{where}: digest_weekly",
                values["digest_weekly"],
                'set together with digest_time (the time it is sent, e.g. "07:30")',
            )
        )
    return problems


def expected_type(f: dataclasses.Field[Any]) -> type:
    """Return the Python type a setting's value has (a dict for a TOML table)."""
    kinds = {"str": str, "int": int, "bool": bool, "float": float, "list[str]": list}
    return kinds.get(str(f.type), dict)  # dict[str, str], or a table of tables (nested)


def coerce_env(f: dataclasses.Field[Any], raw: str, origin: str) -> Any:
    """Given a setting and the text of its environment variable, return the typed value."""
    kind = expected_type(f)
    if kind is str:
        return raw
    if kind is dict and f.metadata.get("nested"):
        try:
            return json.loads(raw)  # its check (load) says what is wrong with it
        except json.JSONDecodeError as exc:
            raise InvalidInput(origin, raw, f"a JSON object ({exc})") from None
    if kind is dict:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise InvalidInput(
                origin, raw, 'a JSON object of name: URL, e.g. {"ops": "json://host/hook"}'
            )
        return value
    if kind is list:  # a JSON array, or names separated by commas
        try:
            items = json.loads(raw) if raw.lstrip().startswith("[") else raw.split(",")
        except json.JSONDecodeError:
            items = None
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise InvalidInput(origin, raw, 'names separated by commas, or a JSON array: ["ops"]')
        return [i.strip() for i in items if i.strip()]
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise InvalidInput(origin, raw, "use true or false")
    try:
        return kind(raw)
    except ValueError:
        raise InvalidInput(origin, raw, f"expected {kind.__name__}") from None


def file_value_problem(f: dataclasses.Field[Any], value: Any, path: object) -> InvalidInput | None:
    """Given a setting, its value from the TOML file and the file's path, return what is wrong
    with the value's type, or None."""
    kind = expected_type(f)
    if kind is dict and isinstance(value, dict) and not f.metadata.get("nested"):
        bad = [k for k, v in value.items() if not isinstance(v, str)]
        if bad:
            where = f"{path}: key {f.name}.{bad[0]}"
            return InvalidInput(where, value[bad[0]], "expected a URL string")
    if kind is list and isinstance(value, list) and not all(isinstance(v, str) for v in value):
        return InvalidInput(f"{path}: key {f.name!r}", value, "expected a list of names")
    # bool is a subclass of int in Python; refuse `timeout = true` for an int setting.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        allowed = f"expected {kind.__name__}, got {type(value).__name__}"
        return InvalidInput(f"{path}: key {f.name!r}", value, allowed)
    return None


def file_values(
    data: Mapping[str, Any], known: Mapping[str, dataclasses.Field[Any]], path: object
) -> tuple[dict[str, Any], list[InvalidInput]]:
    """Given the parsed TOML file, the settings by name and the file's path, return the values
    of the right type and the problems of the others (every one, so one edit fixes them)."""
    values: dict[str, Any] = {}
    problems: list[InvalidInput] = []
    for key, value in data.items():
        if key not in known:
            problems.append(
                InvalidInput(
                    f"{path}: key {key!r}",
                    key,
                    f"unknown setting; known settings: {', '.join(known)}",
                )
            )
            continue
        problem = file_value_problem(known[key], value, path)
        if problem is None:
            values[key] = value
        else:
            problems.append(problem)
    return values, problems
