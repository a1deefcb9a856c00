"""systemd calendar expressions (OnCalendar=), evaluated in-process the way systemd does.

`parse` reads systemd's normalized form (what `systemd-analyze calendar` prints as "Normalized
form", and what smartcron renders from cron expressions); `CalendarSpec.next_after` finds the
next elapse. The search mirrors systemd's `find_next()` (src/shared/calendarspec.c): fields are
matched from the year down to the second, each component chain gives the earliest value at or
after the current one, and a local time that does not exist (a spring-forward gap) is skipped
while an ambiguous one (a repeated hour) counts once, at its first occurrence. The tests prove
equality with the real `systemd-analyze calendar --base-time` across DST transitions, so what
smartcron shows as "next run" is what the loaded timer does, without a subprocess per request.
"""

from __future__ import annotations

import calendar as cal
import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

SYSTEMD_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # bit k = SYSTEMD_DAYS[k]
MAX_YEAR = 2199  # systemd stops at 2199 (MAX_YEAR in calendarspec.c)
USEC = 1_000_000
_COMPONENT = re.compile(r"^(\d+)(?:\.\.(\d+))?(?:/(\d+))?$")
_SECOND = re.compile(r"^(\d+(?:\.\d{1,6})?)(?:\.\.(\d+(?:\.\d{1,6})?))?(?:/(\d+(?:\.\d{1,6})?))?$")


class Unsupported(ValueError):
    """The expression is valid for systemd but not in the normalized form read here."""


@dataclass(frozen=True)
class Chain:
    """One comma-separated component: start, optional stop, optional repeat (systemd names)."""

    start: int
    stop: int | None = None  # inclusive; None: just start (or, with repeat, no end)
    repeat: int = 0

    def values(self, high: int) -> Iterator[int]:
        """Yield the values this chain matches up to `high`."""
        if self.repeat:
            last = high if self.stop is None else min(self.stop, high)
            yield from range(self.start, last + 1, self.repeat)
        else:
            last = self.start if self.stop is None else min(self.stop, high)
            yield from range(self.start, last + 1)


def _chains(text: str, pattern: re.Pattern[str] = _COMPONENT, scale: int = 1) -> list[Chain] | None:
    """Given a component such as `*`, `5`, `1..5`, `0/15`, `1,3..4`, return its chains (None for
    `*`). `scale` turns decimal seconds into microseconds."""
    if text == "*":
        return None
    out = []
    for item in text.split(","):
        match = pattern.match(item)
        if not match:
            raise Unsupported(f"component {item!r}")
        start, stop, repeat = (_scaled(g, scale) if g is not None else None for g in match.groups())
        assert start is not None  # noqa: S101 - the pattern requires it
        out.append(Chain(start, stop, repeat or 0))
    return out


