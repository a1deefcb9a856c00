"""Cron expressions and @keywords: parsing (with errors that name the field), cron's day rule,
and the translation into systemd OnCalendar lines. Pure functions."""

from __future__ import annotations

import datetime as dt
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
_CRON_CHARS = re.compile(r"^[0-9A-Za-z*,/\-]+$")


@dataclass(frozen=True)
class CronExpr:
    """A parsed 5-field cron expression.

    `dom_star`/`dow_star` record whether the field text starts with `*`, which is what decides
    cron's day rule: when neither day field starts with `*`, a day matches if EITHER matches.
    """

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    dom_star: bool
    dow_star: bool


def kind_of(expression: str) -> str:
    """Given a schedule, return "reboot", "cron" (incl. @keywords) or "oncalendar"."""
    text = expression.strip()
    if text.lower() == REBOOT:
        return "reboot"
    if text.startswith("@") or looks_like_cron(text):
        return "cron"
    return "oncalendar"


def looks_like_cron(text: str) -> bool:
    """Return True for five whitespace-separated fields of cron characters (no ':' or '.')."""
    parts = text.split()
    return len(parts) == 5 and all(_CRON_CHARS.match(p) for p in parts)


def _value(spec: CronField, token: str, whole: str) -> int:
    lowered = token.lower()
    if spec.names and lowered in spec.names:
        return spec.names.index(lowered) + spec.names_start
    if not token.isdigit():
        allowed = f"numbers {spec.low}-{spec.high}"
        if spec.names:
            allowed += f" or names {spec.names[0]}-{spec.names[-1]}"
        raise InvalidInput(f"schedule {spec.name} field", whole, allowed)
    number = int(token)
    if not spec.low <= number <= spec.high:
        raise InvalidInput(
            f"schedule {spec.name} field", whole, f"{number} is out of range {spec.low}-{spec.high}"
        )
    return number


def _parse_item(spec: CronField, item: str, whole: str) -> set[int]:
    body, _, step_text = item.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            raise InvalidInput(
                f"schedule {spec.name} field", whole, "a step after '/' must be a positive number"
            )
        step = int(step_text)
    if body == "*":
        low, high = spec.low, spec.high
    elif "-" in body:
        first, _, last = body.partition("-")
        low, high = _value(spec, first, whole), _value(spec, last, whole)
        if low > high:
            raise InvalidInput(
                f"schedule {spec.name} field", whole, f"range {body} runs backwards; write low-high"
            )
    else:
        low = _value(spec, body, whole)
        # Vixie cron reads "5/15" as "5-max/15".
        high = spec.high if step_text else low
    return set(range(low, high + 1, step))


def _parse_field(spec: CronField, text: str) -> frozenset[int]:
    values: set[int] = set()
    items = text.split(",")
    if len(items) > 1 and any(item.startswith("*") for item in items):
        # Cron implementations disagree on what such a list means for the day rule.
        raise InvalidInput(
            f"schedule {spec.name} field",
            text,
            "'*' cannot be part of a list; use '*' or '*/N' alone, or list values",
        )
    for item in items:
        if not item:
            raise InvalidInput(f"schedule {spec.name} field", text, "empty item in a list")
        values |= _parse_item(spec, item, text)
    return frozenset(values)


def parse_cron(expression: str) -> CronExpr:
    """Given a 5-field cron expression or an @keyword, return its parsed form.

    Raises InvalidInput naming the bad field.
    """
    text = KEYWORDS.get(expression.strip().lower(), expression.strip())
    if text.startswith("@"):
        raise InvalidInput("schedule", expression, SCHEDULE_HELP)
    parts = text.split()
    if len(parts) != 5:
        raise InvalidInput(
            "schedule", expression, f"a cron expression has 5 fields, this has {len(parts)}"
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
    )


def _compress(values: frozenset[int], low: int, high: int, width: int = 2) -> str:
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


def to_oncalendar(cron: CronExpr, timezone: str) -> list[str]:
    """Given a parsed cron expression and an IANA timezone, return equivalent OnCalendar lines.

    One systemd OnCalendar line ANDs weekday and date, so when both day fields are restricted
    (cron ORs them) the result is two lines whose union is exactly cron's set of matches.
    """
    time = f"{_compress(cron.hours, 0, 23)}:{_compress(cron.minutes, 0, 59)}:00"
    month = _compress(cron.months, 1, 12)
    day = _compress(cron.days, 1, 31)
    all_days = len(cron.weekdays) == 7
    suffix = f" {timezone}"
    if not cron.dom_star and not cron.dow_star:
        return [
            f"{_weekdays(cron.weekdays)} *-{month}-* {time}{suffix}",
            f"*-{month}-{day} {time}{suffix}",
        ]
    dow = "" if all_days else _weekdays(cron.weekdays) + " "
    return [f"{dow}*-{month}-{day} {time}{suffix}"]


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
