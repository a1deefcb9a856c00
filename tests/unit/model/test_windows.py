"""Maintenance window maths (pure): weekly and dated windows in a zone, across DST changes,
and the validation of their fields. Where "now" matters the clock is moved with time-machine."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from smartcron.errors import InvalidInput
from smartcron.model.task import Task
from smartcron.model.windows import (
    HOLD_ALERTS,
    SKIP,
    Window,
    active_windows,
    check_window,
    covered_text,
)

UTC = dt.UTC


def _window(when: str, zone: str = "Europe/Berlin", **more: object) -> Window:
    return check_window({"name": "maint", "when": when, "timezone": zone, "tasks": ["*"],
                         "actions": ["skip"], **more})  # fmt: skip


def _utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def test_windows_weekly_on_spring_forward_keeps_wall_times_and_lasts_an_hour_less() -> None:
    # Berlin, Sunday 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
    span = _window("Sun 02:00-06:00").occurrence_at(_utc(2026, 3, 29, 2))
    assert span is not None
    assert (span.start, span.end) == (_utc(2026, 3, 29, 1), _utc(2026, 3, 29, 4))
    assert span.end - span.start == dt.timedelta(hours=3)


def test_windows_weekly_on_fall_back_lasts_an_hour_more() -> None:
    # Berlin, Sunday 2026-10-25: 03:00 CEST goes back to 02:00 CET (01:00 UTC).
    window = _window("Sun 02:00-06:00")
    span = window.occurrence_at(_utc(2026, 10, 25, 4, 30))
    assert span is not None
    assert (span.start, span.end) == (_utc(2026, 10, 25, 0), _utc(2026, 10, 25, 5))
    assert window.occurrence_at(_utc(2026, 10, 25, 5)) is None  # the end is not inside


def test_windows_time_shown_twice_means_its_first_occurrence() -> None:
    span = _window("Sun 01:00-02:30").occurrence_at(_utc(2026, 10, 25, 0))
    assert span is not None and span.end == _utc(2026, 10, 25, 0, 30)  # 02:30 CEST


def test_windows_time_the_clock_skips_starts_at_the_jump() -> None:
    span = _window("Sun 02:30-04:00").occurrence_at(_utc(2026, 3, 29, 1, 10))
    assert span is not None and span.start == _utc(2026, 3, 29, 1)  # 03:00 CEST, the jump


def test_windows_end_before_start_crosses_midnight() -> None:
    window = _window("Sat 22:00-02:00", "UTC")
    assert window.when == "Sat 22:00-02:00"
    assert window.occurrence_at(_utc(2026, 12, 6, 1, 59)) is not None  # Sunday 01:59
    assert window.occurrence_at(_utc(2026, 12, 6, 2)) is None
    assert window.occurrence_at(_utc(2026, 12, 5, 21, 59)) is None  # Saturday before it


def test_windows_day_ranges_wrap_and_are_canonical() -> None:
    window = _window("fri-mon 00:00-24:00", "UTC")
    assert window.when == "Mon,Fri,Sat,Sun 00:00-24:00"
    assert window.occurrence_at(_utc(2026, 12, 7, 23, 59)) is not None  # Monday
    assert window.occurrence_at(_utc(2026, 12, 8, 12)) is None  # Tuesday


def test_windows_dated_across_a_dst_change_in_new_york() -> None:
    window = _window("2026-11-01  00:00 .. 2026-11-01 04:00", "America/New_York")
    assert window.when == "2026-11-01 00:00 .. 2026-11-01 04:00"
    span = window.occurrence_at(_utc(2026, 11, 1, 6))
    assert span is not None  # 00:00 EDT (04:00 UTC) to 04:00 EST (09:00 UTC): five hours
    assert (span.start, span.end) == (_utc(2026, 11, 1, 4), _utc(2026, 11, 1, 9))
    assert window.next_start(_utc(2026, 10, 1)) == _utc(2026, 11, 1, 4)
    assert window.next_start(_utc(2026, 11, 2)) is None


def test_windows_next_start_of_a_weekly_window_is_the_coming_day() -> None:
    window = _window("Sun 02:00-06:00")
    assert window.next_start(_utc(2026, 3, 29, 2)) == _utc(2026, 4, 5, 0)  # 02:00 CEST


@time_machine.travel(dt.datetime(2026, 3, 29, 0, 59, 30, tzinfo=UTC), tick=False)
def test_windows_active_now_follows_the_clock_across_the_spring_change() -> None:
    task = Task(name="backup", category="db")
    windows = [_window("Sun 02:00-06:00", categories=["db"], tasks=[], actions=["hold_alerts"])]
    assert active_windows(windows, task, HOLD_ALERTS) == []  # 01:59:30 CET: not yet
    with time_machine.travel(dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC), tick=False):
        [(window, span)] = active_windows(windows, task, HOLD_ALERTS)
        assert "until 2026-03-29 06:00 CEST" in covered_text(window, span)
        assert active_windows(windows, task, SKIP) == []  # it only holds alerts
        assert active_windows(windows, Task(name="other"), HOLD_ALERTS) == []


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("when", "Sun 02:00", "a weekly window 'DAYS HH:MM-HH:MM'"),
        ("when", "Sun 25:00-26:00", "25:00 is not a time of day"),
        ("when", "Funday 02:00-03:00", "'Funday' is not a day"),
        ("when", "Sun 02:00-02:00", "the start and the end are the same time"),
        ("when", "2026-12-27 08:00 .. 2026-12-24 18:00", "must end after it starts"),
        ("when", "2026-02-30 08:00 .. 2026-03-01 18:00", "a date does not exist"),
        ("timezone", "Mars/Olympus", "IANA timezone"),
        ("actions", "sleep", "one or both of skip, hold_alerts"),
        ("tasks", "Bad Name", "a task name, or * for every task"),
        ("name", "Bad_Name", "1-64 of a-z"),
    ],
)
def test_windows_bad_values_name_the_field_and_what_is_allowed(
    field: str, value: str, words: str
) -> None:
    data = {"name": "maint", "when": "Sun 02:00-06:00", "timezone": "UTC", "tasks": ["*"],
            "actions": ["skip"]}  # fmt: skip
    data[field] = [value] if field in ("tasks", "actions") else value
    with pytest.raises(InvalidInput) as refused:
        check_window(data)
    assert refused.value.field == field and words in str(refused.value), str(refused.value)


def test_windows_must_cover_something() -> None:
    with pytest.raises(InvalidInput, match="name tasks"):
        check_window({"name": "m", "when": "Sun 02:00-03:00", "timezone": "UTC",
                      "actions": ["skip"]})  # fmt: skip
