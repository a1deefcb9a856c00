"""What started a run: the timer, a person (manual), a retry, a catch-up after downtime, or boot.

Pure: decided from the run's start, its attempt, what systemd says triggered it
(ActivationDetails: the task's timer, or nothing for a `systemctl start` by hand), the task's
schedule, and when someone last asked for a run through smartcron (`manual:<task>` state).
"""

from __future__ import annotations

import datetime as dt

from smartcron.model import schedule
from smartcron.model.task import Task
from smartcron.watchdog.events import RunEvent

MANUAL_WINDOW = (dt.timedelta(seconds=-2), dt.timedelta(seconds=60))
CATCH_UP_AFTER = dt.timedelta(minutes=2)  # a start this far from any scheduled time


def trigger_of(event: RunEvent, task: Task | None, manual_at: dt.datetime | None) -> str:
    """Given a run and what is known about it, return timer, manual, retry, catch-up or boot."""
    if event.attempt > 1:
        return "retry"
    started = event.started_at
    if (
        manual_at is not None
        and started is not None
        and MANUAL_WINDOW[0] <= started - manual_at <= MANUAL_WINDOW[1]
    ):
        return "manual"
    if task is not None and task.after and event.trigger_unit == "":
        # Started by OnSuccess= of its predecessor's service (a chain, docs/chains.md).
        return "chain"
    if event.trigger_unit == "":
        # systemd says nothing triggered it: someone started it by hand (systemctl start).
        return "manual"
    if task is not None and task.schedule == schedule.REBOOT:
        return "boot"
    if task is not None and task.schedule and started is not None and task.catch_up:
        # Is there a scheduled time within CATCH_UP_AFTER before the start? One elapse after
        # (start - CATCH_UP_AFTER) answers it; schedule.previous_run would search back for
        # the last one, which costs tens of ms for a sparse schedule (@yearly) on every run.
        since = started - CATCH_UP_AFTER - dt.timedelta(microseconds=1)
        near = schedule.next_runs(task.schedule, task.timezone, since, 1)
        if not near or near[0] > started:
            return "catch-up"  # not near any scheduled time: Persistent= caught up
    return "timer"
