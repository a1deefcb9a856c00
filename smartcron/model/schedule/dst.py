"""DST warnings: where a schedule meets a clock change in its timezone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from smartcron.model.schedule.cron import kind_of, matches_local, parse_cron


def transitions(zone: ZoneInfo, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
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
    for instant in transitions(zone, base, base + dt.timedelta(days=366)):
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
                if matches_local(cron, first + dt.timedelta(minutes=m))
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
                if matches_local(cron, first + dt.timedelta(minutes=m))
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