def _scaled(text: str, scale: int) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * scale + (int(frac.ljust(6, "0")) if frac else 0) * (scale // USEC or 1)


@dataclass(frozen=True)
class CalendarSpec:
    """A parsed normalized OnCalendar expression."""

    weekdays: frozenset[int] | None  # 0 = Monday ... 6 = Sunday; None: any day
    years: tuple[Chain, ...] | None
    months: frozenset[int] | None
    days: tuple[Chain, ...] | None
    end_of_month: bool  # the day chains count back from the end of the month (`~`)
    hours: frozenset[int] | None
    minutes: frozenset[int] | None
    usecs: tuple[int, ...]  # matching microseconds within a minute, sorted
    zone: str  # "UTC" or an IANA zone name

    # --- Matching naive (wall-clock) times --------------------------------------------------

    def _years_from(self, year: int) -> int | None:
        if self.years is None:
            return year if year <= MAX_YEAR else None
        best = None
        for chain in self.years:
            for value in chain.values(MAX_YEAR):
                if value >= year:
                    best = value if best is None else min(best, value)
                    break
        return best

    def _day_set(self, year: int, month: int) -> list[int]:
        length = cal.monthrange(year, month)[1]
        if self.days is None:
            return list(range(1, length + 1))
        found: set[int] = set()
        for chain in self.days:
            if not self.end_of_month:
                found.update(chain.values(31))
                continue
            # `~N` counts from the end of the month (~01 is the last day); as in systemd, a
            # range is turned around and a repetition runs forward from its first day.
            first = length - chain.start + 1
            if chain.stop is not None:
                low, high = length - chain.stop + 1, first
                found.update(range(low, high + 1, chain.repeat or 1))
            elif chain.repeat:
                found.update(range(first, length + 1, chain.repeat))
            else:
                found.add(first)
        return sorted(d for d in found if 1 <= d <= length)

    def next_wall_time(self, t: dt.datetime) -> dt.datetime | None:
        """Given a naive wall-clock time, return the first matching naive time at or after it."""
        year, month, day = t.year, t.month, t.day
        hour, minute = t.hour, t.minute
        usec = t.second * USEC + t.microsecond
        for _ in range(100_000):  # a safety valve, as systemd has MAX_CALENDAR_ITERATIONS
            found_year = self._years_from(year)
            if found_year is None:
                return None
            if found_year != year:
                year, month, day, hour, minute, usec = found_year, 1, 1, 0, 0, 0
            next_month = _next_in(self.months, month, 12)
            if next_month is None:
                year, month, day, hour, minute, usec = year + 1, 1, 1, 0, 0, 0
                continue
            if next_month != month:
                month, day, hour, minute, usec = next_month, 1, 0, 0, 0
            next_day = next((d for d in self._day_set(year, month) if d >= day), None)
            if next_day is None:
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
                day, hour, minute, usec = 1, 0, 0, 0
                continue
            if next_day != day:
                day, hour, minute, usec = next_day, 0, 0, 0
            if (
                self.weekdays is not None
                and dt.date(year, month, day).weekday() not in self.weekdays
            ):
                year, month, day = _add_days(year, month, day, 1)
                hour, minute, usec = 0, 0, 0
                continue
            next_hour = _next_in(self.hours, hour, 23)
            if next_hour is None:
                year, month, day = _add_days(year, month, day, 1)
                hour, minute, usec = 0, 0, 0
                continue
            if next_hour != hour:
                hour, minute, usec = next_hour, 0, 0
            next_minute = _next_in(self.minutes, minute, 59)
            if next_minute is None:
                year, month, day, hour = _add_hours(year, month, day, hour, 1)
                minute, usec = 0, 0
                continue
            if next_minute != minute:
                minute, usec = next_minute, 0
            next_usec = next((u for u in self.usecs if u >= usec), None)
            if next_usec is None:
                year, month, day, hour, minute = _add_minutes(year, month, day, hour, minute, 1)
                usec = 0
                continue
            second, micro = divmod(next_usec, USEC)
            return dt.datetime(year, month, day, hour, minute, second, micro)  # noqa: DTZ001
        raise Unsupported("no match found within the iteration limit")

    # --- Elapses as instants --------------------------------------------------------------------

    def next_after(self, base: dt.datetime) -> dt.datetime | None:
        """Given an aware instant, return the next elapse strictly after it (aware, UTC)."""
        zone = ZoneInfo(self.zone)
        local = base.astimezone(zone)
        start = local.replace(tzinfo=None) + dt.timedelta(microseconds=1)
        # glibc's mktime() resolves a repeated wall time to the pass of its last result, which
        # within systemd's search is the pass `base` is in: from a base in the second pass of
        # a repeated hour, systemd goes on in the second pass (measured with systemd-analyze).
        fold = local.fold
        candidate = self.next_wall_time(start)
        while candidate is not None:
            instant = _resolve(candidate, zone, fold)
            if instant is not None and instant > base:
                return instant
            candidate = self.next_wall_time(candidate + dt.timedelta(microseconds=1))
        return None


def _next_in(values: frozenset[int] | None, current: int, high: int) -> int | None:
    if values is None:
        return current if current <= high else None
    return min((v for v in values if v >= current), default=None)


def _add_days(year: int, month: int, day: int, days: int) -> tuple[int, int, int]:
    date = dt.date(year, month, day) + dt.timedelta(days=days)
    return date.year, date.month, date.day


def _add_hours(year: int, month: int, day: int, hour: int, hours: int) -> tuple[int, int, int, int]:
    moment = dt.datetime(year, month, day, hour) + dt.timedelta(hours=hours)  # noqa: DTZ001
    return moment.year, moment.month, moment.day, moment.hour


def _add_minutes(
    year: int, month: int, day: int, hour: int, minute: int, minutes: int
) -> tuple[int, int, int, int, int]:
    moment = dt.datetime(year, month, day, hour, minute) + dt.timedelta(minutes=minutes)  # noqa: DTZ001
    return moment.year, moment.month, moment.day, moment.hour, moment.minute


def _resolve(wall: dt.datetime, zone: ZoneInfo, fold: int = 0) -> dt.datetime | None:
    """Given a naive wall-clock time in `zone`, return its UTC instant, or None if that time
    does not exist (spring forward). A repeated time resolves to the pass `fold` says (0: the
    first occurrence)."""
    first = wall.replace(tzinfo=zone, fold=fold)
    as_utc = first.astimezone(dt.UTC)
    if as_utc.astimezone(zone).replace(tzinfo=None) != wall:
        return None  # the wall time does not exist: it is in a gap
    return as_utc


def _set(text: str, low: int, high: int) -> frozenset[int] | None:
    chains = _chains(text)
    if chains is None:
        return None
    return frozenset(v for chain in chains for v in chain.values(high) if low <= v <= high)


def _weekday_set(text: str) -> frozenset[int]:
    found: set[int] = set()
    for item in text.split(","):
        first, _, last = item.partition("..")
        try:
            low = SYSTEMD_DAYS.index(first)
            high = SYSTEMD_DAYS.index(last) if last else low
        except ValueError:
            raise Unsupported(f"weekday {item!r}") from None
        if high < low:
            raise Unsupported(f"weekday range {item!r}")
        found.update(range(low, high + 1))
    return frozenset(found)


def parse(expression: str) -> CalendarSpec:
    """Given an OnCalendar expression in systemd's normalized form, return its CalendarSpec.

    Raises Unsupported for anything else (shorthands such as `daily`, partial dates): callers
    normalize with `systemd-analyze calendar` first (see analyze.py).
    """
    parts = expression.split()
    weekdays: frozenset[int] | None = None
    if parts and parts[0][:3] in SYSTEMD_DAYS:
        weekdays = _weekday_set(parts.pop(0))
    if len(parts) not in (2, 3):
        raise Unsupported(expression)
    date, time = parts[0], parts[1]
    zone = parts[2] if len(parts) == 3 else ""
    if not zone:
        raise Unsupported("no timezone: the meaning would depend on the host's zone")
    end_of_month = "~" in date
    date_parts = re.split(r"[-~]", date)
    if len(date_parts) != 3:
        raise Unsupported(date)
    year_text, month_text, day_text = date_parts
    time_parts = time.split(":")
    if len(time_parts) != 3:
        raise Unsupported(time)
    second_chains = _chains(time_parts[2], _SECOND, USEC)
    if second_chains is None:
        usecs: tuple[int, ...] = tuple(range(0, 60 * USEC, USEC))
    else:
        found: set[int] = set()
        for chain in second_chains:
            if chain.repeat and chain.repeat < 1000:
                raise Unsupported("sub-millisecond repetition")
            found.update(v for v in chain.values(60 * USEC - 1))
        usecs = tuple(sorted(found))
    return CalendarSpec(
        weekdays=weekdays,
        years=None if year_text == "*" else tuple(_chains(year_text) or ()),
        months=_set(month_text, 1, 12),
        days=None if day_text == "*" else tuple(_chains(day_text) or ()),
        end_of_month=end_of_month,
        hours=_set(time_parts[0], 0, 23),
        minutes=_set(time_parts[1], 0, 59),
        usecs=usecs,
        zone="UTC" if zone == "UTC" else zone,
    )


def next_elapses(specs: Sequence[CalendarSpec], base: dt.datetime, count: int) -> list[dt.datetime]:
    """Given the specs of one timer (its OnCalendar= lines), return its next `count` elapses
    after the aware instant `base`: the union of the lines, as systemd computes it."""
    out: list[dt.datetime] = []
    upcoming = {i: spec.next_after(base) for i, spec in enumerate(specs)}
    while len(out) < count:
        pending = [(t, i) for i, t in upcoming.items() if t is not None]
        if not pending:
            break
        moment = min(pending)[0]
        out.append(moment)
        for i, t in list(upcoming.items()):
            if t == moment:
                upcoming[i] = specs[i].next_after(moment)
    return out
