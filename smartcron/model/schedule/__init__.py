"""Schedules: cron expressions, @keywords and native systemd OnCalendar expressions.

This module is the one place that answers "when does this task run?":
- `timer_lines` gives the OnCalendar= lines the task's timer is rendered with;
- `next_runs` and `previous_run` evaluate exactly those lines in-process, the way systemd
  does (calendar.py; proven equal to `systemd-analyze` by the tests), so the CLI, the
  dashboard, the health checks and the watchdog all show what the loaded timer does.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smartcron.errors import InvalidInput
from smartcron.model.schedule import analyze, calendar
from smartcron.model.schedule.analyze import SCHEDULE_HELP
from smartcron.model.schedule.cron import (
    KEYWORDS,
    REBOOT,
    CronExpr,
    can_fire,
    kind_of,
    looks_like_cron,
    parse_cron,
    to_oncalendar,
)
from smartcron.model.schedule.dst import dst_warnings
from smartcron.model.schedule.words import describe

__all__ = [
    "KEYWORDS",
    "REBOOT",
    "SCHEDULE_HELP",
    "CronExpr",
    "describe",
    "dst_warnings",
    "kind_of",
    "looks_like_cron",
    "next_runs",
    "parse_cron",
    "previous_run",
    "timer_lines",
    "validate",
    "with_timezone",
]


def validate(expression: str) -> str:
    """Given a schedule as the user wrote it, return its canonical form, or raise InvalidInput.

    Cron expressions are trimmed (@keywords lowercased); native OnCalendar expressions become
    systemd's normalized form, which is what the in-process evaluator reads.
    """
    text = " ".join(expression.split())
    if not text:
        raise InvalidInput("schedule", expression, SCHEDULE_HELP)
    kind = kind_of(text)
    if kind == "cron":
        cron = parse_cron(text)
        if not can_fire(cron):
            raise InvalidInput("schedule", expression, "this cron expression never fires")
    elif kind == "oncalendar":
        return analyze.normalize(text)
    return text.lower() if text.startswith("@") else text


def with_timezone(expression: str, timezone: str) -> str:
    """Given a native OnCalendar expression, return it in `timezone` unless it names one."""
    last = expression.split()[-1]
    if "/" in last or last.isalpha():
        try:
            ZoneInfo(last)
            return expression
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return f"{expression} {timezone}"


def timer_lines(schedule: str, timezone: str) -> list[str]:
    """Return the OnCalendar= values of a task's timer (empty for @reboot)."""
    kind = kind_of(schedule)
    if kind == "reboot":
        return []
    if kind == "cron":
        return to_oncalendar(parse_cron(schedule), timezone)
    return [with_timezone(schedule, timezone)]


@functools.lru_cache(maxsize=4096)
def _specs(schedule: str, timezone: str) -> tuple[calendar.CalendarSpec, ...] | None:
    """The parsed timer lines, or None when a line is not in normalized form (a schedule
    stored before schedules were normalized: evaluated by systemd-analyze instead)."""
    try:
        return tuple(calendar.parse(line) for line in timer_lines(schedule, timezone))
    except calendar.Unsupported:
        return None


def next_runs(schedule: str, timezone: str, base: dt.datetime, count: int) -> list[dt.datetime]:
    """Given a schedule, its timezone and an aware base time, return the next `count` elapses
    of its timer after `base`, as aware datetimes in `timezone` (none for @reboot)."""
    zone = ZoneInfo(timezone)
    specs = _specs(schedule, timezone)
    if specs is None:
        times = analyze.systemd_next(timer_lines(schedule, timezone), base, count)
    else:
        times = calendar.next_elapses(specs, base, count)
    return [t.astimezone(zone) for t in times]


def previous_run(schedule: str, timezone: str, before: dt.datetime) -> dt.datetime | None:
    """Return the latest elapse of the schedule's timer at or before `before` (None if there
    is none within five years, or for @reboot)."""
    window = dt.timedelta(hours=1)
    while window <= dt.timedelta(days=5 * 366):
        start = before - window
        found = None
        for moment in _iterate(schedule, timezone, start):
            if moment > before:
                break
            found = moment
        if found is not None:
            return found
        window *= 8
    return None


def _iterate(schedule: str, timezone: str, start: dt.datetime) -> Iterator[dt.datetime]:
    """Yield the timer's elapses after `start`, computed in batches."""
    base = start
    while True:
        batch = next_runs(schedule, timezone, base, 64)
        yield from batch
        if len(batch) < 64:
            return
        base = batch[-1]
