"""systemd's own calendar parser, asked through `systemd-analyze calendar`.

systemd is the only authority on its OnCalendar grammar: a native expression is validated and
normalized here once, when a task is added or edited (never on a request path). The tests use
`systemd_next` as the proof that the in-process evaluation (calendar.py) equals systemd's.
`systemd-analyze calendar` only parses and computes; it does not talk to a running manager.
"""

from __future__ import annotations

import datetime as dt
import subprocess

from smartcron.errors import InvalidInput

SCHEDULE_HELP = (
    "use a 5-field cron expression (e.g. '*/15 * * * *'), one of "
    "@hourly/@daily/@weekly/@monthly/@yearly/@reboot, or a systemd OnCalendar expression "
    "(e.g. 'Mon..Fri *-*-* 09:00:00')"
)
_ENV = {"TZ": "UTC", "PATH": "/usr/bin:/bin", "SYSTEMD_COLORS": "0"}


def _analyze(args: list[str], what: str, timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["systemd-analyze", "calendar", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=_ENV,
        )
    except FileNotFoundError:
        raise InvalidInput(
            "schedule",
            what,
            "systemd-analyze is not installed, so an OnCalendar "
            "expression cannot be checked; install systemd or use a cron expression",
        ) from None


def normalize(expression: str) -> str:
    """Given a native OnCalendar expression, return systemd's normalized form.

    Raises InvalidInput when systemd refuses it or when it never elapses.
    """
    proc = _analyze(["--", expression], expression, 10)
    if proc.returncode != 0:
        raise InvalidInput("schedule", expression, SCHEDULE_HELP)
    normalized = ""
    for line in proc.stdout.splitlines():
        key, _, value = line.strip().partition(": ")
        if key == "Normalized form":
            normalized = value
        if key == "Next elapse" and value == "never":
            raise InvalidInput("schedule", expression, "this OnCalendar expression never elapses")
    return normalized


def systemd_next(lines: list[str], base: dt.datetime, count: int) -> list[dt.datetime]:
    """Return the next `count` elapses of the union of OnCalendar lines, computed by systemd."""
    stamp = base.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    proc = _analyze(
        [f"--iterations={count}", f"--base-time={stamp}", "--", *lines], " | ".join(lines), 60
    )
    if proc.returncode != 0:
        raise InvalidInput(
            "schedule", " | ".join(lines), proc.stderr.strip() or "rejected by systemd"
        )
    times: set[dt.datetime] = set()
    for line in proc.stdout.splitlines():
        key, _, value = line.strip().partition(": ")
        if (key == "Next elapse" or key.startswith("Iter. #")) and value != "never":
            # "Sun 2026-11-29 20:00:00 UTC"
            times.add(
                dt.datetime.strptime(value, "%a %Y-%m-%d %H:%M:%S UTC").replace(tzinfo=dt.UTC)
            )
    return sorted(times)[:count]
