"""The task model's validation: pure unit tests of each field's rules."""

from __future__ import annotations

import dataclasses

import pytest

from smartcron.errors import InvalidInput
from smartcron.model.quantities import format_duration, format_size, parse_duration, parse_size
from smartcron.model.schedule import kind_of, parse_cron
from smartcron.model.task import Task
from smartcron.model.validate import check_command, check_env, check_name, validate_task

BASE = {"name": "job", "command": ["/bin/true"], "schedule": "@daily", "timezone": "UTC"}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), ("90", 90), (45, 45), ("1h 30m", 5400)],
)
def test_duration_accepts_human_forms(text: str | int, seconds: int) -> None:
    assert parse_duration("timeout", text) == seconds


@pytest.mark.parametrize("text", ["-5s", "soon", "5 parsecs", "1.5h", True])
def test_duration_rejects_with_field_name(text: object) -> None:
    with pytest.raises(InvalidInput, match=r"^timeout: "):
        parse_duration("timeout", text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "size"),
    [("512M", 512 * 1024**2), ("1G", 1024**3), ("64k", 65536), ("2GiB", 2 * 1024**3), (4096, 4096)],
)
def test_size_accepts_human_forms(text: str | int, size: int) -> None:
    assert parse_size("memory_max", text) == size


@pytest.mark.parametrize("text", ["1Q", "5x", "1Qb", "٣M", "²"])
def test_size_rejects_an_unknown_unit_listing_the_allowed_ones(text: str) -> None:
    with pytest.raises(InvalidInput, match=rf"^memory_max: '{text}' is not valid: .*K, M, G or T"):
        parse_size("memory_max", text)


@pytest.mark.parametrize("text", ["²", "²%", "9" * 5000])
def test_cpu_quota_rejects_what_int_cannot_read_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"^cpu_quota: .* from 1% to 10000%"):
        validate_task({**BASE, "cpu_quota": text})


def test_formatting_round_trips() -> None:
    for seconds in (1, 59, 60, 90, 3600, 5400, 86400):
        assert parse_duration("x", format_duration(seconds)) == seconds
    for size in (1, 1024, 512 * 1024**2, 1024**3 + 1):
        assert parse_size("x", format_size(size)) == size


@pytest.mark.parametrize(
    "name", ["", "Upper", "under_score", "-lead", "a" * 65, "sp ace", "dot.ted"]
)
def test_name_rejects(name: str) -> None:
    with pytest.raises(InvalidInput, match=r"^name: "):
        check_name(name)


def test_name_accepts_64_chars() -> None:
    assert check_name("a" * 64) == "a" * 64


def test_command_string_is_split_like_a_shell_and_resolved() -> None:
    assert check_command("echo 'two words' \"and $x\"") == ("/usr/bin/echo", "two words", "and $x")


def test_command_rejects_newline_in_argument() -> None:
    with pytest.raises(InvalidInput, match=r"^command argument 1: .*newline"):
        check_command(["/bin/echo", "a\nb"])


def test_command_rejects_unbalanced_quotes() -> None:
    with pytest.raises(InvalidInput, match="cannot be split"):
        check_command("echo 'oops")


def test_command_absolute_path_must_be_executable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    plain = tmp_path / "data.txt"
    plain.write_text("x")
    with pytest.raises(InvalidInput, match="is not an executable file"):
        check_command([str(plain)])
    with pytest.raises(InvalidInput, match="does not exist"):
        check_command([str(tmp_path / "missing")])


def test_command_refuses_a_program_name_systemd_would_read_as_a_prefix() -> None:
    # '+' would run the command as root, '-' would hide its failure (systemd.service(5)).
    for name in ("+job", "-job", "@job", "!job", ":job", "|job"):
        with pytest.raises(InvalidInput, match=r"^command: .*cannot start with"):
            check_command([name, "x"], check_host=False)


def test_command_found_through_a_relative_path_entry_is_refused(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    program = tmp_path / "plus" / "tool-only-here"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "plus")
    with pytest.raises(InvalidInput, match="relative PATH entry; give an absolute path"):
        check_command(["tool-only-here"])


def test_env_rejects_bad_key_and_multiline_value() -> None:
    with pytest.raises(InvalidInput, match=r"^env: '1A'"):
        check_env({"1A": "x"})
    with pytest.raises(InvalidInput, match=r"^env B: "):
        check_env({"B": "line1\nline2"})


def test_validate_task_defaults() -> None:
    task = validate_task(BASE)
    assert task == Task(
        name="job", command=("/bin/true",), schedule="@daily", timezone="UTC", user="nobody"
    )
    assert task.timeout == 3600 and task.retries == 0 and task.catch_up and not task.paused
    assert task.alert_on == ("final-failure", "late")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("retries", -1),
        ("retries", 11),
        ("nice", 20),
        ("cpu_quota", "0%"),
        ("cpu_quota", "lots"),
        ("priority", "urgent"),
        ("alert_on", ["fire"]),
        ("workdir", "relative/dir"),
        ("user", "Bad User"),
        ("user", "no-such-user-xyz"),
        ("workdir", "/no/such/dir"),
        ("paused", "maybe"),
        ("description", "two\nlines"),
        ("description", "\x1b]0;owned\x07 bank"),  # a terminal title escape
        ("description", "C1 \x9b2J"),
        ("timeout", 0),
    ],
)
def test_validate_task_rejects_field(field: str, value: object) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_task({**BASE, field: value})
    assert info.value.field.startswith(field)


def test_validate_task_unknown_field() -> None:
    with pytest.raises(InvalidInput, match="unknown field"):
        validate_task({**BASE, "colour": "red"})


