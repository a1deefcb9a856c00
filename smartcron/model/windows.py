"""Maintenance windows (quiet hours), pure: named spans of time, in a timezone, during which
the tasks they cover do not run (`skip`) and/or their alerts are held and sent as one summary
when the window ends (`hold_alerts`). docs/windows.md.

A window is weekly ("Sun 02:00-06:00", "Mon-Fri 22:00-06:00": an end at or before the start
ends the next day; "24:00" is midnight at the end of the day) or dated
("2026-12-24 18:00 .. 2026-12-27 08:00"). Times are wall-clock times in the window's zone:
across a DST change a window keeps its wall times, so it lasts an hour more or less. A wall
time the clock shows twice (the autumn change) means its first occurrence; a wall time the
clock skips (the spring change) means the first moment after the jump.

Every comparison is made in UTC: Python compares two aware datetimes of the same zone by
their wall times, which is wrong around a DST change.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from smartcron.errors import InvalidInput
from smartcron.model.task import Task
from smartcron.model.validate import CATEGORY_RE, NAME_RE
from smartcron.model.zones import check_timezone

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SKIP, HOLD_ALERTS = "skip", "hold_alerts"
ACTIONS = (SKIP, HOLD_ALERTS)
ALL_TASKS = "*"
WHEN_HELP = (
    "a weekly window 'DAYS HH:MM-HH:MM' (days Mon..Sun, a comma list or a range such as "
    "Mon-Fri; an end at or before the start ends the next day; 24:00 is the end of the day), "
    "or a dated window 'YYYY-MM-DD HH:MM .. YYYY-MM-DD HH:MM'"
)
_TIME = r"(\d{1,2}):(\d{2})"
_WEEKLY_RE = re.compile(rf"^([A-Za-z,\-]+)\s+{_TIME}\s*-\s*{_TIME}$")
_DATED_RE = re.compile(
    rf"^(\d{{4}}-\d{{2}}-\d{{2}})[ T]{_TIME}\s*\.\.\s*(\d{{4}}-\d{{2}}-\d{{2}})[ T]{_TIME}$"
)
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Occurrence:
    """One stretch of a window, in UTC: start <= moment < end."""

    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class Window:
    """A validated window. `when` is its canonical text; the parsed span is kept beside it."""

    name: str
    when: str
    timezone: str
    tasks: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    actions: tuple[str, ...] = (SKIP,)
    description: str = ""

    def applies_to(self, task: Task) -> bool:
        """Return True when the window covers the task (by name, `*`, or its category)."""
        return (
            ALL_TASKS in self.tasks or task.name in self.tasks or task.category in self.categories
        )

    def occurrence_at(self, moment: dt.datetime) -> Occurrence | None:
        """Given an aware moment, return the window's stretch that contains it, or None."""
        now = moment.astimezone(dt.UTC)
        return next((o for o in self._around(now) if o.start <= now < o.end), None)

    def next_start(self, moment: dt.datetime) -> dt.datetime | None:
        """Given an aware moment, return the first start after it (UTC), None if none."""
        now = moment.astimezone(dt.UTC)
        later = [o.start for o in self._around(now, ahead=8) if o.start > now]
        return min(later, default=None)

    def _around(self, now: dt.datetime, ahead: int = 1) -> list[Occurrence]:
        """The stretches starting from the day before `now` (local) to `ahead` days after."""
        zone = ZoneInfo(self.timezone)
        dated = _DATED_RE.match(self.when)
        if dated:
            d1, h1, m1, d2, h2, m2 = dated.groups()
            start = wall_to_utc(dt.date.fromisoformat(d1), int(h1), int(m1), zone)
            return [
                Occurrence(start, wall_to_utc(dt.date.fromisoformat(d2), int(h2), int(m2), zone))
            ]
        days, start_time, end_time = parse_weekly(self.when)
        today = now.astimezone(zone).date()
        found = []
        for offset in range(-1, ahead + 1):
            day = today + offset * _DAY
            if day.weekday() not in days:
                continue
            crosses = end_time <= start_time
            start = wall_to_utc(day, *divmod(start_time, 60), zone)
            end = wall_to_utc(
                day + (_DAY if crosses else dt.timedelta()), *divmod(end_time, 60), zone
            )
            found.append(Occurrence(start, end))
        return found


