"""Alert messages with their evidence: what happened, when, the last output lines, where to
look next. The one message builder, used by the watchdog and the OnFailure= fallback."""

from __future__ import annotations

import datetime as dt
import socket
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from smartcron.model.config import Config
from smartcron.model.task import Task
from smartcron.model.zones import host_timezone


@dataclass(frozen=True)
class Notice:
    title: str
    body: str


def _when(moment: dt.datetime | None) -> str:
    if moment is None:
        return "unknown time"
    local = moment.astimezone(ZoneInfo(host_timezone()))
    return f"{local:%Y-%m-%d %H:%M:%S %Z} ({moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC)"


def run_notice(config: Config, run: Any, task: Task | None, *, repeat: int = 0) -> Notice:
    """Given an executions row, return the alert message with its evidence."""
    name = run.task_name
    word = "succeeded" if run.outcome == "success" else "failed"
    again = f" (still failing, reminder {repeat})" if repeat else ""
    total = (task.retries + 1) if task else None
    attempt = f"{run.attempt} of {total}" if total and total > 1 else str(run.attempt)
    lines = (run.output_tail or "").splitlines()[-20:]
    body = [
        f"What happened: {run.meaning}",
        f"When: {_when(run.started_at)}",
        f"Attempt: {attempt}    Trigger: {run.trigger}    Duration: "
        f"{f'{run.duration_s:.1f} s' if run.duration_s is not None else 'unknown'}",
        "",
        "Last output lines:" if lines else "No output.",
        *[f"  {line}" for line in lines],
        "",
        f"Whole log: smartcron logs {name} --run {run.id}",
    ]
    if config.dashboard_url:
        body.append(f"Dashboard: {config.dashboard_url.rstrip('/')}/runs/{run.id}")
    return Notice(f"smartcron: {name} {word} on {socket.gethostname()}{again}", "\n".join(body))
