"""Alert messages with their evidence: what happened, when (in the task's time and UTC), the
last output lines, where to look next. The one message builder, used by the watchdog and the
OnFailure= fallback alike.

Each notice is written twice from the same sections: as plain text (chat, webhooks, the text
part of an e-mail) and as HTML (the e-mail's HTML part), where everything from a task's output
is escaped and kept in a <pre>, so a task printing `<a href=...>` cannot put a link in staff
mail.
"""

from __future__ import annotations

import datetime as dt
import html
import socket
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from smartcron.model.config import Config
from smartcron.model.outcome import OUTCOMES
from smartcron.model.task import Task
from smartcron.model.zones import host_timezone

TAIL_IN_ALERT = 20  # output lines quoted in a message; the whole log is one command away

# apprise's notification types, chosen by what the message says.
FAILURE, WARNING, SUCCESS, INFO = "failure", "warning", "success", "info"


@dataclass(frozen=True)
class Notice:
    """One message: its kind (failure, recovery, ...), apprise type, title and both bodies."""

    kind: str
    severity: str
    title: str
    text: str
    html: str
    task: str | None = None


# A section is (label, value) for a line, or (label, [lines]) for quoted output.
Section = tuple[str, str | list[str]]


def render(
    kind: str, severity: str, title: str, sections: list[Section], task: str | None
) -> Notice:
    """Given a message's sections, return the Notice with its text and HTML bodies."""
    text: list[str] = []
    parts: list[str] = [f"<h2>{html.escape(title)}</h2>"]
    for label, value in sections:
        if isinstance(value, list):
            text += ["", f"{label}:" if value else "No output.", *[f"  {v}" for v in value], ""]
            if value:
                quoted = html.escape("\n".join(value))
                parts.append(f"<p><b>{html.escape(label)}:</b></p><pre>{quoted}</pre>")
            else:
                parts.append("<p>No output.</p>")
        else:
            text.append(f"{label}: {value}" if label else value)
            line = html.escape(value)
            parts.append(
                f"<p><b>{html.escape(label)}:</b> {line}</p>" if label else f"<p>{line}</p>"
            )
    body = "\n".join(text).strip() + "\n"
    return Notice(kind, severity, title, body, "\n".join(parts) + "\n", task)


def when(moment: dt.datetime | None, zone: str | None) -> str:
    """Return a moment in the task's time zone and in UTC, for people in either place."""
    if moment is None:
        return "unknown time"
    local = moment.astimezone(ZoneInfo(zone or host_timezone()))
    utc = f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
    if local.tzname() == "UTC":
        return utc  # the same moment twice says nothing more
    return f"{local:%Y-%m-%d %H:%M:%S %Z} ({utc})"


def _links(config: Config, task_name: str, run_id: int | None) -> list[Section]:
    links: list[Section] = []
    if run_id is not None:
        links.append(("Whole log", f"smartcron logs {task_name} --run {run_id}"))
        if config.dashboard_url:
            links.append(("Dashboard", f"{config.dashboard_url.rstrip('/')}/runs/{run_id}"))
    return links


def run_notice(config: Config, run: Any, task: Task | None, *, repeat: int = 0) -> Notice:
    """Given an executions row, return the alert message with its evidence."""
    name = run.task_name
    failed = run.outcome != "success"
    words = OUTCOMES.get(run.outcome, run.outcome)
    again = f" (still failing, reminder {repeat})" if repeat else ""
    total = (task.retries + 1) if task else None
    attempt = f"{run.attempt} of {total}" if total and total > 1 else str(run.attempt)
    duration = f"{run.duration_s:.1f} s" if run.duration_s is not None else "unknown"
    lines = (run.output_tail or "").splitlines()[-TAIL_IN_ALERT:]
    sections: list[Section] = [
        ("What happened", run.meaning or words),
        ("When", when(run.started_at, task.timezone if task else None)),
        ("Attempt", f"{attempt}    Trigger: {run.trigger}    Duration: {duration}"),
    ]
    dropped = getattr(run, "lines_dropped", None)
    if dropped:
        sections.append(("Output incomplete", f"journald suppressed {dropped} line(s) of it"))
    if run.output_tail is None and failed:
        sections.append(("", "The output was not in the journal yet when this was sent."))
    sections.append(("Last output lines (stdout and stderr)", lines))
    sections += _links(config, name, run.id)
    host = getattr(run, "host", None) or config.host_name  # where it ran, not who tells
    title = f"smartcron: {name} {words} on {host}{again}"
    return render(
        "failure" if failed else "success", FAILURE if failed else SUCCESS, title, sections, name
    )


def recovery_notice(task_name: str, summary: str, last_meaning: str) -> Notice:
    """The message that a failing task succeeded again."""
    return render(
        "recovery",
        SUCCESS,
        f"smartcron: {task_name} recovered on {socket.gethostname()}",
        [("", summary), ("Last run", last_meaning)],
        task_name,
    )


def condition_notice(task_name: str | None, kind: str, summary: str) -> Notice:
    """A late or long-running task, or another condition found by the health checks."""
    what = f"{task_name} is {kind}" if task_name else kind
    return render(
        kind,
        WARNING,
        f"smartcron: {what} on {socket.gethostname()}",
        [("What happened", summary), ("", "`smartcron health` shows the current state.")],
        task_name,
    )


def system_notice(title: str, lines: list[Section], *, severity: str = FAILURE) -> Notice:
    """A message about smartcron itself (its database unreachable, a run without details)."""
    return render("system", severity, f"{title} on {socket.gethostname()}", lines, None)
