"""Growing retry waits: the plan rendered into the unit and the helper's sleep. Pure."""

from __future__ import annotations

import pytest

from smartcron.errors import InvalidInput
from smartcron.model.validate import validate_task
from smartcron.systemd import backoff, units


def _task(**fields: object):  # type: ignore[no-untyped-def]
    base = {"name": "job", "command": ["/bin/true"], "schedule": "@daily", "timezone": "UTC"}
    return validate_task({**base, **fields}, check_host=False)


def test_retry_waits_grow_by_the_factor_up_to_the_cap() -> None:
    task = _task(retries=5, retry_delay="30s", retry_backoff=2, retry_max_delay="2m")
    assert task.retry_waits() == (30, 60, 120, 120, 120)


def test_retry_waits_stay_constant_by_default() -> None:
    assert _task(retries=3, retry_delay="10s").retry_waits() == (10, 10, 10)
    assert _task().retry_waits() == ()


def test_retry_backoff_refuses_out_of_range_with_field_name() -> None:
    for bad in (0.5, "ten", 11, True, float("nan")):
        with pytest.raises(InvalidInput) as info:
            _task(retries=1, retry_backoff=bad)
        assert info.value.field == "retry_backoff"
        assert "from 1 to 10" in str(info.value)


def test_retry_plan_puts_the_shortest_wait_in_restartsec() -> None:
    task = _task(retries=3, retry_delay="10s", retry_backoff=1.5)
    assert task.retry_waits() == (10, 15, 22)
    assert backoff.retry_plan(task) == (10, (0, 5, 12))
    # A cap below retry_delay: every wait is the cap, no helper needed.
    assert backoff.retry_plan(_task(retries=2, retry_delay="1m", retry_max_delay="20s")) == (
        20,
        (),
    )


def test_unit_without_backoff_is_rendered_as_before() -> None:
    text = units.render(_task(retries=2, retry_delay="5s")).files["smartcron-job.service"]
    assert "RestartSec=5s" in text and "retry-wait" not in text
    assert "TimeoutStopSec=30s" in text


def test_unit_with_backoff_waits_in_execstoppost_within_its_stop_timeout() -> None:
    task = _task(retries=3, retry_delay="10s", retry_backoff=2)
    text = units.render(task).files["smartcron-job.service"]
    assert "RestartSec=10s" in text
    assert "retry-wait %n 0 10 30" in text
    assert "ExecStopPost=-+" in text
    assert "TimeoutStopSec=60s" in text  # 30s to stop plus the longest extra wait
    assert f"StartLimitIntervalSec={units.start_limit_interval(task)}s" in text
    assert units.start_limit_interval(task) > 4 * 3600 + 70


def test_wait_for_retry_sleeps_the_coming_retrys_extra_from_the_exit() -> None:
    slept: list[float] = []
    props = {"NRestarts": "1", "ExecMainExitTimestampMonotonic": str(100_000_000)}
    waited = backoff.wait_for_retry(
        "u.service",
        (0, 10, 30),
        "exit-code",
        show=lambda _unit: props,
        sleep=slept.append,
        monotonic_us=lambda: 102_000_000,  # the helper starts 2 s after the exit
    )
    assert waited == slept[0] == 8.0


def test_wait_for_retry_does_nothing_after_success_or_the_last_attempt() -> None:
    def show(_unit: str) -> dict[str, str]:
        return {"NRestarts": "3", "ExecMainExitTimestampMonotonic": "1"}

    assert backoff.wait_for_retry("u", (0, 10, 30), "success", show=show) == 0.0
    assert backoff.wait_for_retry("u", (0, 10, 30), "exit-code", show=show) == 0.0
