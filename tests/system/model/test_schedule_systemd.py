"""Proof that the generated OnCalendar lines fire exactly when cron would.

For generated cron expressions across several timezones, the next 50 elapses that the real
`systemd-analyze calendar` computes for our OnCalendar lines must equal croniter's (day-OR
rule) and cronsim's. The one documented exception is DST: systemd skips runs inside a
spring-forward gap and repeats nothing in a fall-back hour; instants within 3 h of a
transition are compared by the dedicated tests below instead.
"""

from __future__ import annotations

import datetime as dt
import shutil
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from smartcron.model import schedule
from smartcron.model.schedule.analyze import systemd_next
from smartcron.model.schedule.cron import can_fire, to_oncalendar
from smartcron.model.schedule.dst import transitions

from support import need
from support.cron_reference import cron_iter, croniter_text

ZONES = [
    "UTC",
    "Pacific/Auckland",
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
]
BASE = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
COUNT = 50
DST_MARGIN = dt.timedelta(hours=3)


def _field(low: int, high: int, names: list[str] | None = None) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    value = (
        number.map(str)
        if not names
        else st.one_of(number.map(str), st.integers(0, len(names) - 1).map(lambda i: names[i]))
    )
    rng = st.tuples(number, number).map(lambda ab: f"{min(ab)}-{max(ab)}")
    step = st.integers(1, max(1, (high - low) // 2))
    item = st.one_of(value, rng, st.tuples(rng, step).map(lambda rs: f"{rs[0]}/{rs[1]}"))
    lists = st.lists(item, min_size=1, max_size=3).map(",".join)
    # '*' and '*/N' stand alone: smartcron refuses them inside a list (test_tasks_model).
    return st.one_of(st.just("*"), step.map(lambda s: f"*/{s}"), lists)


cron_expressions = st.tuples(
    # Minutes and hours are kept sparse so 50 runs span days, months and weekdays.
    st.one_of(st.integers(0, 59).map(str), _field(0, 59).filter(lambda f: f != "*")),
    st.one_of(st.integers(0, 23).map(str), _field(0, 23)),
    _field(1, 31),
    _field(
        1, 12, ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    ),
    _field(0, 7, ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]),
).map(" ".join)


def _compare(expression: str, zone_name: str, count: int = COUNT) -> bool:
    """Assert the three evaluators agree; return False if systemd gave fewer than `count`."""
    zone = ZoneInfo(zone_name)
    cron = schedule.parse_cron(expression)
    if not can_fire(cron):
        return False
    lines = to_oncalendar(cron, zone_name)
    by_systemd = systemd_next(lines, BASE, count)
    if len(by_systemd) < count:  # very sparse expressions (e.g. Feb 29) can run out
        return False
    # cron_iter corrects two croniter quirks (N-N ranges, the star-step day rule).
    it = cron_iter(expression, BASE.astimezone(zone))
    by_croniter = [it.get_next(dt.datetime).astimezone(dt.UTC) for _ in range(count)]
    # cronsim reads `N-N/step` as `*`; the same documented rewrite is applied.
    sim = CronSim(croniter_text(expression), BASE.astimezone(zone))
    by_cronsim = [next(sim).astimezone(dt.UTC) for _ in range(count)]
    horizon = min(by_systemd[-1], by_croniter[-1], by_cronsim[-1])
    changes = transitions(zone, BASE - dt.timedelta(days=1), horizon + dt.timedelta(days=1))

    def usable(times: list[dt.datetime], margin: dt.timedelta = DST_MARGIN) -> list[dt.datetime]:
        return sorted(
            {t for t in times if t <= horizon and not any(abs(t - x) <= margin for x in changes)}
        )

    assert usable(by_systemd) == usable(by_croniter), (expression, zone_name, lines)
    # cronsim also misses runs later on the day of a 30-minute DST change (Lord Howe), where
    # systemd and croniter agree; for cronsim the whole day around a transition is left out.
    day = dt.timedelta(hours=26)
    assert usable(by_systemd, day) == usable(by_cronsim, day), (expression, zone_name, lines)
    # An example whose runs mostly sit next to DST changes proves little; let hypothesis
    # draw another instead of counting it.
    return len(usable(by_systemd, day)) >= min(10, count // 2)


@pytest.fixture(autouse=True)
def _needs_systemd_analyze() -> None:
    need(shutil.which("systemd-analyze") is not None, "systemd-analyze is not installed")


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(expression=cron_expressions, zone=st.sampled_from(ZONES))
def test_oncalendar_translation_matches_croniter_and_cronsim(expression: str, zone: str) -> None:
    assume(_compare(expression, zone))


@pytest.mark.parametrize(
    "expression",
    [
        "0 9 1-7 * 1",  # both day fields restricted: cron ORs them (two OnCalendar lines)
        "0 0 13 * 5",  # the 13th or any Friday
        "15 10 * * sun,7",  # Sunday as 0 and 7
        "0 12 */10 * mon",  # '*'-prefixed day-of-month: cron ANDs
        "30 4 1,15 * */2",  # '*'-prefixed day-of-week: cron ANDs
        "*/7 3 * feb-apr *",
        "0 0 29 2 *",  # leap days only
        "@weekly",
        "@monthly",
        "@yearly",
        "@hourly",
    ],
)
@pytest.mark.parametrize("zone", ["Pacific/Auckland", "America/New_York"])
def test_oncalendar_translation_known_cases(expression: str, zone: str) -> None:
    text = schedule.KEYWORDS.get(expression, expression)
    assert _compare(text, zone, count=10 if expression == "0 0 29 2 *" else COUNT)


def test_both_day_fields_restricted_gives_two_lines() -> None:
    lines = to_oncalendar(schedule.parse_cron("0 9 1-7 * 1"), "UTC")
    assert lines == ["Mon *-*-* 09:00:00 UTC", "*-*-01..07 09:00:00 UTC"]


# --- The DST exception, pinned down against the real systemd -----------------------------


def test_dst_spring_forward_systemd_skips_the_missing_run() -> None:
    lines = to_oncalendar(schedule.parse_cron("30 2 * * *"), "America/New_York")
    base = dt.datetime(2027, 3, 12, tzinfo=dt.UTC)
    local_days = [
        t.astimezone(ZoneInfo("America/New_York")).date().isoformat()
        for t in systemd_next(lines, base, 4)
    ]
    assert "2027-03-14" not in local_days  # 02:30 does not exist that day
    assert schedule.dst_warnings("30 2 * * *", "America/New_York", base)[0].startswith(
        "On 2027-03-14 the clocks in America/New_York jump from 02:00 to 03:00"
    )


def test_dst_fall_back_systemd_runs_first_pass_only() -> None:
    zone = ZoneInfo("America/New_York")
    lines = to_oncalendar(schedule.parse_cron("*/20 * * * *"), "America/New_York")
    base = dt.datetime(2027, 11, 7, 4, 59, tzinfo=dt.UTC)  # 00:59 EDT
    runs = systemd_next(lines, base, 7)
    local = [f"{t.astimezone(zone):%H:%M%z}" for t in runs]
    assert local == [
        "01:00-0400",
        "01:20-0400",
        "01:40-0400",
        "02:00-0500",
        "02:20-0500",
        "02:40-0500",
        "03:00-0500",
    ]
    warnings = schedule.dst_warnings(
        "*/20 * * * *", "America/New_York", base - dt.timedelta(days=1)
    )
    assert any("happens twice" in w for w in warnings)


def test_dst_no_warning_for_schedule_outside_transitions() -> None:
    assert schedule.dst_warnings("0 12 * * *", "America/New_York", BASE) == []


def test_next_times_single_value_range_is_not_every_minute() -> None:
    runs = schedule.next_runs("5-5 * * * *", "UTC", BASE, 2)
    assert [f"{t:%H:%M}" for t in runs] == ["12:05", "13:05"]


def test_cron_iter_follows_vixie_day_rule_for_star_steps() -> None:
    # Day-of-week `*/1` starts with `*`, so cron ANDs: only the 1st of the month.
    runs = [cron_iter("0 3 1 * */1", BASE).get_next(dt.datetime) for _ in range(1)]
    assert runs[0].day == 1
