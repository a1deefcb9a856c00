"""DST notes: where a schedule meets a clock change in its timezone, say what will happen.

The timer does what cron does (clockchange.py), so a note never claims a difference from cron;
it says what a reader of the schedule may not expect: a run at another time than written (a
fixed time inside a gap runs right after the jump), runs that do not happen (a wildcard job's
minutes inside a gap), runs that happen twice (a wildcard job in a repeated hour), or a fixed
time that a repeated hour runs once. And the end of the horizon: beyond it the timer has no
corrections until `smartcron sync` renews them.
"""

from __future__ import annotations

import datetime as dt

from smartcron.model.schedule import clockchange
from smartcron.model.schedule.cron import CronExpr, kind_of, matches_local, parse_cron


def transitions(zone: object, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Return the UTC instants in [start, end) at which the zone's (a name or a ZoneInfo)
    UTC offset changes."""
    found = clockchange.changes(str(zone), start.year, end.year)
    return [c.instant for c in found if start <= c.instant < end]


def _note(cron: CronExpr, change: clockchange.Change, timezone: str) -> str | None:
    start, end = change.window
    minutes = int((end - start) / clockchange.MINUTE)
    hits = [start + k * clockchange.MINUTE for k in range(minutes)]
    hits = [w for w in hits if matches_local(cron, w)]
    if not hits:
        return None
    times = ", ".join(f"{h:%H:%M}" for h in hits[:3]) + (" ..." if len(hits) > 3 else "")
    day = f"{start:%Y-%m-%d}"
    if change.shift > dt.timedelta():
        head = (
            f"On {day} the clocks in {timezone} jump from {start:%H:%M} to {end:%H:%M}: "
            f"{times} do not exist that day"
        )
        if cron.wildcard:
            return f"{head}; like cron, the task does not run for them."
        return f"{head}; like cron, the task runs once right after the jump, at {end:%H:%M}."
    head = (
        f"On {day} the clocks in {timezone} go back from {end:%H:%M} to {start:%H:%M}, so "
        f"{start:%H:%M}-{end - clockchange.MINUTE:%H:%M} happens twice"
    )
    if cron.wildcard:
        return (
            f"{head}; like cron, the task runs in both passes ({len(hits)} extra run(s): {times})."
        )
    return f"{head}; like cron, the task runs {times} once, in the first pass."


def dst_warnings(expression: str, timezone: str, base: dt.datetime) -> list[str]:
    """Return a note for each clock change in the year after `base` that meets a cron
    schedule, and one when that year reaches past the corrections' horizon."""
    if kind_of(expression) != "cron":
        return []
    cron = parse_cron(expression)
    end = base + dt.timedelta(days=366)
    notes = []
    for change in clockchange.changes(timezone, base.year, end.year):
        if base <= change.instant < end:
            note = _note(cron, change, timezone)
            if note:
                notes.append(note)
    last = clockchange.horizon_years(dt.datetime.now(dt.UTC).date())[1]
    if notes and end.year > last:
        notes.append(
            f"The timer carries these corrections for clock changes up to {last}-12-31; the "
            "daily maintenance run's `smartcron sync` renews them every year."
        )
    return notes
