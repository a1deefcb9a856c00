"""Cron expressions as cronie reads them (src/entry.c): what it accepts is accepted with the
same meaning, what it refuses (or accepts but never runs) is refused with one line naming the
field, the value and what is allowed. The corpus is tests/data/cron_expressions.txt."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartcron.errors import InvalidInput
from smartcron.model import schedule
from smartcron.model.schedule.cron import parse_cron

CORPUS = Path(__file__).parents[2] / "data" / "cron_expressions.txt"


def _corpus() -> tuple[list[str], list[str]]:
    accepted: list[str] = []
    refused: list[str] = []
    target = accepted
    for line in CORPUS.read_text(encoding="utf-8").split("\n"):
        if line.startswith("## refused"):
            target = refused
        text = line.split("  #", 1)[0].strip() if not line.startswith("#") else ""
        if text:
            target.append(text)
    return accepted, refused


def test_corpus_accepted_expressions_validate_and_describe() -> None:
    accepted, _ = _corpus()
    for text in accepted:
        assert schedule.validate(text)
        assert schedule.describe(schedule.validate(text))
        assert schedule.timer_lines(text, "UTC")


@pytest.mark.parametrize("text", _corpus()[1])
def test_corpus_refused_expressions_name_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        schedule.validate(text)
    message = str(caught.value)
    assert message.startswith("schedule")
    assert " is not valid: " in message


def test_wrap_around_weekday_ranges_end_on_sunday() -> None:
    assert parse_cron("* * * * fri-sun").weekdays == {5, 6, 0}
    assert parse_cron("* * * * 5-0").weekdays == {5, 6, 0}
    with pytest.raises(InvalidInput, match=r"day-of-week field.*runs backwards"):
        parse_cron("* * * * sat-mon")
    with pytest.raises(InvalidInput, match=r"hour field.*write two ranges"):
        parse_cron("0 22-2 * * *")


def test_star_inside_a_list_is_cronies_meaning() -> None:
    cron = parse_cron("*/5,7 * * * *")
    assert cron.minutes == set(range(0, 60, 5)) | {7}
    assert cron.min_star  # the field starts with '*': a wildcard job
    days = parse_cron("0 0 */10,15 * mon")
    assert days.dom_star  # '*'-first day field: cron ANDs the day fields


def test_empty_steps_are_refused_naming_the_field() -> None:
    for text, field in [
        ("*/ * * * *", "minute"),
        ("0 5/ * * *", "hour"),
        ("0 0 0-10/ * *", "day-of-month"),
    ]:
        with pytest.raises(InvalidInput, match=rf"schedule {field} field.*step"):
            parse_cron(text)


def test_wildcard_flags_follow_cronie() -> None:
    assert parse_cron("17 * * * *").wildcard  # HR_STAR
    assert parse_cron("*/15 2 * * *").wildcard  # MIN_STAR
    assert not parse_cron("0 1-23 * * *").wildcard  # runs hourly, but a fixed-time job
    assert parse_cron("@hourly").wildcard
    assert not parse_cron("@daily").wildcard


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789*/-,~#?LW abcdefghijklmnopqrstuvwxyz:.@", max_size=30))
def test_no_traceback_for_any_schedule_text(text: str) -> None:
    try:
        canonical = schedule.validate(text)
    except InvalidInput as exc:
        assert str(exc).startswith("schedule")
        return
    schedule.describe(canonical)


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("0 0 * * 6/1", "At 00:00, only on Sunday and Saturday"),  # 6-7: Saturday and Sunday
        ("0 0 1/10 * *", "At 00:00, on day 1, 11, 21, and 31 of the month"),
        ("0 6 * 1/3 *", "At 06:00, only in January, April, July, and October"),
        ("*/5 * * * *", "Every 5 minutes"),
    ],
)
def test_describe_stepped_day_fields_say_the_days_cron_runs(expression: str, words: str) -> None:
    assert schedule.describe(expression) == words
