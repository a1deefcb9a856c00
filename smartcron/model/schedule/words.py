"""Schedules in plain words, for people ("At 06:30, Monday through Friday")."""

from __future__ import annotations

from smartcron.model.schedule.cron import KEYWORDS, kind_of


def describe(expression: str) -> str:
    """Return the schedule in plain words, e.g. "Every 5 minutes".

    Pure: an OnCalendar expression is shown as systemd's own line (it is stored normalized),
    without asking systemd again on every page view.
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
        return str(get_description(text, options))
    except (FormatException, MissingFieldException, WrongArgumentException, ValueError):
        # cronie accepts some forms the describer does not know; the schedule is still valid.
        return f"cron: {text}"
