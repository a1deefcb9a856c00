"""The task model: one validation path used by the CLI, YAML import and the dashboard.

`validate_task` turns loosely typed input (CLI options, YAML, a web form) into a `Task` whose
every field is in canonical form, or raises InvalidInput naming the field, the value and what
is allowed. Nothing reaches the database without passing through here.
"""

from __future__ import annotations

import dataclasses
import grp
import hashlib
import json
import os
import pwd
import re
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smartcron.errors import InvalidInput
from smartcron.model import schedule as schedule_mod
from smartcron.model.quantities import format_duration, format_size, parse_duration, parse_size

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ACCOUNT_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}\$?$")
CATEGORY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
CHANNEL_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PRIORITIES = ("critical", "high", "normal", "low")
ALERT_EVENTS = ("failure", "final-failure", "late", "long-run", "success")
# systemd runs services with this PATH; commands are resolved against the caller's PATH too.
SERVICE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAX_ARG_BYTES = 32 * 1024
MAX_COMMAND_BYTES = 128 * 1024


def host_timezone() -> str:
    """Return the host's IANA timezone name (from /etc/timezone or /etc/localtime), else UTC."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and _is_zone(tz):
        return tz
    try:
        name = Path("/etc/timezone").read_text(encoding="utf-8").strip()
        if _is_zone(name):
            return name
    except OSError:
        pass
    try:
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            name = target.split("zoneinfo/", 1)[1]
            if _is_zone(name):
                return name
    except OSError:
        pass
    return "UTC"


def _is_zone(name: str) -> bool:
    if not name or " " in name or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Task:
    """A validated task. Durations are whole seconds, sizes bytes; see `to_dict` for YAML."""

    name: str
    command: tuple[str, ...]
    schedule: str
    timezone: str
    timeout: int = 3600
    retries: int = 0
    retry_delay: int = 30
    memory_max: int | None = None
    cpu_quota: int | None = None
    nice: int | None = None
    user: str | None = None
    group: str | None = None
    workdir: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    category: str = "general"
    priority: str = "normal"
    description: str = ""
    alert_on: tuple[str, ...] = ("final-failure", "late")
    alert_after: int = 1
    warn_after: int | None = None
    channels: tuple[str, ...] = ()
    paused: bool = False
    catch_up: bool = True
    id: int | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the task as plain data with human units: the YAML/JSON form of a task."""
        return {
            "name": self.name,
            "description": self.description,
            "command": list(self.command),
            "schedule": self.schedule,
            "timezone": self.timezone,
            "timeout": format_duration(self.timeout),
            "retries": self.retries,
            "retry_delay": format_duration(self.retry_delay),
            "memory_max": None if self.memory_max is None else format_size(self.memory_max),
            "cpu_quota": None if self.cpu_quota is None else f"{self.cpu_quota}%",
            "nice": self.nice,
            "user": self.user,
            "group": self.group,
            "workdir": self.workdir,
            "env": dict(self.env),
            "category": self.category,
            "priority": self.priority,
            "alert_on": list(self.alert_on),
            "alert_after": self.alert_after,
            "warn_after": None if self.warn_after is None else format_duration(self.warn_after),
            "channels": list(self.channels),
            "paused": self.paused,
            "catch_up": self.catch_up,
        }

    def config_hash(self) -> str:
        """Return a short digest of everything that shapes the generated units."""
        data = self.to_dict()
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


FIELDS = tuple(f.name for f in dataclasses.fields(Task) if f.name != "id")


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(name, value, "expected text")
    return value


def _opt_text(name: str, value: object) -> str | None:
    return None if value is None else _text(name, value)


def _single_line(name: str, value: str, limit: int) -> str:
    if any(ch in value for ch in "\n\r\0"):
        raise InvalidInput(name, value, "must be a single line (no newline or NUL characters)")
    if len(value) > limit:
        raise InvalidInput(name, value, f"at most {limit} characters")
    return value


def check_name(value: object) -> str:
    """Given a candidate task name, return it or raise InvalidInput."""
    text = _text("name", value)
    if not NAME_RE.match(text):
        raise InvalidInput(
            "name",
            text,
            "use 1-64 characters: lowercase a-z, digits 0-9 and '-', "
            "starting with a letter or digit",
        )
    return text


