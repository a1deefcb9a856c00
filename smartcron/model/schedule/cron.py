"""Cron expressions and @keywords: parsing (with errors that name the field), cron's day rule,
and the translation into systemd OnCalendar lines. Pure functions."""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

from smartcron.errors import InvalidInput

KEYWORDS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
REBOOT = "@reboot"
SCHEDULE_HELP = (
    "use a 5-field cron expression (e.g. '*/15 * * * *'), one of "
    "@hourly/@daily/@weekly/@monthly/@yearly/@reboot, or a systemd OnCalendar expression "
    "(e.g. 'Mon..Fri *-*-* 09:00:00')"
)

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
SYSTEMD_DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]


@dataclass(frozen=True)
class CronField:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    # Offset of names[0]: months are 1-based, weekdays 0-based.
    names_start: int = 0


FIELDS = (
    CronField("minute", 0, 59),
    CronField("hour", 0, 23),
    CronField("day-of-month", 1, 31),
    CronField("month", 1, 12, tuple(MONTHS), 1),
    CronField("day-of-week", 0, 7, tuple(DAYS), 0),
)
_CRON_CHARS = re.compile(r"^[0-9A-Za-z*,/\-~#?]+$")
_ITEM_HELP = "'*', a number, a name, a range a-b, a step */n or a-b/n, or a comma list of these"


@dataclass(frozen=True)
class CronExpr:
    """A parsed 5-field cron expression, with the flags cronie keeps (entry.c).

    `dom_star`/`dow_star` record whether the day field text starts with `*`, which decides
    cron's day rule: when neither day field starts with `*`, a day matches if EITHER matches.
    `min_star`/`hr_star` (cronie's MIN_STAR, HR_STAR) make a "wildcard" job, which cron runs
    differently from a fixed-time job when the clocks change (see `wildcard`).
    """

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    dom_star: bool
    dow_star: bool
    min_star: bool = False
    hr_star: bool = False

    @property
    def wildcard(self) -> bool:
        """True when the minute or hour field starts with `*` (or for @hourly): cron runs such
        a job in both passes of a repeated hour and not for minutes skipped by a jump."""
        return self.min_star or self.hr_star


def kind_of(expression: str) -> str:
    """Given a schedule, return "reboot", "cron" (incl. @keywords) or "oncalendar"."""
    text = expression.strip()
    if text.lower() == REBOOT:
        return "reboot"
    if text.startswith("@") or looks_like_cron(text):
        return "cron"
    return "oncalendar"


def looks_like_cron(text: str) -> bool:
    """Return True for what can only be meant as cron: five fields without ':' (no systemd
    time has fewer than one ':'), or 5-7 fields of cron characters (so that a 6-field line is
    refused as cron, naming the count, not as a broken OnCalendar expression)."""
    parts = text.split()
    if len(parts) == 5 and ":" not in text:
        return True
    return 5 <= len(parts) <= 7 and all(_CRON_CHARS.match(p) for p in parts)


def _refuse(spec: CronField, whole: str, allowed: str) -> InvalidInput:
    return InvalidInput(f"schedule {spec.name} field", whole, allowed)


def _value(spec: CronField, token: str, whole: str) -> int:
    """One number or name, as cronie's get_number reads it (names: 3 letters, any case)."""
    lowered = token.lower()
    if spec.names and lowered in spec.names:
        return spec.names.index(lowered) + spec.names_start
    if not token.isascii() or not token.isdigit():
        allowed = f"numbers {spec.low}-{spec.high}"
        if spec.names:
            allowed += f" or names {spec.names[0]}-{spec.names[-1]}"
        what = f"{token!r} is not a number" if token else "a number is missing"
        raise _refuse(spec, whole, f"{what}; use {allowed} in {_ITEM_HELP}")
    number = int(token)
    if not spec.low <= number <= spec.high:
        raise _refuse(spec, whole, f"{number} is out of range {spec.low}-{spec.high}")
    return number


def _step(spec: CronField, text: str, whole: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) == 0:
        shown = f"'/{text}'" if text else "'/' with nothing after it"
        raise _refuse(
            spec, whole, f"{shown} is not a step; a step is a positive whole number, e.g. */5"
        )
    return int(text)


def _parse_item(spec: CronField, item: str, whole: str) -> set[int]:
    """One list item, the way cronie's get_range reads it."""
    if "~" in item:
        raise _refuse(
            spec, whole, "random ranges with '~' (cronie) are not supported; pick a value"
        )
    body, slash, step_text = item.partition("/")
    step = _step(spec, step_text, whole) if slash else 1
    if body == "*":
        low, high = spec.low, spec.high
    elif "-" in body:
        first, _, last = body.partition("-")
        low, high = _value(spec, first, whole), _value(spec, last, whole)
        if low > high and high == 0 and spec.name == "day-of-week":
            high = 7  # cronie: a weekday range ending on Sunday (fri-sun, 5-0) wraps to 7
        elif low > high:
            hint = (
                "; to wrap past Saturday end the range on sun (0), or list two ranges"
                if spec.name == "day-of-week"
                else f"; write two ranges, e.g. {first}-{spec.high},{spec.low}-{last}"
            )
            raise _refuse(
                spec, whole, f"range {body} runs backwards and cron would never run it{hint}"
            )
    else:
        low = _value(spec, body, whole)
        # Vixie/Debian cron and croniter read "5/15" as "5-max/15" (cronie refuses it).
        high = spec.high if slash else low
    return set(range(low, high + 1, step))


