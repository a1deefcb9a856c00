"""Proof, on the real `systemd-analyze`, that the rendered timers do at clock changes what
cron (cronie) does: for random and collected cron expressions, in zones with whole-hour,
30-minute (Lord Howe), 45-minute-offset (Chatham), midnight (Santiago, Havana) changes and in a
zone without DST (Kolkata), over three years of real transitions, the elapses systemd computes
for `timer_lines` equal the runs of a model of cronie's main loop (tests/support/cronie_model),
and the in-process `next_runs` equals systemd.

Named exception (documented in docs/sync.md): a fixed-time job with several times in one gap
is started by cron once per time, right after the jump; a timer starts it once. The model
keeps one start per minute, so the comparison holds with that exception built in.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartcron.model import schedule
from smartcron.model.schedule import clockchange
from smartcron.model.schedule.analyze import systemd_next

from support import need
from support.cronie_model import cronie_runs

TODAY = dt.date(2026, 12, 3)  # renders the horizon 2026-2028
ZONES = [
    "America/New_York",
    "Europe/London",
    "Pacific/Auckland",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Santiago",
    "America/Havana",
    "Australia/Adelaide",
    "America/St_Johns",
    "Asia/Kolkata",
]
WINDOW = dt.timedelta(hours=3)
CORPUS = Path(__file__).parents[2] / "data" / "cron_expressions.txt"


@pytest.fixture(autouse=True)
def _needs_systemd_analyze() -> None:
    need(shutil.which("systemd-analyze") is not None, "systemd-analyze is not installed")


def _bases(zone: str) -> list[dt.datetime]:
    found = [c.instant - WINDOW for c in clockchange.changes(zone, 2027, 2028)]
    # A zone without DST is compared on the same dates as New York.
    return found or [
        c.instant - WINDOW for c in clockchange.changes("America/New_York", 2027, 2028)
    ]


def _compare(expression: str, zone: str, base: dt.datetime) -> None:
    """Assert systemd == cronie model == in-process evaluation within one change window."""
    cron = schedule.parse_cron(expression)
    lines = schedule.timer_lines(expression, zone, TODAY)
    end = base + 2 * WINDOW
    want = cronie_runs(cron, zone, base, end)
    count = 400  # more than one run a minute can give in the window
    by_systemd = systemd_next(lines, base, count)
    horizon = min(end, by_systemd[-1]) if len(by_systemd) == count else end
    got = [t for t in by_systemd if t <= horizon]
    assert got == [t for t in want if t <= horizon], (expression, zone, base, lines)
    in_process = schedule.next_runs(expression, zone, base, len(got) + 1, TODAY)
    assert [t.astimezone(dt.UTC) for t in in_process][: len(got)] == got, (expression, zone)


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    rng = st.tuples(number, number).map(lambda ab: f"{min(ab)}-{max(ab)}")
    step = st.integers(1, max(1, (high - low) // 2))
    item = st.one_of(number.map(str), rng, st.tuples(rng, step).map(lambda r: f"{r[0]}/{r[1]}"))
    return st.one_of(
        st.just("*"),
        step.map(lambda s: f"*/{s}"),
        st.lists(item, min_size=1, max_size=3).map(",".join),
    )


# Hours are drawn near the night hours where clocks change, so most examples meet a change.
expressions = st.tuples(
    _field(0, 59),
    st.one_of(
        st.just("*"),
        st.lists(st.integers(0, 5), min_size=1, max_size=3).map(
            lambda hs: ",".join(map(str, sorted(set(hs))))
        ),
        _field(0, 23),
    ),
    st.sampled_from(["*", "*", "1-7", "*/2", "25-31"]),
    st.just("*"),
    st.sampled_from(["*", "*", "0", "1-5", "sat,sun", "fri-sun"]),
).map(" ".join)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=expressions, zone=st.sampled_from(ZONES), which=st.integers(0, 3))
def test_timer_fires_when_cron_would_at_clock_changes(
    expression: str, zone: str, which: int
) -> None:
    bases = _bases(zone)
    _compare(expression, zone, bases[which % len(bases)])


def _corpus() -> list[str]:
    out = []
    for line in CORPUS.read_text(encoding="utf-8").split("\n"):
        if line.startswith("## refused"):
            break
        text = line.split("  #", 1)[0].strip() if not line.startswith("#") else ""
        if text and schedule.kind_of(text) == "cron":
            out.append(schedule.KEYWORDS.get(text, text))
    return out


@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Chatham", "Australia/Lord_Howe"])
def test_corpus_expressions_fire_when_cron_would_at_every_change(zone: str) -> None:
    corpus = _corpus()
    assert len(corpus) >= 40
    for expression in corpus:
        for base in _bases(zone)[:2]:  # the two changes of 2027: a gap and a repeat
            _compare(expression, zone, base)


@pytest.mark.parametrize(
    ("expression", "zone", "local"),
    [
        # Fall back in New York: a wildcard job runs in both passes, every 15 minutes.
        (
            "*/15 * * * *",
            "America/New_York",
            [
                "00:45-04",
                "01:00-04",
                "01:15-04",
                "01:30-04",
                "01:45-04",
                "01:00-05",
                "01:15-05",
                "01:30-05",
                "01:45-05",
                "02:00-05",
            ],
        ),
        # Debian's hourly line runs twice in the repeated hour (HR_STAR).
        ("17 * * * *", "America/New_York", ["01:17-04", "01:17-05", "02:17-05", "03:17-05"]),
        # A fixed-time job runs once, in the first pass.
        ("30 1 * * *", "America/New_York", ["01:30-04", "01:30-04"]),
    ],
)
def test_fall_back_cases_pinned(expression: str, zone: str, local: list[str]) -> None:
    base = dt.datetime(2027, 11, 7, 4, 40, tzinfo=dt.UTC)  # 00:40 EDT
    lines = schedule.timer_lines(expression, zone, TODAY)
    runs = systemd_next(lines, base, len(local))
    shown = [f"{t.astimezone(ZoneInfo(zone)):%H:%M%z}"[:-2] for t in runs]
    if expression == "30 1 * * *":
        assert shown[0] == "01:30-04" and runs[1].date() == dt.date(2027, 11, 8)
    else:
        assert shown == local


def test_spring_forward_fixed_job_runs_right_after_the_jump() -> None:
    lines = schedule.timer_lines("30 2 * * *", "America/New_York", TODAY)
    runs = systemd_next(lines, dt.datetime(2027, 3, 13, 12, tzinfo=dt.UTC), 2)
    assert runs[0] == dt.datetime(2027, 3, 14, 7, 0, tzinfo=dt.UTC)  # 03:00 EDT, the jump
    assert runs[1] == dt.datetime(2027, 3, 15, 6, 30, tzinfo=dt.UTC)  # 02:30 EDT next day


def test_spring_forward_wildcard_job_skips_the_missing_minutes() -> None:
    lines = schedule.timer_lines("*/20 * * * *", "America/New_York", TODAY)
    runs = systemd_next(lines, dt.datetime(2027, 3, 14, 6, 30, tzinfo=dt.UTC), 3)  # 01:30 EST
    assert runs == [
        dt.datetime(2027, 3, 14, 6, 40, tzinfo=dt.UTC),  # 01:40 EST
        dt.datetime(2027, 3, 14, 7, 0, tzinfo=dt.UTC),  # 03:00 EDT: 02:00-02:40 do not exist
        dt.datetime(2027, 3, 14, 7, 20, tzinfo=dt.UTC),
    ]


def test_chatham_timer_never_hits_systemds_deadlock() -> None:
    # `*-*-* *:52:00 Pacific/Chatham` alone: systemd fails with EDEADLK before the change.
    base = dt.datetime(2027, 9, 24, 21, 0, tzinfo=dt.UTC)
    with pytest.raises(Exception, match="deadlock"):
        systemd_next(["*-*-* *:52:00 Pacific/Chatham"], base, 40)
    lines = schedule.timer_lines("52 * * * *", "Pacific/Chatham", TODAY)
    assert len(systemd_next(lines, base, 40)) == 40
    _compare("52 * * * *", "Pacific/Chatham", base)


def test_no_dst_zone_has_no_extra_lines() -> None:
    assert schedule.timer_lines("*/15 * * * *", "Asia/Kolkata", TODAY) == [
        "*-*-* *:00,15,30,45:00 Asia/Kolkata"
    ]


def test_zone_suffixed_lines_stay_few() -> None:
    # systemd forks once per evaluation of a line with a zone: whole-hour zones keep one.
    lines = schedule.timer_lines("*/5 * * * *", "Europe/London", TODAY)
    assert sum(not line.endswith(" UTC") for line in lines) == 1
    assert len(lines) == 1 + 3  # one fall-back line a year