def _check_arg(index: int, arg: object) -> str:
    if not isinstance(arg, str):
        raise InvalidInput(f"command argument {index}", arg, "expected text")
    if "\0" in arg or "\n" in arg or "\r" in arg:
        raise InvalidInput(
            f"command argument {index}",
            arg,
            "newline and NUL characters cannot be passed "
            "through a systemd unit; pass multi-line data in a file or environment variable",
        )
    if len(arg.encode()) > MAX_ARG_BYTES:
        raise InvalidInput(f"command argument {index}", arg, f"at most {MAX_ARG_BYTES} bytes")
    return arg


def _resolve_executable(exe: str, check_host: bool) -> str:
    if exe.startswith("/"):
        if check_host and not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            reason = "does not exist" if not os.path.exists(exe) else "is not an executable file"
            raise InvalidInput(
                "command", exe, f"the executable {reason}; give an existing absolute path"
            )
        return os.path.normpath(exe)
    if "/" in exe:
        raise InvalidInput("command", exe, "a relative path is ambiguous; give an absolute path")
    if not check_host:
        return exe
    dirs = os.environ.get("PATH", "").split(os.pathsep) + SERVICE_PATH.split(os.pathsep)
    search = os.pathsep.join(dict.fromkeys(d for d in dirs if d))
    found = shutil.which(exe, path=search)
    if not found:
        raise InvalidInput(
            "command", exe, f"not found on PATH ({search}); give an absolute path to the program"
        )
    return found


def check_command(value: object, *, check_host: bool = True) -> tuple[str, ...]:
    """Given a command as text (split like a shell) or an argv list, return the argv.

    The executable is resolved to an absolute path now, so the unit does not depend on the
    PATH that systemd happens to use, and a typo fails here rather than at 3 a.m.
    """
    if isinstance(value, str):
        if "\n" in value or "\0" in value:
            raise InvalidInput("command", value, "must be a single line")
        try:
            argv = shlex.split(value)
        except ValueError as exc:
            raise InvalidInput(
                "command", value, f"cannot be split like a shell command: {exc}"
            ) from None
    elif isinstance(value, list | tuple):
        argv = list(value)
    else:
        raise InvalidInput("command", value, "expected a command line or a list of arguments")
    if not argv:
        raise InvalidInput("command", value, "must not be empty")
    checked = [_check_arg(i, a) for i, a in enumerate(argv)]
    if sum(len(a.encode()) for a in checked) > MAX_COMMAND_BYTES:
        raise InvalidInput("command", value, f"at most {MAX_COMMAND_BYTES} bytes in total")
    checked[0] = _resolve_executable(checked[0], check_host)
    return tuple(checked)


def check_timezone(value: object) -> str:
    """Given an IANA timezone name, return it or raise InvalidInput."""
    text = _text("timezone", value)
    if not _is_zone(text):
        raise InvalidInput(
            "timezone",
            text,
            "use an IANA timezone name such as 'Pacific/Auckland' or 'UTC' "
            "(see `timedatectl list-timezones`)",
        )
    return text


