"""A model of cronie's main loop (src/cron.c), the reference for "what cron does" at clock
changes: the daemon wakes every real minute, compares its wall clock (minutes since the epoch
plus the UTC offset) with its virtual clock and, by the difference, runs every job for the
minute (1), fixed-time jobs for each skipped minute after wildcard jobs for the current one
(6..180, "DST begins"), every job for each skipped minute (2..5), only wildcard jobs while
the clock is behind (<= 0, "DST ends"), or every job once (a jump of more than 3 hours).

It is written from cron.c, independently of smartcron's clockchange.py, and it runs the job's
zone as the daemon's own zone (what smartcron promises for a task's timezone).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from smartcron.model.schedule.cron import CronExpr

EPOCH = dt.datetime(1970, 1, 1)  # noqa: DTZ001 - wall-clock minutes, as cron counts them
MINUTE = dt.timedelta(minutes=1)


def _matches(cron: CronExpr, vtime: int) -> bool:
    wall = EPOCH + vtime * MINUTE  # cron.c: gmtime(virtualSecond) gives the wall-clock fields
    if wall.minute not in cron.minutes or wall.hour not in cron.hours:
        return False
    if wall.month not in cron.months:
        return False
    dom = wall.day in cron.days
    dow = (wall.isoweekday() % 7) in cron.weekdays
    return (dom and dow) if (cron.dom_star or cron.dow_star) else (dom or dow)


def cronie_runs(
    cron: CronExpr, timezone: str, start: dt.datetime, end: dt.datetime
) -> list[dt.datetime]:
    """Return the UTC instants (whole minutes) in (start, end] at which cronie, running in
    `timezone`, starts the job; several starts in one minute are kept as one."""
    zone = ZoneInfo(timezone)

    def clock(t: dt.datetime) -> int:
        offset = t.astimezone(zone).utcoffset() or dt.timedelta()
        return int((t + offset - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // MINUTE)

    wild = cron.min_star or cron.hr_star
    t = start.astimezone(dt.UTC).replace(second=0, microsecond=0)
    virtual = clock(t)
    runs: list[dt.datetime] = []

    def find(vtime: int, do_wild: bool, do_fixed: bool) -> None:
        wanted = (do_fixed and not wild) or (do_wild and wild)
        if wanted and _matches(cron, vtime) and (not runs or runs[-1] != t):
            runs.append(t)

    while t < end:
        t += MINUTE
        running = clock(t)
        diff = running - virtual
        if diff == 1:
            virtual = running
            find(virtual, True, True)
        elif diff > 180 or diff < -180:
            virtual = running
            find(running, True, True)
        elif diff > 5:
            find(running, True, False)
            while virtual < running:
                virtual += 1
                find(virtual, False, True)
        elif diff > 0:
            while virtual < running:
                virtual += 1
                find(virtual, True, True)
        else:
            find(running, True, False)
    return runs
