"""Schedules: cron expressions, @keywords and native systemd OnCalendar expressions.

Parsing and translation are pure functions. Validating a native OnCalendar expression asks the
real `systemd-analyze calendar`, because systemd is the only authority on its own grammar.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smartcron.errors import InvalidInput

if TYPE_CHECKING:  # imported lazily at run time: they slow every command's start-up
    from croniter import croniter

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


def check_oncalendar(expression: str) -> str:
    """Given a native OnCalendar expression, return systemd's normalised form.

    Asks the real `systemd-analyze calendar`; raises InvalidInput with systemd's reason.
    """
    try:
        proc = subprocess.run(
            ["systemd-analyze", "calendar", "--", expression],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
        )
    except FileNotFoundError:
        raise InvalidInput(
            "schedule",
            expression,
            "systemd-analyze is not installed, so an OnCalendar "
            "expression cannot be checked; install systemd or use a cron expression",
        ) from None
    if proc.returncode != 0:
        raise InvalidInput("schedule", expression, SCHEDULE_HELP)
    normalized = ""
    for line in proc.stdout.splitlines():
        key, _, value = line.strip().partition(": ")
        if key == "Normalized form":
            normalized = value
        if key == "Next elapse" and value == "never":
            raise InvalidInput("schedule", expression, "this OnCalendar expression never elapses")
    return normalized


def validate(expression: str) -> str:
    """Given a schedule as the user wrote it, return it trimmed, or raise InvalidInput."""
    text = " ".join(expression.split())
    if not text:
        raise InvalidInput("schedule", expression, SCHEDULE_HELP)
    kind = kind_of(text)
    if kind == "cron":
        cron = parse_cron(text)
        if not _can_fire(cron):
            raise InvalidInput("schedule", expression, "this cron expression never fires")
    elif kind == "oncalendar":
        check_oncalendar(text)
    return text.lower() if text.startswith("@") else text


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


def _can_fire(cron: CronExpr) -> bool:
    """Return False for expressions like '0 0 31 2 *' whose date can never exist."""
    if not cron.dom_star and not cron.dow_star:
        return True  # weekdays alone always match some day
    return any(d <= _MONTH_DAYS[m] for m in cron.months for d in cron.days)


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


# --- Fire times, descriptions and DST ------------------------------------------------------


def next_times(expression: str, timezone: str, base: dt.datetime, count: int) -> list[dt.datetime]:
    """Given a schedule, its timezone and an aware base time, return the next `count` runs.

    Cron expressions use croniter with cron's day-OR rule; native OnCalendar expressions (and
    @reboot, which has none) ask systemd. Results are aware datetimes in `timezone`.
    """
    zone = ZoneInfo(timezone)
    kind = kind_of(expression)
    if kind == "reboot":
        return []
    if kind == "oncalendar":
        return [
            t.astimezone(zone)
            for t in systemd_next([with_timezone(expression, timezone)], base, count)
        ]
    it = cron_iter(expression, base.astimezone(zone))
    return [it.get_next(dt.datetime) for _ in range(count)]


def cron_iter(expression: str, base: dt.datetime) -> croniter:
    """Return a croniter that follows Vixie cron exactly, starting after aware `base`.

    Two croniter quirks are corrected: `N-N` ranges (see `croniter_text`), and the day rule:
    Vixie cron ANDs day-of-month and day-of-week when either field starts with `*` (`*/2`
    included) and ORs them otherwise, while croniter ORs unless a field is exactly `*`.
    """
    from croniter import croniter

    cron = parse_cron(expression)
    return croniter(croniter_text(expression), base, day_or=not (cron.dom_star or cron.dow_star))


_SINGLE_RANGE = re.compile(r"^([0-9a-z]+)-\1(?:/\d+)?$", re.IGNORECASE)


def croniter_text(expression: str) -> str:
    """Return a cron expression croniter evaluates correctly.

    croniter 7 reads a one-value range such as `5-5` as `*` (every value), and cronsim reads
    `5-5/1` the same way; cron and our parser read both as 5. Rewriting `N-N` (with or without
    a step) to `N` avoids the bug.
    """
    text = KEYWORDS.get(expression.strip().lower(), expression.strip())
    fields = []
    for part in text.split():
        items = [_SINGLE_RANGE.sub(r"\1", item) for item in part.split(",")]
        fields.append(",".join(items))
    return " ".join(fields)


def systemd_next(lines: list[str], base: dt.datetime, count: int) -> list[dt.datetime]:
    """Return the next `count` elapses of the union of OnCalendar lines, computed by systemd."""
    stamp = base.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    proc = subprocess.run(
        [
            "systemd-analyze",
            "calendar",
            f"--iterations={count}",
            f"--base-time={stamp}",
            "--",
            *lines,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin", "SYSTEMD_COLORS": "0"},
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


def describe(expression: str) -> str:
    """Return the schedule in plain words, e.g. "Every 5 minutes"."""
    kind = kind_of(expression)
    if kind == "reboot":
        return "Once, shortly after the machine boots"
    if kind == "oncalendar":
        return f"systemd calendar: {check_oncalendar(expression)}"
    from cron_descriptor import Options, get_description

    options = Options()
    options.use_24hour_time_format = True
    options.verbose = False
    text = KEYWORDS.get(expression.strip().lower(), expression)
    return str(get_description(text, options))


def _transitions(zone: ZoneInfo, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Return the UTC instants in [start, end) at which zone's UTC offset changes."""
    found: list[dt.datetime] = []
    step = dt.timedelta(hours=6)
    t = start.astimezone(dt.UTC)
    while t < end:
        nxt = t + step
        if t.astimezone(zone).utcoffset() != nxt.astimezone(zone).utcoffset():
            low, high = t, nxt
            while high - low > dt.timedelta(minutes=1):
                mid = low + (high - low) / 2
                if mid.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = mid
                else:
                    high = mid
            found.append(high.replace(second=0, microsecond=0))
        t = nxt
    return found


