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
from smartcron.model.schedule import analyze, calendar, clockchange
from smartcron.model.schedule.analyze import SCHEDULE_HELP
from smartcron.model.schedule.cron import (
    KEYWORDS,
    REBOOT,
    CronExpr,
    can_fire,
    kind_of,
    looks_like_cron,
    parse_cron,
    systemd_zone,
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
    "horizon_end",
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
    return f"{expression} {systemd_zone(timezone)}"


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def timer_lines(schedule: str, timezone: str, today: dt.date | None = None) -> list[str]:
    """Return the OnCalendar= values of a task's timer rendered on `today` (default: now;
    empty for @reboot).

    A cron schedule gets its local-time lines plus the UTC lines that make the timer do what
    cron does at the clock changes of the horizon (clockchange.py): the lines depend on the
    calendar year they are rendered in, and the daily `smartcron sync` renews them.
    """
    kind = kind_of(schedule)
    if kind == "reboot":
        return []
    if kind == "cron":
        first, last = clockchange.horizon_years(today or _today())
        return list(_cron_lines(parse_cron(schedule), timezone, first, last))
    return [with_timezone(schedule, timezone)]


@functools.lru_cache(maxsize=8192)
def _cron_lines(cron: CronExpr, timezone: str, first: int, last: int) -> tuple[str, ...]:
    corrections = clockchange.plan(cron, timezone, first, last)
    pieces = clockchange.date_pieces(corrections.excluded, first)
    return (*to_oncalendar(cron, timezone, pieces), *corrections.utc_lines)


def horizon_end(today: dt.date | None = None) -> dt.date:
    """Return the last day whose clock changes the timers rendered on `today` correct."""
    return dt.date(clockchange.horizon_years(today or _today())[1], 12, 31)


@functools.lru_cache(maxsize=4096)
def _specs(
    schedule: str, timezone: str, today: dt.date
) -> tuple[calendar.CalendarSpec, ...] | None:
    """The parsed timer lines, or None when a line is not in normalized form (a schedule
    stored before schedules were normalized: evaluated by systemd-analyze instead)."""
    try:
        return tuple(calendar.parse(line) for line in timer_lines(schedule, timezone, today))
    except calendar.Unsupported:
        return None


def next_runs(
    schedule: str, timezone: str, base: dt.datetime, count: int, today: dt.date | None = None
) -> list[dt.datetime]:
    """Given a schedule, its timezone and an aware base time, return the next `count` elapses
    after `base` of its timer as rendered on `today` (default: now), as aware datetimes in
    `timezone` (none for @reboot, nor for a chained task without a schedule)."""
    if not schedule:
        return []
    zone = ZoneInfo(timezone)
    day = today or _today()
    specs = _specs(schedule, timezone, day)
    if specs is None:
        times = analyze.systemd_next(timer_lines(schedule, timezone, day), base, count)
    else:
        times = calendar.next_elapses(specs, base, count)
    return [t.astimezone(zone) for t in times]


def previous_run(schedule: str, timezone: str, before: dt.datetime) -> dt.datetime | None:
    """Return the latest elapse of the schedule's timer at or before `before` (None if there
    is none within five years, for @reboot, or without a schedule: a chained task)."""
    if not schedule:
        return None
    window = dt.timedelta(hours=1)
    while window <= dt.timedelta(days=5 * 366):
        start = before - window
        # One elapse first: a sparse schedule (@yearly) has none in most windows, and a batch
        # of 64 yearly elapses costs ~15 ms (the watchdog asks this for every timer run).
        first = next_runs(schedule, timezone, start, 1)
        if not first or first[0] > before:
            window *= 8
            continue
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
    """Yield the timer's elapses after `start`, computed in batches (small first: a caller
    usually stops after a few)."""
    base, size = start, 4
    while True:
        batch = next_runs(schedule, timezone, base, size)
        yield from batch
        if len(batch) < size:
            return
        base, size = batch[-1], min(size * 2, 64)
