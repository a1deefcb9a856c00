"""What started a run (pure): timer, manual, retry, catch-up or boot."""

from __future__ import annotations

import datetime as dt

from smartcron.model.validate import validate_task
from smartcron.watchdog.events import RunEvent
from smartcron.watchdog.triggers import trigger_of

AT = dt.datetime(2026, 11, 27, 12, 5, 0, 300_000, tzinfo=dt.UTC)


def _task(schedule: str = "*/5 * * * *", **extra: object):  # type: ignore[no-untyped-def]
    data = {"name": "t", "command": ["/bin/true"], "schedule": schedule, "timezone": "UTC"}
    return validate_task({**data, **extra}, check_host=False)


def _run(started: dt.datetime = AT, attempt: int = 1) -> RunEvent:
    return RunEvent("started", "t", "f" * 32, attempt=attempt, started_at=started)


def test_trigger_on_schedule_is_the_timer() -> None:
    assert trigger_of(_run(), _task(), None) == "timer"


def test_trigger_right_after_run_now_is_manual() -> None:
    asked = AT - dt.timedelta(seconds=1)
    assert trigger_of(_run(AT + dt.timedelta(seconds=30)), _task(), asked) == "manual"
    # A request long before the start was for an earlier run.
    assert trigger_of(_run(), _task(), AT - dt.timedelta(hours=1)) == "timer"


def test_trigger_of_a_second_attempt_is_a_retry() -> None:
    assert trigger_of(_run(attempt=2), _task(), AT) == "retry"


def test_trigger_far_from_any_scheduled_time_is_a_catch_up() -> None:
    late = AT + dt.timedelta(minutes=3, seconds=30)  # 12:08:30, the next is 12:10
    assert trigger_of(_run(late), _task(), None) == "catch-up"
    assert trigger_of(_run(late), _task(catch_up=False), None) == "timer"


def test_trigger_of_a_reboot_task_is_boot() -> None:
    assert trigger_of(_run(), _task("@reboot"), None) == "boot"


def test_trigger_uses_the_tasks_timezone() -> None:
    # 06:30 in Auckland (UTC+13 in November) is 17:30 UTC the day before.
    started = dt.datetime(2026, 11, 26, 17, 30, 1, tzinfo=dt.UTC)
    task = _task("30 6 * * *", timezone="Pacific/Auckland")
    assert trigger_of(_run(started), task, None) == "timer"


def test_trigger_when_systemd_says_nothing_triggered_it_is_manual() -> None:
    # ActivationDetails without a trigger unit: `systemctl start` by hand, far from schedule.
    late = AT + dt.timedelta(minutes=3, seconds=30)
    by_hand = RunEvent("started", "t", "f" * 32, started_at=late, trigger_unit="")
    assert trigger_of(by_hand, _task(), None) == "manual"
    by_timer = RunEvent("started", "t", "f" * 32, started_at=AT, trigger_unit="smartcron-t.timer")
    assert trigger_of(by_timer, _task(), None) == "timer"
