"""Render a task's systemd service and timer from the Jinja2 templates in unit_templates/.

Values are escaped for systemd's unit syntax (systemd.syntax(7)): `%` specifiers become `%%`,
ExecStart arguments are double-quoted with C escapes and `$` doubled, so every byte reaches
the process exactly as the user wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import jinja2

from smartcron import schedule
from smartcron.errors import InvalidInput
from smartcron.tasks import Task

PREFIX = "smartcron-"
MARKER = "X-Smartcron-Task="
STOP_TIMEOUT = 30  # seconds between SIGTERM and SIGKILL
_SAFE_ARG = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+-=:,@")


def service_name(task_name: str) -> str:
    return f"{PREFIX}{task_name}.service"


def timer_name(task_name: str) -> str:
    return f"{PREFIX}{task_name}.timer"


def escape_specifiers(value: str) -> str:
    """Return value with systemd's `%` specifiers neutralised."""
    return value.replace("%", "%%")


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
    return " ".join(exec_argument(a) for a in argv)


def env_assignment(key: str, value: str) -> str:
    """Given an environment variable, return the quoted Environment= value."""
    return '"' + _c_escape(f"{key}={value}").replace("%", "%%") + '"'


def start_limit_interval(task: Task) -> int:
    """Return a StartLimitIntervalSec= window that holds the first run and all its retries."""
    return (task.retries + 1) * (task.timeout + task.retry_delay + STOP_TIMEOUT) + 10


@dataclass(frozen=True)
class UnitFiles:
    """The two files of one task: {filename: text}."""

    task: str
    files: dict[str, str]


def _environment() -> jinja2.Environment:
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
    return env


_ENV = _environment()


def oncalendar_lines(task: Task) -> list[str]:
    """Return the OnCalendar= values of a task (empty for @reboot)."""
    kind = schedule.kind_of(task.schedule)
    if kind == "reboot":
        return []
    if kind == "cron":
        return schedule.to_oncalendar(schedule.parse_cron(task.schedule), task.timezone)
    return [schedule.with_timezone(task.schedule, task.timezone)]


def render(task: Task, *, accuracy: str = "1s") -> UnitFiles:
    """Given a task, return its service and timer files."""
    service = service_name(task.name)
    service_text = _ENV.get_template("task.service.j2").render(
        task=task,
        exec_start=exec_start(task.command),
        env_assignment=env_assignment,
        stop_timeout=STOP_TIMEOUT,
        start_limit_interval=start_limit_interval(task),
    )
    timer_text = _ENV.get_template("task.timer.j2").render(
        task=task,
        service=service,
        oncalendar=oncalendar_lines(task),
        on_boot=schedule.kind_of(task.schedule) == "reboot",
        accuracy=accuracy,
    )
    return UnitFiles(task.name, {service: service_text, timer_name(task.name): timer_text})
