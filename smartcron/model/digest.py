"""The digest's calendar and the snapshot it is written from, pure.

A digest covers whole local days in the digest's time zone (23 or 25 hours on the days the
clocks change) and is due at `digest_time` on the day after: the daily one covers yesterday,
the weekly one (on `digest_weekly`) the seven days before. Its period's start in UTC is the
slot of its claim, so exactly one host sends each one (docs/alerts.md, "The digest").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAILY, WEEKLY = "daily", "weekly"
# A digest sent later than this after its time says that it is late, and why.
LATE_AFTER = dt.timedelta(minutes=15)
# Not-run outcomes the digest counts but does not list as problems: a `placement: one` run
# that another host claimed is multi-host operation doing its job (docs/multi-host.md).
NOT_LISTED = ("ran-elsewhere",)


def parse_clock(value: str) -> dt.time:
    """Given "HH:MM" (00:00 to 23:59), return the time; raise ValueError otherwise."""
    hours, sep, minutes = value.partition(":")
    digits = hours + minutes
    if (
        not sep
        or len(hours) != 2
        or len(minutes) != 2
        or not (digits.isascii() and digits.isdigit())
    ):
        raise ValueError(value)
    return dt.time(int(hours), int(minutes))


def local_start(day: dt.date, zone: str) -> dt.datetime:
    """Return the first moment of a local day, in UTC (a midnight that does not exist, where
    the clocks jump at 00:00, is the first moment after the jump)."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)


@dataclass(frozen=True)
class Period:
    """The local days a digest covers, first to last inclusive, and when it is due."""

    kind: str  # daily or weekly
    first: dt.date
    last: dt.date
    zone: str
    at: dt.time  # digest_time

    @property
    def start(self) -> dt.datetime:
        return local_start(self.first, self.zone)

    @property
    def end(self) -> dt.datetime:
        return local_start(self.last + dt.timedelta(days=1), self.zone)

    @property
    def due(self) -> dt.datetime:
        """digest_time on the day after the period, in UTC."""
        after = self.last + dt.timedelta(days=1)
        return dt.datetime.combine(after, self.at, tzinfo=ZoneInfo(self.zone)).astimezone(dt.UTC)

    @property
    def claim_key(self) -> str:
        return f"digest:{self.kind}"

    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def daily(day: dt.date, zone: str, at: dt.time) -> Period:
    """The daily digest of one local day."""
    return Period(DAILY, day, day, zone, at)


def weekly(last: dt.date, zone: str, at: dt.time) -> Period:
    """The weekly digest of the seven local days ending with `last`."""
    return Period(WEEKLY, last - dt.timedelta(days=6), last, zone, at)


def due_periods(now: dt.datetime, zone: str, at: dt.time, weekly_on: str = "") -> list[Period]:
    """Given the time, return the latest daily digest whose time has come (and the latest
    weekly one when `weekly_on` names a weekday): what should have been sent by now."""
    today = now.astimezone(ZoneInfo(zone)).date()
    latest = daily(today - dt.timedelta(days=1), zone, at)
    if latest.due > now:
        latest = daily(today - dt.timedelta(days=2), zone, at)
    out = [latest]
    if weekly_on:
        back = (today.weekday() - WEEKDAYS.index(weekly_on)) % 7
        week = weekly(today - dt.timedelta(days=back + 1), zone, at)
        if week.due > now:
            week = weekly(week.last - dt.timedelta(days=7), zone, at)
        out.append(week)
    return out


@dataclass(frozen=True)
class RunLine:
    """One run the digest names: a failure, a skip or a run that did not happen."""

    started_at: dt.datetime
    task: str
    host: str
    outcome: str
    meaning: str
    attempt: int = 1  # of a failure: the attempts it took, counting this one


@dataclass(frozen=True)
class AlertLine:
    """One alert still open when the digest was written."""

    id: int
    task: str | None
    kind: str
    state: str
    opened_at: dt.datetime
    summary: str


@dataclass(frozen=True)
class LateLine:
    """A run that was due and did not start (the watchdog's late check said so)."""

    task: str
    noticed_at: dt.datetime
    message: str


@dataclass(frozen=True)
class Snapshot:
    """Everything a digest says, gathered from the database and the backup directory."""

    period: Period
    counts: dict[str, dict[str, int]]  # host -> outcome -> runs ("" for runs without a host)
    failures: list[RunLine] = field(default_factory=list)  # failed for good: no retry follows
    skipped: list[RunLine] = field(default_factory=list)  # NOT_RUNS but NOT_LISTED
    late: list[LateLine] = field(default_factory=list)
    open_alerts: list[AlertLine] = field(default_factory=list)
    backups: list[tuple[dt.datetime, str]] = field(default_factory=list)
    backup_dir: str = ""
    score: float | None = None  # the last health score recorded in the period
    lowest_score: float | None = None
    hosts: list[str] = field(default_factory=list)  # every registered host
    retried: int = 0  # failed attempts that a later attempt of the same run retried
