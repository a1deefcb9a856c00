"""Clock changes (DST) done the way cron does them, expressed as extra OnCalendar= lines.

cronie's rule (src/cron.c, the main loop's four cases, and find_jobs' doWild/doNonWild):
a "wildcard" job (minute or hour field starting with `*`, or @hourly) runs in both passes of a
repeated hour and not for wall-clock minutes that a jump skips; a "fixed-time" job runs once in
a repeated hour (the first pass) and, for its times inside a gap, right after the jump.

systemd 252 with a local-time OnCalendar= line does the rest already (the first pass, the
times that exist) but not these two, so a timer gets, for each clock change in its horizon:
- for a fixed-time job with a time in the gap: one line for the instant of the jump;
- for a wildcard job: lines for its times in the second pass of the repeated hour.
Those lines are in UTC: exact instants, and systemd evaluates UTC lines without forking.

A change whose gap or repeated window has a full hour strictly inside it (Pacific/Chatham's
02:45 -> 03:45) makes systemd's local-time evaluation misbehave (glibc normalizes such times
backwards; systemd then skips runs or fails with EDEADLK). For those changes the local lines
leave out the local dates the change touches, and UTC lines carry every run of those dates.

The horizon is whole calendar years (`horizon_years`), so the lines change once a year; the
daily maintenance run's `smartcron sync` renews them (docs/sync.md).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from smartcron.model.schedule.cron import ALL_DATES, CronExpr, DatePiece, compress, matches_local

HORIZON_YEARS = 3  # this year and the two after it
MINUTE = dt.timedelta(minutes=1)
LAST_YEAR = 2199  # systemd's MAX_YEAR


@dataclass(frozen=True)
class Change:
    """One change of a zone's UTC offset."""

    instant: dt.datetime  # UTC, the first instant with the new offset
    before: dt.timedelta
    after: dt.timedelta

    @property
    def shift(self) -> dt.timedelta:
        return self.after - self.before

    @property
    def window(self) -> tuple[dt.datetime, dt.datetime]:
        """The naive wall-clock times [start, end) that do not exist (gap) or repeat."""
        if self.shift > dt.timedelta():
            start = (self.instant + self.before).replace(tzinfo=None)
            return start, start + self.shift
        start = (self.instant + self.after).replace(tzinfo=None)
        return start, start - self.shift

    @property
    def clean(self) -> bool:
        """False when a full hour lies strictly inside the window (see the module doc)."""
        start, end = self.window
        first_hour = start.replace(minute=0, second=0) + dt.timedelta(hours=1)
        return not first_hour < end

    def local_dates(self) -> set[dt.date]:
        """The local dates whose wall clock this change touches (old and new offset)."""
        start, end = self.window
        moments = (start, end - MINUTE, self.instant + self.before, self.instant + self.after)
        return {m.date() for m in moments}


def _offset(zone: ZoneInfo, moment: dt.datetime) -> dt.timedelta:
    return moment.astimezone(zone).utcoffset() or dt.timedelta()


@functools.lru_cache(maxsize=1024)
def changes(timezone: str, first_year: int, last_year: int) -> tuple[Change, ...]:
    """Return the offset changes of `timezone` in the calendar years first..last (UTC)."""
    zone = ZoneInfo(timezone)
    t = dt.datetime(first_year, 1, 1, tzinfo=dt.UTC) - dt.timedelta(days=1)
    end = dt.datetime(last_year + 1, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=1)
    step = dt.timedelta(hours=6)
    found = []
    while t < end:
        nxt = t + step
        if _offset(zone, t) != _offset(zone, nxt):
            low, high = t, nxt
            while high - low > dt.timedelta(seconds=1):
                mid = low + (high - low) / 2
                if _offset(zone, mid) == _offset(zone, low):
                    low = mid
                else:
                    high = mid
            instant = high.replace(microsecond=0)
            if first_year <= instant.year <= last_year:
                found.append(Change(instant, _offset(zone, low), _offset(zone, high)))
        t = nxt
    return tuple(found)


def horizon_years(today: dt.date) -> tuple[int, int]:
    """The calendar years whose clock changes a timer rendered on `today` corrects."""
    return today.year, today.year + HORIZON_YEARS - 1


def _cron_kind(cron: CronExpr, shift_minutes: int) -> str:
    """cronie's case for a jump of this many minutes (cron.c: small, medium, negative, large):
    which jobs run for the skipped or repeated minutes."""
    if shift_minutes > 180 or shift_minutes < -180:
        return "large"
    if shift_minutes > 5:
        return "medium"
    return "small" if shift_minutes > 0 else "negative"


