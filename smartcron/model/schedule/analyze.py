"""systemd's own calendar parser, asked through `systemd-analyze calendar`.

systemd is the only authority on its OnCalendar grammar: a native expression is validated and
normalized here once, when a task is added or edited (never on a request path). The tests use
`systemd_next` as the proof that the in-process evaluation (calendar.py) equals systemd's.
`systemd-analyze calendar` only parses and computes; it does not talk to a running manager.
"""

from __future__ import annotations

import datetime as dt
import re
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
        raise InvalidInput("schedule", expression, refused_part(expression) or SCHEDULE_HELP)
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


_DAYS = {
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
}
_TIME_PARTS = (("hour", 23), ("minute", 59), ("second", 59))
_DATE_PARTS = (("year", 9999), ("month", 12), ("day", 31))


def _numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text.split("/")[0])]


def refused_part(expression: str) -> str:
    """Given an OnCalendar expression systemd refused, return which part is wrong and what
    is allowed ("" when no part stands out): systemd says only "Invalid argument"."""
    tokens = expression.split()
    dated = any(":" in t or t.count("-") == 2 for t in tokens)
    for token in tokens:
        if ":" in token:
            for (part, high), text in zip(_TIME_PARTS, token.split(":"), strict=False):
                if any(n > high for n in _numbers(text)):
                    return f"the {part} {text!r} of {token!r} is out of range (0-{high})"
        elif re.fullmatch(r"[\d*.,/~-]+", token) and token.count("-") == 2:
            for (part, high), text in zip(_DATE_PARTS, token.split("-"), strict=False):
                if any(n > high or (n == 0 and part != "year") for n in _numbers(text)):
                    return f"the {part} {text!r} of {token!r} is out of range (1-{high})"
        elif dated and token is tokens[0] and re.fullmatch(r"[A-Za-z]+([.,][.]?[A-Za-z]+)*", token):
            for name in re.split(r"\.\.|,", token):
                if name.lower() not in _DAYS:
                    return (
                        f"{name!r} is not a day of the week; use Mon, Tue, Wed, Thu, Fri, Sat, "
                        "Sun (or the full names), as in 'Mon..Fri *-*-* 09:00:00'"
                    )
    return ""