def test_validate_task_edit_keeps_base_values() -> None:
    base = validate_task({**BASE, "timeout": "5m", "retries": 2})
    edited = validate_task({"retries": 3}, base=base)
    assert edited.timeout == 300 and edited.retries == 3


def test_config_hash_changes_with_any_field() -> None:
    a = validate_task(BASE)
    assert a.config_hash() == validate_task(BASE).config_hash()
    assert a.config_hash() != validate_task({**BASE, "timeout": "2h"}).config_hash()


@pytest.mark.parametrize(
    ("expr", "kind"),
    [
        ("*/5 * * * *", "cron"),
        ("@daily", "cron"),
        ("@reboot", "reboot"),
        ("Mon..Fri *-*-* 09:00:00", "oncalendar"),
        ("daily", "oncalendar"),
        ("*:0/15", "oncalendar"),
    ],
)
def test_schedule_kind(expr: str, kind: str) -> None:
    assert kind_of(expr) == kind


@pytest.mark.parametrize(
    ("expr", "field"),
    [
        ("60 * * * *", "minute"),
        ("* 24 * * *", "hour"),
        ("* * 0 * *", "day-of-month"),
        ("* * * 13 *", "month"),
        ("* * * * 8", "day-of-week"),
        ("*/0 * * * *", "minute"),
        ("5-1 * * * *", "minute"),
        ("* * * foo *", "month"),
        ("1,,2 * * * *", "minute"),
    ],
)
def test_cron_parse_names_bad_field(expr: str, field: str) -> None:
    with pytest.raises(InvalidInput, match=rf"^schedule {field} field: "):
        parse_cron(expr)


def test_cron_parse_names_sunday_seven_and_steps() -> None:
    cron = parse_cron("0/20 9-17/4 * jan,JUL sun,7")
    assert cron.minutes == {0, 20, 40}
    assert cron.hours == {9, 13, 17}
    assert cron.months == {1, 7}
    assert cron.weekdays == {0}
    assert cron.dom_star and not cron.dow_star


def test_schedule_that_never_fires_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="never fires"):
        validate_task({**BASE, "schedule": "0 0 31 2 *"})
    with pytest.raises(InvalidInput, match="never elapses"):
        validate_task({**BASE, "schedule": "*-02-31 00:00:00"})


def test_bounds_name_the_field_and_the_maximum() -> None:
    for field, value, words in [
        ("timeout", "366d", "at most 365d"),
        ("timeout", 10**30, "at most 365d"),
        ("retry_delay", "9" * 5000, "at most 365d"),
        ("memory_max", "2048T", "at most 1024T"),
        ("memory_max", 2**70, "at most 1024T"),
        ("warn_after", "1000d", "at most 365d"),
        ("nice", "9" * 5000, "from -20 to 19"),
    ]:
        with pytest.raises(InvalidInput) as info:
            validate_task({**BASE, field: value})
        assert info.value.field == field and words in info.value.allowed, (field, value)
    task = validate_task({**BASE, "timeout": "365d", "memory_max": "1024T"})
    assert task.timeout == 365 * 86400 and task.memory_max == 1024**5


def test_retry_waits_above_365d_are_refused_naming_retry_backoff() -> None:
    huge = {**BASE, "retries": 10, "retry_delay": "365d", "retry_backoff": 10}
    with pytest.raises(InvalidInput) as err:
        validate_task(huge)
    assert str(err.value) == (
        "retry_backoff: '10' is not valid: the wait before retry 10 would be far more than "
        "365d, the longest a wait may be: set retry_max_delay (at most 365d), or lower "
        "retry_backoff, retry_delay or retries"
    )
    with pytest.raises(InvalidInput, match=r"^retry_backoff: '2' .* would be 512d"):
        validate_task({**BASE, "retries": 10, "retry_delay": "1d", "retry_backoff": 2})
    capped = validate_task({**huge, "retry_max_delay": "365d"})
    assert capped.retry_waits() == (365 * 86400,) * 10


def test_new_task_runs_as_default_user_and_root_only_when_written() -> None:
    assert validate_task(BASE).user == "nobody"
    assert validate_task(BASE, default_user="daemon").user == "daemon"
    assert validate_task({**BASE, "user": "root"}).user == "root"


def test_a_number_where_text_is_expected_is_refused_naming_the_field() -> None:
    for field, value, named in [
        ("env", {"PORT": 8080}, "env PORT"),
        ("description", 777, "description"),
        ("channels", [777], "channels"),
        ("command", ["/bin/echo", 5], "command argument 1"),
    ]:
        with pytest.raises(InvalidInput) as info:
            validate_task({**BASE, field: value}, check_host=False)
        assert info.value.field == named and "expected text" in info.value.allowed


def test_command_list_form_on_the_command_line_says_where_it_belongs() -> None:
    from smartcron.model.validate import validate_task

    with pytest.raises(InvalidInput, match="is for task files"):
        validate_task({"name": "x", "command": '["/bin/sh", "-c", "echo"]', "schedule": "@daily"})


def test_task_plain_is_computed_once_and_read_only_while_to_dict_is_the_callers() -> None:
    task = validate_task({**BASE, "env": {"TOKEN": "x"}})
    assert task.plain() is task.plain() and dict(task.plain()) == task.to_dict()
    with pytest.raises(TypeError):
        task.plain()["timeout"] = "1h"  # type: ignore[index]
    mine = task.to_dict()
    mine["env"]["TOKEN"] = "changed"
    assert task.to_dict()["env"] == {"TOKEN": "x"} and task.plain()["env"] == {"TOKEN": "x"}
    assert dataclasses.replace(task, timeout=7200).plain()["timeout"] == "2h"