def _int_in(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(name, value, f"expected a whole number from {low} to {high}")
    if not low <= value <= high:
        raise InvalidInput(name, value, f"expected a whole number from {low} to {high}")
    return value


def _bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false", "yes", "no"}:
        return value.lower() in {"true", "yes"}
    raise InvalidInput(name, value, "expected true or false")


def _account(name: str, value: object, check_host: bool) -> str | None:
    text = _opt_text(name, value)
    if text is None or text == "":
        return None
    if not ACCOUNT_RE.match(text):
        raise InvalidInput(
            name, text, "a system account name: lowercase letters, digits, '_' and '-'"
        )
    if check_host:
        try:
            (pwd.getpwnam if name == "user" else grp.getgrnam)(text)
        except KeyError:
            raise InvalidInput(
                name, text, f"no such {name} on this host; create it first"
            ) from None
    return text


def _workdir(value: object, check_host: bool) -> str | None:
    text = _opt_text("workdir", value)
    if not text:
        return None
    _single_line("workdir", text, 4096)
    if not text.startswith("/"):
        raise InvalidInput("workdir", text, "must be an absolute path")
    if check_host and not os.path.isdir(text):
        raise InvalidInput("workdir", text, "the directory does not exist")
    return os.path.normpath(text)


def check_env(value: object) -> tuple[tuple[str, str], ...]:
    """Given a mapping or a list of "KEY=VALUE", return sorted (key, value) pairs."""
    if value is None:
        return ()
    pairs: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        pairs = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        for item in value:
            if not isinstance(item, str) or "=" not in item:
                raise InvalidInput("env", item, "write each variable as KEY=VALUE")
            key, _, val = item.partition("=")
            pairs.append((key, val))
    else:
        raise InvalidInput("env", value, "expected a mapping of KEY: VALUE")
    out: dict[str, str] = {}
    for key, val in pairs:
        if not ENV_KEY_RE.match(key):
            raise InvalidInput(
                "env", key, "a variable name: letters, digits and '_', not starting with a digit"
            )
        if isinstance(val, bool) or not isinstance(val, str | int | float):
            raise InvalidInput(f"env {key}", val, "expected text")
        text = str(val)
        if any(ch in text for ch in "\n\r\0"):
            raise InvalidInput(f"env {key}", text, "must be a single line (no newline or NUL)")
        out[key] = text
    return tuple(sorted(out.items()))


def _cpu_quota(value: object) -> int | None:
    if value is None or value == "":
        return None
    text = str(value).strip().rstrip("%") if not isinstance(value, bool) else "x"
    if not text.isdigit():
        raise InvalidInput(
            "cpu_quota", value, "a percentage of one CPU from 1% to 10000%, e.g. 50%"
        )
    return _int_in("cpu_quota", int(text), 1, 10000)


def _list_of(
    name: str, value: object, allowed: tuple[str, ...] | None, pattern: re.Pattern[str] | None
) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise InvalidInput(name, value, "expected a list")
    out: list[str] = []
    for item in items:
        text = str(item).strip()
        if allowed is not None and text not in allowed:
            raise InvalidInput(name, text, f"choose from {', '.join(allowed)}")
        if pattern is not None and not pattern.match(text):
            raise InvalidInput(name, text, "lowercase letters, digits, '_' and '-'")
        if text not in out:
            out.append(text)
    return tuple(out)


def validate_task(
    data: Mapping[str, Any], *, check_host: bool = True, base: Task | None = None
) -> Task:
    """Given raw task data (and, for an edit, the task it changes), return a valid Task.

    `check_host` also checks that the executable, user, group and working directory exist on
    this host; it is off when re-reading tasks that were already validated.
    """
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidInput("task", unknown[0], f"unknown field; known fields: {', '.join(FIELDS)}")
    merged: dict[str, Any] = base.to_dict() if base else {}
    merged.update(data)
    for required in ("name", "command", "schedule"):
        if merged.get(required) in (None, "", []):
            raise InvalidInput(required, merged.get(required), "this field is required")

    def opt(key: str, conv: Any) -> Any:
        value = merged.get(key)
        return None if value is None or value == "" else conv(key, value)

    task = Task(
        name=check_name(merged["name"]),
        command=check_command(merged["command"], check_host=check_host),
        schedule=schedule_mod.validate(_text("schedule", merged["schedule"]) or ""),
        timezone=check_timezone(merged.get("timezone") or host_timezone()),
        timeout=parse_duration("timeout", merged.get("timeout", 3600), minimum=1),
        retries=_int_in("retries", merged.get("retries", 0), 0, 10),
        retry_delay=parse_duration("retry_delay", merged.get("retry_delay", 30), minimum=1),
        memory_max=opt("memory_max", parse_size),
        cpu_quota=_cpu_quota(merged.get("cpu_quota")),
        nice=opt("nice", lambda k, v: _int_in(k, v, -20, 19)),
        user=_account("user", merged.get("user"), check_host),
        group=_account("group", merged.get("group"), check_host),
        workdir=_workdir(merged.get("workdir"), check_host),
        env=check_env(merged.get("env")),
        category=_category(merged.get("category", "general")),
        priority=_choice("priority", merged.get("priority", "normal"), PRIORITIES),
        description=_single_line(
            "description", _text("description", merged.get("description") or "") or "", 200
        ),
        alert_on=_list_of(
            "alert_on", merged.get("alert_on", ["final-failure", "late"]), ALERT_EVENTS, None
        ),
        alert_after=_int_in("alert_after", merged.get("alert_after", 1), 1, 1000),
        warn_after=opt("warn_after", lambda k, v: parse_duration(k, v, minimum=1)),
        channels=_list_of("channels", merged.get("channels"), None, CHANNEL_RE),
        paused=_bool("paused", merged.get("paused", False)),
        catch_up=_bool("catch_up", merged.get("catch_up", True)),
        id=base.id if base else None,
    )
    return task


def _category(value: object) -> str:
    text = _text("category", value) or "general"
    if not CATEGORY_RE.match(text):
        raise InvalidInput("category", text, "1-64 letters, digits, spaces, '.', '_' or '-'")
    return text


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInput(name, value, f"choose from {', '.join(allowed)}")
    return str(value)