def extra_runs(cron: CronExpr, change: Change) -> list[dt.datetime]:
    """Given a cron expression and a clean change, return the UTC instants cron runs the job
    at that a local-time OnCalendar line does not fire at."""
    start, end = change.window
    minutes = int((end - start) / MINUTE)
    kind = _cron_kind(cron, int(change.shift / MINUTE))
    walls = [start + k * MINUTE for k in range(minutes)]
    if change.shift > dt.timedelta():
        # Gap: medium runs fixed-time jobs of every skipped minute at the jump; small runs
        # every job of them; large runs none.
        wanted = kind == "small" or (kind == "medium" and not cron.wildcard)
        hit = wanted and any(matches_local(cron, w) for w in walls)
        return [change.instant] if hit else []
    # Repeat: the second pass runs wildcard jobs (negative), or everything (large).
    if cron.wildcard or kind == "large":
        return [change.instant + k * MINUTE for k, w in enumerate(walls) if matches_local(cron, w)]
    return []


def day_runs(cron: CronExpr, zone: ZoneInfo, day: dt.date, change: Change) -> list[dt.datetime]:
    """Every UTC instant cron runs the job at on the local date `day` of a change (used for
    changes that systemd cannot be trusted with: every run of the date becomes a UTC line)."""
    repeat_end = change.instant - change.shift  # end of the second pass (for a repeat)
    large = _cron_kind(cron, int(change.shift / MINUTE)) == "large"
    out = set()
    t = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(), dt.UTC)
    for _ in range(3 * 24 * 60):  # local date `day` lies within these three UTC days
        local = t.astimezone(zone)
        if local.date() == day and matches_local(cron, local.replace(tzinfo=None)):
            second_pass = change.instant <= t < repeat_end
            if not second_pass or cron.wildcard or large:
                out.add(t)
        t += MINUTE
    out.update(x for x in extra_runs(cron, change) if x.astimezone(zone).date() == day)
    return sorted(out)


def _utc_lines(instants: list[dt.datetime]) -> list[str]:
    """Given UTC instants on whole minutes, return OnCalendar lines matching exactly them."""
    by_day: dict[dt.date, dict[int, set[int]]] = {}
    for t in instants:
        by_day.setdefault(t.date(), {}).setdefault(t.hour, set()).add(t.minute)
    lines = []
    for day, hours in sorted(by_day.items()):
        by_minutes: dict[frozenset[int], set[int]] = {}
        for hour, minute_set in hours.items():
            by_minutes.setdefault(frozenset(minute_set), set()).add(hour)
        for minutes, hour_set in sorted(by_minutes.items(), key=lambda kv: min(kv[1])):
            hh = compress(frozenset(hour_set), 0, 23)
            mm = compress(minutes, 0, 59)
            lines.append(f"{day:%Y-%m-%d} {hh}:{mm}:00 UTC")
    return lines


def _search_can_enter(cron: CronExpr, change: Change) -> bool:
    """Whether systemd's search for the next elapse can visit a wall time in the window: it
    steps through hours the expression matches and, after the last minute of one, to the
    start of the hour after it (calendarspec.c find_next)."""
    start, end = change.window
    hours = {(start + k * MINUTE).hour for k in range(int((end - start) / MINUTE))}
    return bool((hours | {(h - 1) % 24 for h in hours}) & cron.hours)


@dataclass(frozen=True)
class Plan:
    """What a cron schedule's timer needs around the clock changes of its horizon."""

    excluded: frozenset[dt.date]  # local dates left out of the local-time lines
    utc_lines: tuple[str, ...]


@functools.lru_cache(maxsize=8192)
def plan(cron: CronExpr, timezone: str, first_year: int, last_year: int) -> Plan:
    """Given a parsed cron expression and its zone, return the corrections of its timer for
    the clock changes in the years first..last."""
    zone = ZoneInfo(timezone)
    excluded: set[dt.date] = set()
    instants: set[dt.datetime] = set()
    for change in changes(timezone, first_year, last_year):
        if change.clean or not _search_can_enter(cron, change):
            instants.update(extra_runs(cron, change))
            continue
        for day in change.local_dates():
            excluded.add(day)
            instants.update(day_runs(cron, zone, day, change))
    return Plan(frozenset(excluded), tuple(_utc_lines(sorted(instants))))


def date_pieces(excluded: frozenset[dt.date], first_year: int) -> tuple[DatePiece, ...]:
    """Given local dates to leave out, return (years, months, days) products whose union is
    every date from `first_year` on except those: the date parts of the local-time lines."""
    if not excluded:
        return (ALL_DATES,)
    all_years = set(range(first_year, LAST_YEAR + 1))
    months_hit = {d.month for d in excluded}
    pieces = [
        (_years(all_years), frozenset(set(range(1, 13)) - months_hit), frozenset(range(1, 32)))
    ]
    for month in sorted(months_hit):
        years_hit = {d.year for d in excluded if d.month == month}
        pieces.append((_years(all_years - years_hit), frozenset({month}), frozenset(range(1, 32))))
        for year in sorted(years_hit):
            days = {d.day for d in excluded if (d.year, d.month) == (year, month)}
            pieces.append((str(year), frozenset({month}), frozenset(set(range(1, 32)) - days)))
    return tuple(p for p in pieces if p[0] and p[1] and p[2])


def _years(years: set[int]) -> str:
    """systemd's list of years, e.g. 2026,2029..2199 (empty for none)."""
    if not years:
        return ""
    return compress(frozenset(years), -1, -1, width=4)
