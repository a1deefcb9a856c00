"""Schedules in plain words, for people ("At 06:30, Monday through Friday")."""

from __future__ import annotations

from functools import lru_cache

from smartcron.errors import InvalidInput
from smartcron.model.schedule.cron import KEYWORDS, kind_of, parse_cron


@lru_cache(maxsize=4096)
def describe(expression: str) -> str:
    """Return the schedule in plain words, e.g. "Every 5 minutes".

    Pure: an OnCalendar expression is shown as systemd's own line (it is stored normalized),
    without asking systemd again on every page view. Cached: cron_descriptor re-reads its
    locale file on every call (~1 ms), which `status` and the task list pay once per task.
    """
    if not expression:
        return "No schedule of its own: it runs after its predecessor succeeds"
    kind = kind_of(expression)
    if kind == "reboot":
        return "Once, shortly after the machine boots"
    if kind == "oncalendar":
        return f"systemd calendar: {expression}"
    from cron_descriptor import (
        FormatException,
        MissingFieldException,
        Options,
        WrongArgumentException,
        get_description,
    )

    options = Options()
    options.use_24hour_time_format = True
    options.verbose = False
    text = KEYWORDS.get(expression.strip().lower(), expression)
    try:
        return str(get_description(_explicit_steps(text), options))
    except (FormatException, MissingFieldException, WrongArgumentException, ValueError):
        # cronie accepts some forms the describer does not know; the schedule is still valid.
        return f"cron: {text}"


def _explicit_steps(text: str) -> str:
    """Given a cron expression, return it with stepped day, month and weekday fields written
    out as lists. The describer reads `6/1` in the weekday field as "every 1 weeks, only on
    Saturday" and `1/10` in the day field as "every 10 days"; cron means Saturday and Sunday,
    and the days 1, 11, 21 and 31. A list says exactly what runs."""
    parts = text.split()
    if len(parts) != 5 or not any("/" in p for p in parts[2:]):
        return text
    try:
        cron = parse_cron(text)
    except InvalidInput:
        return text
    for index, values in ((2, cron.days), (3, cron.months), (4, cron.weekdays)):
        if "/" in parts[index]:
            parts[index] = ",".join(str(v) for v in sorted(values))
    return " ".join(parts)
