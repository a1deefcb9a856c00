"""Task validation: one path used by the CLI, YAML and crontab import, and the dashboard.

`validate_task` turns loosely typed input (CLI options, YAML, a web form) into a `Task` whose
every field is in canonical form, or raises InvalidInput naming the field, the value and what
is allowed. Nothing reaches the database without passing through here. `CHECKS` has one
checker per task field (a test holds it to `FIELDS`).
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shlex
import shutil
from collections.abc import Callable, Collection, Mapping
from typing import Any

from smartcron.errors import InvalidInput
from smartcron.model import schedule as schedule_mod
from smartcron.model.chains import check_after
from smartcron.model.config import DEFAULT_TASK_USER
from smartcron.model.groups import check_group_name
from smartcron.model.placement import check_hosts
from smartcron.model.quantities import parse_duration, parse_size
from smartcron.model.task import (
    ALERT_EVENTS,
    ALL_HOSTS,
    FIELDS,
    IF_DB_DOWN,
    PLACEMENTS,
    PRIORITIES,
    RESERVED_NAMES,
    SPEC_BY_NAME,
    Task,
)
from smartcron.model.zones import check_timezone, host_timezone

# The characters systemd reads as ExecStart= prefixes (systemd.service(5), "Command lines").
EXEC_PREFIXES = frozenset("@-:+!|")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ACCOUNT_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}\$?$")
CATEGORY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
CHANNEL_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# systemd runs services with this PATH; commands are resolved against the caller's PATH too.
SERVICE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAX_ARG_BYTES = 32 * 1024
MAX_COMMAND_BYTES = 32 * 1024
# command and env are stored as JSON in a TEXT column, which holds 65,535 bytes on MariaDB.
MAX_JSON_BYTES = 60_000
NOT_TEXT = 'expected text; in YAML, quote values that look like numbers or yes/no, e.g. "0777"'
REQUIRED = ("name", "command")


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(name, value, NOT_TEXT)
    return value


def _fits_column(name: str, value: object, original: object) -> None:
    """Refuse a list or mapping whose stored JSON would not fit its TEXT column."""
    if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_JSON_BYTES:
        raise InvalidInput(name, original, f"at most {MAX_JSON_BYTES} bytes once stored")


def _single_line(name: str, value: str, limit: int) -> str:
    if any(ch in value for ch in "\n\r\0"):
        raise InvalidInput(name, value, "must be a single line (no newline or NUL characters)")
    # ESC and the other control characters (C0, DEL, C1): shown on terminals and in unit
    # files, they could rewrite what an operator reads. A tab is harmless.
    if any(ch != "\t" and (ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F) for ch in value):
        raise InvalidInput(name, value, "printable text (no control characters such as ESC)")
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
    if text in RESERVED_NAMES:
        raise InvalidInput(
            "name",
            text,
            f"the name is reserved for smartcron's own unit smartcron-{text}; "
            f"choose another, e.g. {text}-job",
        )
    return text


def _check_arg(index: int, arg: object) -> str:
    if not isinstance(arg, str):
        raise InvalidInput(f"command argument {index}", arg, NOT_TEXT)
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
    if exe[:1] in EXEC_PREFIXES:
        # systemd reads these as ExecStart= prefixes even when quoted ('+' runs it as root).
        raise InvalidInput(
            "command", exe, f"a program name cannot start with {exe[0]!r}; give an absolute path"
        )
    if not check_host:
        return exe
    dirs = os.environ.get("PATH", "").split(os.pathsep) + SERVICE_PATH.split(os.pathsep)
    search = os.pathsep.join(dict.fromkeys(d for d in dirs if d))
    found = shutil.which(exe, path=search)
    if not found:
        raise InvalidInput(
            "command", exe, f"not found on PATH ({search}); give an absolute path to the program"
        )
    if not found.startswith("/"):
        # A relative PATH entry ('.', '+'): the unit would depend on systemd's working directory.
        raise InvalidInput(
            "command",
            exe,
            f"found as {found!r} through a relative PATH entry; give an absolute path",
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
        if re.match(r"\s*\[\s*[\"']", value):  # `[ -f x ]` is a program; `["a"` is a list
            raise InvalidInput(
                "command",
                value,
                'the list form ["/bin/sh", "-c", "..."] is for task files (YAML); on the '
                "command line write it as a shell line, e.g. --command \"/bin/sh -c 'a | b'\"",
            )
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
    _fits_column("command", checked, value)
    checked[0] = _resolve_executable(checked[0], check_host)
    return tuple(checked)


def int_in(name: str, value: object, low: int, high: int) -> int:
    """Given a whole number (or its text), return it if low <= value <= high."""
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,30}", value.strip()):
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
    if value is None or value == "":
        return None
    text = _text(name, value)
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
    if not value:
        return None
    text = _single_line("workdir", _text("workdir", value), 4096)
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
        text = _text(f"env {key}", val)
        if any(ch in text for ch in "\n\r\0"):
            raise InvalidInput(f"env {key}", text, "must be a single line (no newline or NUL)")
        out[key] = text
    _fits_column("env", out, value)
    return tuple(sorted(out.items()))


STDIN_MAX = 64 * 1024


def check_stdin(name: str, value: object) -> str | None:
    """Standard input text: any text without NUL bytes, up to 64 KiB (None or "" for none)."""
    if value in (None, ""):
        return None
    text = _text(name, value)
    if "\0" in text:
        raise InvalidInput(name, text[:40], "NUL characters cannot be passed to standard input")
    if len(text.encode()) > STDIN_MAX:
        raise InvalidInput(name, text[:40] + "...", f"at most {STDIN_MAX} bytes")
    return text


def _cpu_quota(value: object) -> int | None:
    if value is None or value == "":
        return None
    text = str(value).strip().rstrip("%") if not isinstance(value, bool) else "x"
    if not text.isascii() or not text.isdigit() or len(text) > 30:  # int() of "²" fails
        raise InvalidInput(
            "cpu_quota", value, "a percentage of one CPU from 1% to 10000%, e.g. 50%"
        )
    return int_in("cpu_quota", int(text), 1, 10000)


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
        text = _text(name, item).strip()
        if allowed is not None and text not in allowed:
            raise InvalidInput(name, text, f"choose from {', '.join(allowed)}")
        if pattern is not None and not pattern.match(text):
            allowed_text = (
                "a task name: 1-64 of a-z, 0-9 and '-'"
                if pattern is NAME_RE
                else "lowercase letters, digits, '_' and '-'"
            )
            raise InvalidInput(name, text, allowed_text)
        if text not in out:
            out.append(text)
    return tuple(out)


def _category(value: object) -> str:
    text = _text("category", value) or "general"
    if not CATEGORY_RE.match(text):
        raise InvalidInput("category", text, "1-64 letters, digits, spaces, '.', '_' or '-'")
    return text


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInput(name, value, f"choose from {', '.join(allowed)}")
    return str(value)


def _factor(name: str, value: object, low: float, high: float) -> float:
    """Given a growth factor such as 2, "1.5" or 2.0, return it as a float (two decimals)."""
    allowed = f"a number from {low:g} to {high:g}, e.g. 2 (each wait twice the one before)"
    if isinstance(value, bool):
        raise InvalidInput(name, value, allowed)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInput(name, value, allowed) from None
    if not low <= number <= high:  # also refuses nan and inf
        raise InvalidInput(name, value, allowed)
    return round(number, 2)


def _optional(check: Callable[[str, Any], Any]) -> Callable[[str, Any, bool], Any]:
    """A checker for a field where None and "" mean "not set"."""
    return lambda key, value, _host: None if value is None or value == "" else check(key, value)


# One checker per task field: (field name, raw value, check_host) -> canonical value.
CHECKS: dict[str, Callable[[str, Any, bool], Any]] = {
    "name": lambda _k, v, _h: check_name(v),
    "description": lambda k, v, _h: _single_line(k, _text(k, v or ""), 200),
    "command": lambda _k, v, host: check_command(v, check_host=host),
    # Empty only for a chained task (validate_task checks that `after` is set then).
    "schedule": lambda k, v, _h: (
        schedule_mod.validate(_single_line(k, _text(k, v), 255)) if v not in (None, "") else ""
    ),
    "after": lambda k, v, _h: () if v in (None, "") else _list_of(k, v, None, NAME_RE),
    "timezone": lambda _k, v, _h: check_timezone(v or host_timezone()),
    "timeout": lambda k, v, _h: parse_duration(k, v, minimum=1),
    "retries": lambda k, v, _h: int_in(k, v, 0, 10),
    "retry_delay": lambda k, v, _h: parse_duration(k, v, minimum=1),
    "retry_backoff": lambda k, v, _h: _factor(k, v, 1.0, 10.0),
    "retry_max_delay": _optional(lambda k, v: parse_duration(k, v, minimum=1)),
    "memory_max": _optional(parse_size),
    "cpu_quota": lambda _k, v, _h: _cpu_quota(v),
    "nice": _optional(lambda k, v: int_in(k, v, -20, 19)),
    "user": lambda k, v, host: _account(k, v, host),
    "group": lambda k, v, host: _account(k, v, host),
    "workdir": lambda _k, v, host: _workdir(v, host),
    "env": lambda _k, v, _h: check_env(v),
    "stdin": lambda k, v, _h: check_stdin(k, v),
    "category": lambda _k, v, _h: _category(v),
    "priority": lambda k, v, _h: _choice(k, v, PRIORITIES),
    "alert_on": lambda k, v, _h: _list_of(k, v, ALERT_EVENTS, None),
    "alert_after": lambda k, v, _h: int_in(k, v, 1, 1000),
    "warn_after": _optional(lambda k, v: parse_duration(k, v, minimum=1)),
    "channels": lambda k, v, _h: _list_of(k, v, None, CHANNEL_RE),
    "paused": lambda k, v, _h: _bool(k, v),
    "catch_up": lambda k, v, _h: _bool(k, v),
    "hosts": lambda k, v, _h: check_hosts(k, v),
    "placement": lambda k, v, _h: _choice(k, v, PLACEMENTS),
    "if_db_down": lambda k, v, _h: _choice(k, v, IF_DB_DOWN),
    "concurrency_group": _optional(check_group_name),
}


def check_channels(names: tuple[str, ...], known: Collection[str]) -> tuple[str, ...]:
    """Given a task's channel names and the configured ones, return them or raise for the
    first that is not configured (an alert to it would go nowhere)."""
    for name in names:
        if name not in known:
            configured = ", ".join(sorted(known)) or "none configured"
            raise InvalidInput(
                "channels",
                name,
                f"not a configured alert channel (configured: {configured}); add it to the "
                "`channels` setting first (docs/alerts.md)",
            )
    return names


def validate_task(
    data: Mapping[str, Any],
    *,
    check_host: bool = True,
    base: Task | None = None,
    default_user: str = DEFAULT_TASK_USER,
    known_channels: Collection[str] | None = None,
    host_name: str = ALL_HOSTS,
) -> Task:
    """Given raw task data (and, for an edit, the task it changes), return a valid Task.

    `check_host` also checks that the executable, user, group and working directory exist on
    this host; it is off when re-reading tasks that were already validated. A task that names
    no user runs as `default_user` (the setting): running as root is always written out.
    `known_channels` (the configured channel names) refuses a channel an alert could not go
    to. A new task that names no hosts runs on `host_name` (the creating host's, from the
    setting; "*" when the caller has none).
    """
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidInput("task", unknown[0], f"unknown field; known fields: {', '.join(FIELDS)}")
    merged: dict[str, Any] = base.to_dict() if base else {}
    merged.update(data)
    for required in REQUIRED:
        if merged.get(required) in (None, "", []):
            raise InvalidInput(required, merged.get(required), "this field is required")
    if base is None and merged.get("hosts") in (None, "", [], ()):
        merged["hosts"] = [host_name]
    if merged.get("schedule") in (None, "") and merged.get("after") in (None, "", [], ()):
        raise InvalidInput(
            "schedule",
            merged.get("schedule"),
            "a task needs a schedule (--schedule) or tasks to run after (--after, a chain); "
            "give one of them",
        )
    if merged.get("user") in (None, ""):
        merged["user"] = default_user
    values = {
        name: check(
            name, merged[name] if name in merged else SPEC_BY_NAME[name].plain_default, check_host
        )
        for name, check in CHECKS.items()
    }
    check_after(values["name"], values["after"])
    if known_channels is not None:
        check_channels(values["channels"], known_channels)
    task = Task(**values, id=base.id if base else None)
    task.check_retry_waits()
    return task
