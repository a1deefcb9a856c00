"""Reference cron evaluators for the tests: croniter and cronsim, with their known quirks
corrected, so they can judge smartcron's own schedule maths."""

from __future__ import annotations

import datetime as dt
import re

from croniter import croniter

from smartcron.model import schedule

_SINGLE_RANGE = re.compile(r"^([0-9a-z]+)-\1(?:/\d+)?$", re.IGNORECASE)


def croniter_text(expression: str) -> str:
    """Return a cron expression croniter and cronsim evaluate correctly.

    croniter 7 reads a one-value range such as `5-5` as `*` (every value), and cronsim reads
    `5-5/1` the same way; cron and smartcron read both as 5. Rewriting `N-N` (with or without
    a step) to `N` avoids the bug.
    """
    text = schedule.KEYWORDS.get(expression.strip().lower(), expression.strip())
    fields = []
    for part in text.split():
        items = [_SINGLE_RANGE.sub(r"\1", item) for item in part.split(",")]
        fields.append(",".join(items))
    return " ".join(fields)


def cron_iter(expression: str, base: dt.datetime) -> croniter:
    """Return a croniter that follows Vixie cron exactly, starting after aware `base`.

    Two croniter quirks are corrected: `N-N` ranges (see `croniter_text`), and the day rule:
    Vixie cron ANDs day-of-month and day-of-week when either field starts with `*` (`*/2`
    included) and ORs them otherwise, while croniter ORs unless a field is exactly `*`.
    """
    cron = schedule.parse_cron(expression)
    return croniter(croniter_text(expression), base, day_or=not (cron.dom_star or cron.dow_star))