def wall_to_utc(day: dt.date, hour: int, minute: int, zone: ZoneInfo) -> dt.datetime:
    """Given a wall time on a day in a zone, return its moment in UTC: the first of a time
    shown twice, the first moment after the jump for a time the clock skips (24:00 is the next
    day's midnight)."""
    if hour == 24:
        day, hour = day + _DAY, 0
    wall = dt.datetime.combine(day, dt.time(hour, minute))
    for step in range(0, 24 * 60 + 1):  # a DST jump is at most a few hours
        candidate = (wall + dt.timedelta(minutes=step)).replace(tzinfo=zone, fold=0)
        moment = candidate.astimezone(dt.UTC)
        if moment.astimezone(zone).replace(tzinfo=None) == candidate.replace(tzinfo=None):
            return moment
    raise ValueError(f"no moment for {wall} in {zone}")  # pragma: no cover - no such zone


def _minutes(text_h: str, text_m: str, when: str, *, end: bool) -> int:
    hour, minute = int(text_h), int(text_m)
    if minute > 59 or hour > 24 or (hour == 24 and (minute or not end)):
        raise InvalidInput("when", when, f"{text_h}:{text_m} is not a time of day; " + WHEN_HELP)
    return hour * 60 + minute


def _days(text: str, when: str) -> frozenset[int]:
    lower = [d.lower() for d in WEEKDAYS]
    days: set[int] = set()
    for part in text.split(","):
        ends = part.split("-")
        if not part or len(ends) > 2 or any(e.lower() not in lower for e in ends):
            raise InvalidInput("when", when, f"{part!r} is not a day or day range; " + WHEN_HELP)
        first, last = (lower.index(e.lower()) for e in (ends[0], ends[-1]))
        days.update(
            range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
        )
    return frozenset(days)


def parse_weekly(when: str) -> tuple[frozenset[int], int, int]:
    """Given a weekly window's text, return (weekdays 0=Mon, start minute, end minute)."""
    found = _WEEKLY_RE.match(when.strip())
    if not found:
        raise InvalidInput("when", when, WHEN_HELP)
    days_text, h1, m1, h2, m2 = found.groups()
    start, end = _minutes(h1, m1, when, end=False), _minutes(h2, m2, when, end=True)
    if start == end:
        raise InvalidInput("when", when, "the start and the end are the same time; " + WHEN_HELP)
    return _days(days_text, when), start, end


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def check_when(value: object, timezone: str) -> str:
    """Given a window's `when` text, return its canonical form, or raise InvalidInput."""
    text = " ".join(value.split()) if isinstance(value, str) else ""
    dated = _DATED_RE.match(text)
    if dated:
        d1, h1, m1, d2, h2, m2 = dated.groups()
        try:
            first, last = dt.date.fromisoformat(d1), dt.date.fromisoformat(d2)
        except ValueError:
            raise InvalidInput("when", value, "a date does not exist; " + WHEN_HELP) from None
        begin = _minutes(h1, m1, text, end=False)
        close = _minutes(h2, m2, text, end=True)
        zone = ZoneInfo(timezone)
        if wall_to_utc(last, *divmod(close, 60), zone) <= wall_to_utc(
            first, *divmod(begin, 60), zone
        ):
            raise InvalidInput("when", value, "a dated window must end after it starts")
        return f"{first} {_hhmm(begin)} .. {last} {_hhmm(close)}"
    if not text:
        raise InvalidInput("when", value, WHEN_HELP)
    days, start, end = parse_weekly(text)
    listed = ",".join(WEEKDAYS[d] for d in sorted(days))
    return f"{listed} {_hhmm(start)}-{_hhmm(end)}"


def _names(
    field: str, values: Iterable[Any], pattern: re.Pattern[str], allowed: str
) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        text = value.strip() if isinstance(value, str) else ""
        if not (text == ALL_TASKS and field == "tasks") and not pattern.match(text):
            raise InvalidInput(field, value, allowed)
        out.append(text)
    return tuple(dict.fromkeys(out))