def _parse_field(spec: CronField, text: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise _refuse(spec, text, f"an item of the list is empty; use {_ITEM_HELP}")
        values |= _parse_item(spec, item, text)
    return frozenset(values)


@functools.lru_cache(maxsize=4096)  # pure, and sync parses each task's schedule twice
def parse_cron(expression: str) -> CronExpr:
    """Given a 5-field cron expression or an @keyword, return its parsed form, with cronie's
    flags (@hourly is a wildcard job, as in cronie's entry.c).

    Raises InvalidInput naming the bad field, its text and what is allowed.
    """
    keyword = expression.strip().lower()
    text = KEYWORDS.get(keyword, expression.strip())
    if text.startswith("@"):
        raise InvalidInput(
            "schedule",
            expression,
            "unknown @keyword; use @reboot, @hourly, @daily, "
            "@midnight, @weekly, @monthly, @yearly or @annually",
        )
    parts = text.split()
    if len(parts) != 5:
        raise InvalidInput(
            "schedule",
            expression,
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
            f"this has {len(parts)}",
        )
    parsed = [_parse_field(spec, part) for spec, part in zip(FIELDS, parts, strict=True)]
    weekdays = frozenset(d % 7 for d in parsed[4])  # Sunday is 0 or 7
    return CronExpr(
        parsed[0],
        parsed[1],
        parsed[2],
        parsed[3],
        weekdays,
        dom_star=parts[2].startswith("*"),
        dow_star=parts[4].startswith("*"),
        min_star=parts[0].startswith("*"),
        hr_star=parts[1].startswith("*") or keyword == "@hourly",
    )


def compress(values: frozenset[int], low: int, high: int, width: int = 2) -> str:
    """Given a set of values, return systemd's list syntax with ranges: 1..5,10,20..22."""
    if values == frozenset(range(low, high + 1)):
        return "*"
    ordered = sorted(values)
    runs: list[tuple[int, int]] = []
    for v in ordered:
        if runs and v == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    out = []
    for a, b in runs:
        if a == b:
            out.append(f"{a:0{width}d}")
        elif b == a + 1:
            out.append(f"{a:0{width}d},{b:0{width}d}")
        else:
            out.append(f"{a:0{width}d}..{b:0{width}d}")
    return ",".join(out)


def _weekdays(values: frozenset[int]) -> str:
    return ",".join(SYSTEMD_DAYS[d] for d in sorted(values))


DatePiece = tuple[str, frozenset[int], frozenset[int]]  # years text, months, days
ALL_DATES: DatePiece = ("*", frozenset(range(1, 13)), frozenset(range(1, 32)))


# The tz database's names of UTC (offset 0 all year, no clock change). systemd evaluates
# "UTC" in a calendar spec natively, but any other zone name by switching TZ and re-reading
# the zone file for each computation: 1,000 timers started in 0.96 s with "UTC" and in
# 3.17 s with "Etc/UTC" (Debian's default zone name) in a private systemd 252.
UTC_NAMES = frozenset(
    {"UTC", "Etc/UTC", "UCT", "Etc/UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu",
     "GMT", "Etc/GMT", "GMT0", "Etc/GMT0", "GMT+0", "Etc/GMT+0", "GMT-0", "Etc/GMT-0",
     "Greenwich", "Etc/Greenwich"}
)  # fmt: skip


def systemd_zone(timezone: str) -> str:
    """Given an IANA timezone, return the name to write in OnCalendar= (UTC's names as UTC)."""
    return "UTC" if timezone in UTC_NAMES else timezone


def to_oncalendar(
    cron: CronExpr, timezone: str, pieces: tuple[DatePiece, ...] = (ALL_DATES,)
) -> list[str]:
    """Given a parsed cron expression and an IANA timezone, return equivalent OnCalendar lines.

    One systemd OnCalendar line ANDs weekday and date, so when both day fields are restricted
    (cron ORs them) the result is two lines whose union is exactly cron's set of matches.
    `pieces` limit the dates (years, months, days): the union of the pieces is the set of dates
    the lines cover (clockchange.py leaves out the dates of some clock changes).
    """
    time = f"{compress(cron.hours, 0, 23)}:{compress(cron.minutes, 0, 59)}:00"
    suffix = f" {systemd_zone(timezone)}"
    both = not cron.dom_star and not cron.dow_star
    dow = "" if len(cron.weekdays) == 7 and not both else _weekdays(cron.weekdays) + " "
    lines: list[str] = []
    for years, months, days in pieces:
        month_set = months & cron.months
        if not month_set:
            continue
        month = compress(month_set, 1, 12)
        # Both day fields restricted: a weekday line and a date line (cron ORs them).
        day_lines = [(dow, days), ("", days & cron.days)] if both else [(dow, days & cron.days)]
        for prefix, day_set in day_lines:
            if day_set:
                lines.append(f"{prefix}{years}-{month}-{compress(day_set, 1, 31)} {time}{suffix}")
    return lines


_MONTH_DAYS = {
    1: 31,
    2: 29,
    3: 31,
    4: 30,
    5: 31,
    6: 30,
    7: 31,
    8: 31,
    9: 30,
    10: 31,
    11: 30,
    12: 31,
}


def can_fire(cron: CronExpr) -> bool:
    """Return False for expressions like '0 0 31 2 *' whose date can never exist."""
    if not cron.dom_star and not cron.dow_star:
        return True  # weekdays alone always match some day
    return any(d <= _MONTH_DAYS[m] for m in cron.months for d in cron.days)


def matches_local(cron: CronExpr, local: dt.datetime) -> bool:
    if local.minute not in cron.minutes or local.hour not in cron.hours:
        return False
    if local.month not in cron.months:
        return False
    dom = local.day in cron.days
    dow = (local.isoweekday() % 7) in cron.weekdays
    return (dom or dow) if not (cron.dom_star or cron.dow_star) else (dom and dow)
