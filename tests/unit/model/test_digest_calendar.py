"""The digest's days (model/digest.py): local days, 23 or 25 hours across DST, and which
digest is due when."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from smartcron.model.config import load
from smartcron.model.digest import DAILY, WEEKLY, daily, due_periods, parse_clock, weekly
from smartcron.ops.digest import due_now

BERLIN = "Europe/Berlin"
AT = dt.time(7, 30)
UTC = dt.UTC


def test_digest_day_is_the_local_day_in_utc() -> None:
    period = daily(dt.date(2026, 12, 1), BERLIN, AT)
    assert period.start == dt.datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert period.end == dt.datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    assert period.due == dt.datetime(2026, 12, 2, 6, 30, tzinfo=UTC)
    assert period.hours() == 24


@pytest.mark.parametrize(
    ("day", "hours"),
    [(dt.date(2026, 3, 29), 23), (dt.date(2026, 10, 25), 25), (dt.date(2026, 3, 28), 24)],
)
def test_digest_day_has_23_or_25_hours_when_the_clocks_change(day: dt.date, hours: int) -> None:
    assert daily(day, BERLIN, AT).hours() == hours


def test_digest_week_spans_seven_local_days() -> None:
    week = weekly(dt.date(2026, 3, 29), BERLIN, AT)  # Mon 23 .. Sun 29 March, spring forward
    assert week.first == dt.date(2026, 3, 23) and week.kind == WEEKLY
    assert week.hours() == 7 * 24 - 1


@time_machine.travel(dt.datetime(2026, 3, 30, 5, 29, tzinfo=UTC), tick=False)
def test_digest_due_before_its_time_is_the_day_before_yesterday() -> None:
    # 07:29 CEST on Monday 30 March: Sunday's (23-hour) digest is not due yet.
    (period,) = due_periods(dt.datetime.now(UTC), BERLIN, AT)
    assert period.first == dt.date(2026, 3, 28) and period.kind == DAILY


@time_machine.travel(dt.datetime(2026, 3, 30, 5, 30, tzinfo=UTC), tick=False)
def test_digest_due_at_its_local_time_after_a_dst_day() -> None:
    (period,) = due_periods(dt.datetime.now(UTC), BERLIN, AT)
    assert period.first == dt.date(2026, 3, 29)
    assert period.start == dt.datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert period.end == dt.datetime(2026, 3, 29, 22, 0, tzinfo=UTC)


@time_machine.travel(dt.datetime(2026, 10, 26, 6, 30, tzinfo=UTC), tick=False)
def test_digest_due_after_the_25_hour_day_covers_all_of_it() -> None:
    # 07:30 CET on Monday 26 October: the day of the autumn change is due, 25 hours long.
    (period,) = due_periods(dt.datetime.now(UTC), BERLIN, AT)
    assert period.first == dt.date(2026, 10, 25) and period.hours() == 25


@time_machine.travel(dt.datetime(2026, 12, 7, 6, 31, tzinfo=UTC), tick=False)
def test_digest_weekly_due_on_its_weekday_covers_the_week_before() -> None:
    day, week = due_periods(dt.datetime.now(UTC), BERLIN, AT, "Mon")  # Monday 7 December
    assert day.first == dt.date(2026, 12, 6)
    assert (week.first, week.last) == (dt.date(2026, 11, 30), dt.date(2026, 12, 6))


@time_machine.travel(dt.datetime(2026, 12, 7, 6, 29, tzinfo=UTC), tick=False)
def test_digest_weekly_before_its_time_is_last_weeks() -> None:
    _day, week = due_periods(dt.datetime.now(UTC), BERLIN, AT, "Mon")
    assert (week.first, week.last) == (dt.date(2026, 11, 23), dt.date(2026, 11, 29))


def test_digest_due_now_is_nothing_without_digest_time() -> None:
    config = load(environ={"SMARTCRON_CONFIG": "/dev/null"})
    assert due_now(config, dt.datetime(2026, 12, 7, tzinfo=UTC)) == []


def test_digest_due_now_uses_the_settings() -> None:
    config = load(
        environ={
            "SMARTCRON_CONFIG": "/dev/null",
            "SMARTCRON_DIGEST_TIME": "07:30",
            "SMARTCRON_DIGEST_TIMEZONE": "Pacific/Auckland",
        }
    )
    (period,) = due_now(config, dt.datetime(2026, 12, 6, 18, 31, tzinfo=UTC))  # 07:31 NZDT
    assert period.first == dt.date(2026, 12, 6) and period.zone == "Pacific/Auckland"


@pytest.mark.parametrize("value", ["7:30", "24:00", "07:60", "0730", "07:30:00", " 07:30", "0²:30"])
def test_digest_clock_refuses_what_is_not_hh_mm(value: str) -> None:
    with pytest.raises(ValueError):
        parse_clock(value)