def _cron_matches_local(cron: CronExpr, local: dt.datetime) -> bool:
    if local.minute not in cron.minutes or local.hour not in cron.hours:
        return False
    if local.month not in cron.months:
        return False
    dom = local.day in cron.days
    dow = (local.isoweekday() % 7) in cron.weekdays
    return (dom or dow) if not (cron.dom_star or cron.dow_star) else (dom and dow)


def dst_warnings(expression: str, timezone: str, base: dt.datetime) -> list[str]:
    """Return a warning for each DST change in the next year that affects a cron schedule.

    systemd (v252, measured) skips runs whose wall-clock time does not exist (spring forward)
    and runs only the first pass of a repeated hour (fall back). Vixie cron runs the skipped
    jobs right after the change, so these are the places where smartcron differs from cron.
    """
    if kind_of(expression) != "cron":
        return []
    cron = parse_cron(expression)
    zone = ZoneInfo(timezone)
    warnings: list[str] = []
    for instant in _transitions(zone, base, base + dt.timedelta(days=366)):
        before = (instant - dt.timedelta(minutes=1)).astimezone(zone)
        after = instant.astimezone(zone)
        shift = (after.utcoffset() or dt.timedelta()) - (before.utcoffset() or dt.timedelta())
        minutes = int(abs(shift.total_seconds()) // 60)
        if shift > dt.timedelta():
            # Spring forward: local times [before+1min, after) do not exist.
            first = (before + dt.timedelta(minutes=1)).replace(tzinfo=None)
            hit = [
                first + dt.timedelta(minutes=m)
                for m in range(minutes)
                if _cron_matches_local(cron, first + dt.timedelta(minutes=m))
            ]
            if hit:
                warnings.append(
                    f"On {first:%Y-%m-%d} the clocks in {timezone} jump from {first:%H:%M} to "
                    f"{after:%H:%M}: the run(s) at {', '.join(f'{h:%H:%M}' for h in hit[:3])} "
                    "do not exist that day and systemd skips them (cron would run them at "
                    f"{after:%H:%M}). Move the schedule out of {first:%H:%M}-{after:%H:%M} "
                    "if that run matters."
                )
        else:
            # Fall back: local times [after, after+shift) happen twice.
            first = after.replace(tzinfo=None)
            hit = [
                first + dt.timedelta(minutes=m)
                for m in range(minutes)
                if _cron_matches_local(cron, first + dt.timedelta(minutes=m))
            ]
            if hit:
                end = first + dt.timedelta(minutes=minutes)
                warnings.append(
                    f"On {first:%Y-%m-%d} the clocks in {timezone} go back from {end:%H:%M} to "
                    f"{first:%H:%M}: that hour happens twice and systemd runs the schedule only "
                    f"in the first pass ({len(hit)} run(s) such as {hit[0]:%H:%M} "
                    "are not repeated)."
                )
    return warnings
