"""In-process OnCalendar evaluation (pure), the way systemd computes a timer's elapses.

The system tier proves equality with the real `systemd-analyze`; these pin the rules down with
known answers, and move the clock with time-machine where "now" matters.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from click.testing import CliRunner

from smartcron.cli import cli
from smartcron.model import schedule
from smartcron.model.schedule import calendar

UTC = dt.UTC


def _next(expression: str, base: dt.datetime, count: int = 3) -> list[str]:
    spec = calendar.parse(expression)
    return [f"{t:%Y-%m-%d %H:%M:%S}" for t in calendar.next_elapses([spec], base, count)]


def test_calendar_weekdays_and_times() -> None:
    base = dt.datetime(2026, 11, 27, 12, tzinfo=UTC)  # a Friday
    assert _next("Mon..Fri *-*-* 09:00:00 UTC", base) == [
        "2026-11-30 09:00:00",
        "2026-12-01 09:00:00",
        "2026-12-02 09:00:00",
    ]


def test_calendar_end_of_month_counts_back_from_the_last_day() -> None:
    base = dt.datetime(2027, 1, 30, tzinfo=UTC)
    assert _next("*-*~01 23:00:00 UTC", base) == [
        "2027-01-31 23:00:00",
        "2027-02-28 23:00:00",
        "2027-03-31 23:00:00",
    ]
    assert _next("*-02~03/1 00:00:00 UTC", dt.datetime(2028, 1, 1, tzinfo=UTC)) == [
        "2028-02-27 00:00:00",  # 2028 is a leap year: the last three days are 27-29
        "2028-02-28 00:00:00",
        "2028-02-29 00:00:00",
    ]


def test_calendar_repetitions_and_seconds() -> None:
    base = dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert _next("*-*-* *:00/20:30 UTC", base) == [
        "2026-01-01 00:00:30",
        "2026-01-01 00:20:30",
        "2026-01-01 00:40:30",
    ]
    assert _next("2027/2-06-01 00:00:00 UTC", base) == [
        "2027-06-01 00:00:00",
        "2029-06-01 00:00:00",
        "2031-06-01 00:00:00",
    ]


def test_calendar_skips_a_time_that_does_not_exist() -> None:
    # 2027-03-14 02:30 does not exist in New York (02:00 -> 03:00): a local-time line alone
    # skips that day, as systemd does.
    spec = calendar.parse("*-*-* 02:30:00 America/New_York")
    base = dt.datetime(2027, 3, 13, 12, tzinfo=UTC)
    zone = ZoneInfo("America/New_York")
    runs = calendar.next_elapses([spec], base, 2)
    assert [f"{t.astimezone(zone):%m-%d %H:%M}" for t in runs] == ["03-15 02:30", "03-16 02:30"]


def test_cron_schedule_runs_a_fixed_time_of_the_gap_right_after_the_jump() -> None:
    # cron runs it at 03:00, right after the jump: the timer has a UTC line for that instant.
    base = dt.datetime(2027, 3, 13, 12, tzinfo=UTC)
    zone = ZoneInfo("America/New_York")
    runs = schedule.next_runs("30 2 * * *", "America/New_York", base, 2, dt.date(2026, 12, 3))
    assert [f"{t.astimezone(zone):%m-%d %H:%M}" for t in runs] == ["03-14 03:00", "03-15 02:30"]


def test_calendar_runs_a_repeated_hour_once_at_its_first_pass() -> None:
    spec = calendar.parse("*-*-* *:00/30:00 America/New_York")
    base = dt.datetime(2027, 11, 7, 5, 10, tzinfo=UTC)  # 01:10 EDT, the first pass
    zone = ZoneInfo("America/New_York")
    runs = calendar.next_elapses([spec], base, 3)
    assert [f"{t.astimezone(zone):%H:%M%z}" for t in runs] == [
        "01:30-0400",
        "02:00-0500",  # a local-time line gives the second pass of 01:00-01:59 (EST) no runs
        "02:30-0500",
    ]


def test_calendar_goes_on_in_the_second_pass_from_a_base_inside_it() -> None:
    # As systemd (glibc's mktime keeps the pass of its last result): measured with
    # systemd-analyze --base-time, and proven in tests/system/model/test_schedule_dst.py.
    spec = calendar.parse("*-*-* 01:20:00 America/New_York")
    base = dt.datetime(2027, 11, 7, 6, 5, tzinfo=UTC)  # 01:05 EST, the second pass
    assert calendar.next_elapses([spec], base, 1) == [dt.datetime(2027, 11, 7, 6, 20, tzinfo=UTC)]


def test_cron_schedule_runs_a_wildcard_job_in_both_passes() -> None:
    base = dt.datetime(2027, 11, 7, 5, 10, tzinfo=UTC)
    zone = ZoneInfo("America/New_York")
    runs = schedule.next_runs("*/30 * * * *", "America/New_York", base, 4, dt.date(2026, 12, 3))
    assert [f"{t.astimezone(zone):%H:%M%z}" for t in runs] == [
        "01:30-0400",
        "01:00-0500",
        "01:30-0500",
        "02:00-0500",
    ]


def test_calendar_unsupported_forms_are_said() -> None:
    with pytest.raises(calendar.Unsupported):
        calendar.parse("daily")  # a shorthand: normalized by systemd-analyze first
    with pytest.raises(calendar.Unsupported):
        calendar.parse("*-*-* 09:00:00")  # no timezone: it would depend on the host


def test_previous_run_is_the_latest_elapse_at_or_before() -> None:
    before = dt.datetime(2026, 11, 27, 12, 7, tzinfo=UTC)
    assert schedule.previous_run("*/5 * * * *", "UTC", before) == dt.datetime(
        2026, 11, 27, 12, 5, tzinfo=UTC
    )
    assert schedule.previous_run("0 0 1 1 *", "UTC", before) == dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert schedule.previous_run("@reboot", "UTC", before) is None


@time_machine.travel(dt.datetime(2026, 3, 28, 23, 50, tzinfo=UTC), tick=False)
def test_schedule_explain_lists_the_runs_after_now() -> None:
    result = CliRunner().invoke(
        cli, ["schedule", "explain", "0 * * * *", "--timezone", "Europe/London", "--json"]
    )
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.output)
    # The clocks go forward at 01:00 GMT on 2026-03-29: after 00:00 GMT comes 02:00 BST.
    assert data["next"][:3] == [
        "2026-03-29T00:00:00+00:00",
        "2026-03-29T02:00:00+01:00",
        "2026-03-29T03:00:00+01:00",
    ]
