"""Render a task's systemd service and timer from the Jinja2 templates in unit_templates/.

Values are escaped for systemd's unit syntax (systemd.syntax(7)): `%` specifiers become `%%`,
ExecStart arguments are double-quoted with C escapes and `$` doubled, so every byte reaches
the process exactly as the user wrote it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import shutil
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from smartcron import __version__
from smartcron.errors import InvalidInput
from smartcron.model import schedule
from smartcron.model.placement import gate_if_db_down, needs_gate
from smartcron.model.task import Task
from smartcron.model.validate import EXEC_PREFIXES, check_name
from smartcron.systemd.backoff import retry_plan

PREFIX = "smartcron-"
TARGET = "smartcron-tasks.target"
MARKER = "X-Smartcron-Task="
STOP_TIMEOUT = 30  # seconds between SIGTERM and SIGKILL
_SAFE_ARG = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+-=:,@")


def smartcron_executable() -> str:
    """Return the path of the `smartcron` command of this installation."""
    beside = Path(sys.executable).with_name("smartcron")
    if beside.exists():
        return str(beside)
    return shutil.which("smartcron") or "/usr/local/bin/smartcron"


def gate_command(task: Task, windowed: bool = False) -> str:
    """Return the ExecCondition= line's command of a gated task (ops/gate.py), run as root
    ("+": it reads the configuration whatever the task's User= is), or "" for a task that
    needs no gate (model/placement.needs_gate; `windowed`: a skip window covers it)."""
    if not needs_gate(task, windowed):
        return ""
    words = [smartcron_executable(), "gate", task.name, "--if-db-down", gate_if_db_down(task)]
    return "+" + " ".join(exec_argument(w) for w in words)


def group_wait_command(task: Task) -> str:
    """Return the ExecStartPre= line's command of a task in a concurrency group
    (ops/groups.py), run as root ("+": the slot files are root's), or "" without a group."""
    if not task.concurrency_group:
        return ""
    words = [smartcron_executable(), "group-wait", task.name, task.concurrency_group]
    return "+" + " ".join(exec_argument(w) for w in words)


def service_name(task_name: str) -> str:
    return f"{PREFIX}{task_name}.service"


def timer_name(task_name: str) -> str:
    return f"{PREFIX}{task_name}.timer"


def escape_specifiers(value: str) -> str:
    """Return value with systemd's `%` specifiers neutralised."""
    return value.replace("%", "%%")


def unit_text(value: str) -> str:
    """Given free text for a unit setting (a description, a path), return it safe to write
    after `Key=`: `%` specifiers neutralised, and never ending in a backslash, which systemd
    reads as "continued on the next line" and which would swallow the next setting. A space
    after it ends the line there; systemd strips the space, so the value is unchanged."""
    if any(ch in value for ch in "\n\r\0"):
        raise InvalidInput("unit text", value, "must be a single line (no newline or NUL)")
    text = escape_specifiers(value)
    return text + " " if text.endswith("\\") else text


def _c_escape(value: str) -> str:
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            if ch in "\n\r\0":
                raise InvalidInput("command", value, "newline and NUL characters cannot be passed")
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def exec_argument(arg: str) -> str:
    """Given one argv element, return it as a safe ExecStart= word."""
    if arg and set(arg) <= _SAFE_ARG and not arg.startswith(("@", "-", ":", "+", "!")):
        return arg
    return '"' + _c_escape(arg).replace("%", "%%").replace("$", "$$") + '"'


def exec_start(argv: tuple[str, ...]) -> str:
    """Given an argv, return the ExecStart= value that runs exactly that argv."""
    if not argv or argv[0][:1] in EXEC_PREFIXES:
        # Quoting does not hide a prefix from systemd: '+' would run the command as root.
        raise InvalidInput(
            "command", argv[0] if argv else "", "an absolute path or a plain program name"
        )
    return " ".join(exec_argument(a) for a in argv)


def env_assignment(key: str, value: str) -> str:
    """Given an environment variable, return the quoted Environment= value."""
    return '"' + _c_escape(f"{key}={value}").replace("%", "%%") + '"'


def start_limit_interval(task: Task) -> int:
    """Return a StartLimitIntervalSec= window that holds the first run and all its retries."""
    if not retry_plan(task)[1]:
        return (task.retries + 1) * (task.timeout + task.retry_delay + STOP_TIMEOUT) + 10
    # Growing waits: every attempt's run and stop, every wait, and the helper's start-ups.
    return (
        (task.retries + 1) * (task.timeout + STOP_TIMEOUT)
        + sum(task.retry_waits())
        + 10 * (task.retries + 1)
    )


def retry_wait_command(task: Task) -> str:
    """Return the ExecStopPost= command that lengthens each retry's wait (systemd/backoff.py),
    or "" when every wait is the same (RestartSec= alone does it)."""
    extras = retry_plan(task)[1]
    if not extras:
        return ""
    words = [smartcron_executable(), "retry-wait", "%n", *map(str, extras)]
    return " ".join(w if w == "%n" else exec_argument(w) for w in words)


@dataclass(frozen=True)
class UnitFiles:
    """The two files of one task: {filename: text}."""

    task: str
    files: dict[str, str]


@functools.cache
def jinja() -> Any:
    """The Jinja environment of unit_templates/, with the `spec` filter (escapes `%`)."""
    import jinja2

    loader = jinja2.FunctionLoader(
        lambda name: (resources.files("smartcron.unit_templates") / name).read_text(
            encoding="utf-8"
        )
    )
    # Renders systemd unit files, not HTML: values are escaped for unit syntax, not markup.
    env = jinja2.Environment(
        loader=loader,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701
    )
    env.filters["spec"] = escape_specifiers
    env.filters["unit"] = unit_text
    return env


def oncalendar_lines(task: Task) -> list[str]:
    """Return the OnCalendar= values of a task (empty for @reboot and a chained task without
    a schedule)."""
    if not task.schedule:
        return []
    return schedule.timer_lines(task.schedule, task.timezone)


CHECKSUM_PLACEHOLDER = "0000000000000000"
_CHECKSUM_RE = re.compile(r"^X-Smartcron-Checksum=([0-9a-f]{16})$", re.MULTILINE)


@functools.cache
def _templates_digest() -> str:
    digest = hashlib.sha256()
    for name in ("task.service.j2", "task.timer.j2", "tasks.target.j2"):
        digest.update((resources.files("smartcron.unit_templates") / name).read_bytes())
    return digest.hexdigest()


def fingerprint(
    task: Task, accuracy: str, followers: tuple[str, ...] = (), windowed: bool = False
) -> str:
    """Return a digest of every input of a task's unit files (task and its signed revision,
    settings, templates, the timer lines, which change with the year and the timezone
    database: clockchange.py, the tasks its success starts: model/chains.py, and whether a
    maintenance window gates it)."""
    lines = "\n".join(oncalendar_lines(task))
    text = (
        f"{task.config_hash()}|{task.id}|{task.revision}|{accuracy}|{_templates_digest()}|"
        f"{__version__}|{lines}|{','.join(followers)}" + ("|windowed" if windowed else "")
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _checksum(text: str) -> str:
    body = _CHECKSUM_RE.sub(f"X-Smartcron-Checksum={CHECKSUM_PLACEHOLDER}", text, count=1)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _seal(text: str) -> str:
    return text.replace(
        f"X-Smartcron-Checksum={CHECKSUM_PLACEHOLDER}", f"X-Smartcron-Checksum={_checksum(text)}", 1
    )


def is_pristine(text: str, expected_fingerprint: str) -> bool:
    """Return True if a generated file has this fingerprint and was not edited since."""
    match = _CHECKSUM_RE.search(text)
    return (
        match is not None
        and f"\nX-Smartcron-Fingerprint={expected_fingerprint}\n" in text
        and match.group(1) == _checksum(text)
    )


_REVISION_RE = re.compile(r"^X-Smartcron-Revision=(\d+)$", re.MULTILINE)


def installed_revision(text: str) -> int | None:
    """Given a generated service file, return the signed revision it was rendered from."""
    match = _REVISION_RE.search(text)
    return int(match.group(1)) if match else None


def unit_names(task: Task) -> set[str]:
    """Return the unit files a task has: its service, and its timer unless it is a chained
    task without a schedule of its own (its predecessor's OnSuccess= starts it)."""
    names = {service_name(task.name)}
    if task.schedule:
        names.add(timer_name(task.name))
    return names


def render(
    task: Task, *, accuracy: str = "1s", followers: tuple[str, ...] = (), windowed: bool = False
) -> UnitFiles:
    """Given a task, the tasks its success starts and whether a maintenance window with skip
    covers it, return its service file and, when it has a schedule, its timer file (sealed
    with their checksum)."""
    if not task.user:
        # An empty User= means root to systemd: root is only ever written out.
        raise InvalidInput("user", task.user, "a task must name the account it runs as")
    # Names become unit names and OnSuccess= words: one read from the database that skipped
    # validation must never add a line or a unit (a newline or space would).
    check_name(task.name)
    for follower in followers:
        check_name(follower)
    service = service_name(task.name)
    env = jinja()
    common = {
        "task": task,
        "fingerprint": fingerprint(task, accuracy, followers, windowed),
        "checksum_placeholder": CHECKSUM_PLACEHOLDER,
    }
    service_text = env.get_template("task.service.j2").render(
        **common,
        exec_start=exec_start(task.command),
        exec_condition=gate_command(task, windowed),
        group_wait=group_wait_command(task),
        env_assignment=env_assignment,
        stop_timeout=STOP_TIMEOUT,
        # ExecStopPost= runs within TimeoutStopSec=: room for the longest extra wait.
        stop_post_timeout=STOP_TIMEOUT + max(retry_plan(task)[1], default=0),
        restart_sec=retry_plan(task)[0],
        retry_wait=retry_wait_command(task),
        start_limit_interval=start_limit_interval(task),
        stdin_data=base64.b64encode((task.stdin or "").encode()).decode(),
        on_success=" ".join(service_name(name) for name in followers),
    )
    if not task.schedule:
        return UnitFiles(task.name, {service: _seal(service_text)})
    timer_text = env.get_template("task.timer.j2").render(
        **common,
        service=service,
        oncalendar=oncalendar_lines(task),
        on_boot=schedule.kind_of(task.schedule) == "reboot",
        accuracy=accuracy,
    )
    return UnitFiles(
        task.name, {service: _seal(service_text), timer_name(task.name): _seal(timer_text)}
    )


@functools.cache
def render_target() -> str:
    """Return the text of smartcron-tasks.target (a template without variables)."""
    return (resources.files("smartcron.unit_templates") / "tasks.target.j2").read_text("utf-8")