def check_window(data: Mapping[str, Any]) -> Window:
    """Given a window as plain data (name, when, timezone, tasks, categories, actions,
    description), return the Window, or raise InvalidInput naming the field."""
    name = data.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidInput(
            "name", name, "1-64 of a-z, 0-9 and '-', starting with a letter or digit"
        )
    timezone = check_timezone(data.get("timezone"))
    when = check_when(data.get("when"), timezone)
    tasks = _names("tasks", data.get("tasks") or (), NAME_RE, "a task name, or * for every task")
    categories = _names(
        "categories",
        data.get("categories") or (),
        CATEGORY_RE,
        "a category: 1-64 letters, digits, spaces, '.', '_' or '-'",
    )
    actions = tuple(
        dict.fromkeys(str(a).strip().replace("-", "_") for a in data.get("actions") or ())
    )
    bad = [a for a in actions if a not in ACTIONS]
    if bad or not actions:
        raise InvalidInput("actions", bad[0] if bad else "", f"one or both of {', '.join(ACTIONS)}")
    description = str(data.get("description") or "").strip()
    if "\n" in description or len(description) > 200:
        raise InvalidInput("description", description, "one line of at most 200 characters")
    # Last: a missing cover is about the window as a whole, so every value given is checked
    # first (a bad --action is named even when --task is missing too).
    if not tasks and not categories:
        raise InvalidInput(
            "tasks",
            "",
            "a window must cover something: name tasks (or * for every task) or categories",
        )
    return Window(name, when, timezone, tasks, categories, actions, description)


def _similar(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(known), n=3, cutoff=0.6)
    return f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""


def check_covers(window: Window, tasks: Iterable[Task]) -> list[str]:
    """Given a window and every task, raise InvalidInput for a task name that names no task
    (a typo would cover nothing while the operator thinks the task is quiet), and return a
    warning for each category no task has yet (categories are free-form task labels, so a
    window may be set up before the tasks that get that label)."""
    every = list(tasks)
    names = {t.name for t in every}
    categories = {t.category for t in every}
    for name in window.tasks:
        if name != ALL_TASKS and name not in names:
            raise InvalidInput(
                "tasks",
                name,
                f"no task has that name; {_similar(name, names)}"
                "name an existing task (`smartcron task list`), or * for every task",
            )
    warnings = []
    for category in window.categories:
        if category not in categories:
            known = ", ".join(sorted(categories)) or "none"
            warnings.append(
                f"warning: categories: no task has category {category!r} yet, so window "
                f"{window.name} covers none until one does; {_similar(category, categories)}"
                f"categories of the tasks: {known}"
            )
    return warnings


def active_windows(
    windows: Iterable[Window], task: Task, action: str | None, moment: dt.datetime | None = None
) -> list[tuple[Window, Occurrence]]:
    """Given windows, a task and a moment (default now), return the windows with `action`
    (None: any) that cover the task at that moment, each with its current stretch, by name."""
    moment = moment or dt.datetime.now(dt.UTC)
    found = []
    for window in sorted(windows, key=lambda w: w.name):
        if (action is None or action in window.actions) and window.applies_to(task):
            occurrence = window.occurrence_at(moment)
            if occurrence is not None:
                found.append((window, occurrence))
    return found


def covered_text(window: Window, occurrence: Occurrence) -> str:
    """Return the words for a run or alert inside a window: its name, span and end."""
    until = occurrence.end.astimezone(ZoneInfo(window.timezone)).strftime("%Y-%m-%d %H:%M %Z")
    return f"maintenance window {window.name} ({window.when} {window.timezone}, until {until})"


def state_text(window: Window, moment: dt.datetime | None = None) -> str:
    """Return where the window stands at a moment (default now), in its own zone: "active
    until ...", "next from ..." or "ended"."""
    moment = moment or dt.datetime.now(dt.UTC)
    zone = ZoneInfo(window.timezone)
    current = window.occurrence_at(moment)
    if current is not None:
        return f"active until {current.end.astimezone(zone):%Y-%m-%d %H:%M %Z}"
    upcoming = window.next_start(moment)
    if upcoming is None:
        return "ended"
    return f"next from {upcoming.astimezone(zone):%Y-%m-%d %H:%M %Z}"


def active_words(windows: Iterable[Window], task: Task, moment: dt.datetime | None = None) -> str:
    """Return the windows on now for a task in words ("db-upgrade (skip) until ..."), or ""."""
    found = active_windows(windows, task, None, moment)
    return "; ".join(
        f"{w.name} ({', '.join(w.actions)}) until "
        f"{o.end.astimezone(ZoneInfo(w.timezone)):%Y-%m-%d %H:%M %Z}"
        for w, o in found
    )
