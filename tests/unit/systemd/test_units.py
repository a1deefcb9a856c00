"""Unit rendering: escaping is exact, the seal detects edits. Pure functions, no systemd."""

from __future__ import annotations

from smartcron.model.validate import validate_task
from smartcron.systemd import units


def test_exec_argument_escapes_specifiers_variables_and_quotes() -> None:
    assert units.exec_argument("/usr/bin/echo") == "/usr/bin/echo"
    assert units.exec_argument("100%") == '"100%%"'
    assert units.exec_argument("$HOME") == '"$$HOME"'
    assert units.exec_argument('say "hi"') == '"say \\"hi\\""'
    assert units.exec_argument("a\\b") == '"a\\\\b"'
    assert units.exec_argument("") == '""'
    assert units.exec_argument("-x") == '"-x"'  # never read as an ExecStart= prefix
    assert units.exec_argument("tab\there") == '"tab\\x09here"'


def test_env_assignment_quotes_and_escapes_percent_only() -> None:
    assert units.env_assignment("A", 'x %h $y "z"') == '"A=x %%h $y \\"z\\""'


def test_render_seals_files_and_detects_edits() -> None:
    task = validate_task(
        {"name": "job", "command": ["/bin/true"], "schedule": "@daily", "timezone": "UTC"}
    )
    files = units.render(task).files
    fp = units.fingerprint(task, "1s")
    for text in files.values():
        assert units.is_pristine(text, fp)
        assert not units.is_pristine(
            text.replace("AccuracySec=1s", "AccuracySec=1min").replace(
                "TimeoutStopSec=30s", "TimeoutStopSec=1s"
            ),
            fp,
        )
        assert not units.is_pristine(text + "\n# edited\n", fp)
    assert not units.is_pristine(files["smartcron-job.timer"], units.fingerprint(task, "1min"))


def test_fingerprint_changes_with_task_and_settings() -> None:
    a = validate_task(
        {"name": "job", "command": ["/bin/true"], "schedule": "@daily", "timezone": "UTC"}
    )
    b = validate_task(
        {"name": "job", "command": ["/bin/true"], "schedule": "@hourly", "timezone": "UTC"}
    )
    assert units.fingerprint(a, "1s") != units.fingerprint(b, "1s")
    assert units.fingerprint(a, "1s") != units.fingerprint(a, "5s")


def test_timer_uses_configured_accuracy_and_catch_up() -> None:
    task = validate_task(
        {
            "name": "job",
            "command": ["/bin/true"],
            "schedule": "*/15 * * * *",
            "timezone": "Europe/London",
            "catch_up": False,
        }
    )
    timer = units.render(task, accuracy="250ms").files["smartcron-job.timer"]
    assert "AccuracySec=250ms" in timer
    assert "Persistent=false" in timer
    assert "OnCalendar=*-*-* *:00,15,30,45:00 Europe/London" in timer


def test_unit_text_never_ends_in_a_continuation_backslash() -> None:
    assert units.unit_text("plain") == "plain"
    assert units.unit_text("100% of %n") == "100%% of %%n"
    assert units.unit_text("ends in \\") == "ends in \\ "  # systemd strips the space
    assert units.unit_text("two \\\\") == "two \\\\ "


def test_render_writes_the_user_always_and_refuses_none() -> None:
    import dataclasses

    import pytest

    from smartcron.errors import InvalidInput

    task = validate_task(
        {"name": "job", "command": ["/bin/true"], "schedule": "@daily", "timezone": "UTC"},
        check_host=False,
    )
    assert "\nUser=nobody\n" in units.render(task).files["smartcron-job.service"]
    root = dataclasses.replace(task, user="root")
    assert "\nUser=root\n" in units.render(root).files["smartcron-job.service"]
    with pytest.raises(InvalidInput, match="must name the account"):
        units.render(dataclasses.replace(task, user=""))


def test_render_carries_the_signed_revision() -> None:
    import dataclasses

    task = validate_task(
        {"name": "job", "command": ["/bin/true"], "schedule": "@daily", "timezone": "UTC"},
        check_host=False,
    )
    text = units.render(dataclasses.replace(task, revision=123)).files["smartcron-job.service"]
    assert units.installed_revision(text) == 123
    assert units.installed_revision("no revision here") is None


def test_stdin_is_written_byte_for_byte_as_base64() -> None:
    import base64

    text = "100% of $HOME\n\\n\ttab\n"
    task = validate_task(
        {"name": "job", "command": ["/bin/cat"], "schedule": "@daily", "stdin": text}
    )
    service = units.render(task).files["smartcron-job.service"]
    assert "StandardInput=data" in service
    line = next(x for x in service.splitlines() if x.startswith("StandardInputData="))
    assert base64.b64decode(line.split("=", 1)[1]).decode() == text
    plain = validate_task({"name": "job", "command": ["/bin/cat"], "schedule": "@daily"})
    assert "StandardInput" not in units.render(plain).files["smartcron-job.service"]


def test_timer_carries_the_dst_lines_and_its_fingerprint_renews_with_them() -> None:
    import datetime as dt

    from smartcron.model import schedule

    task = validate_task(
        {
            "name": "job",
            "command": ["/bin/true"],
            "schedule": "*/15 * * * *",
            "timezone": "America/New_York",
        }
    )
    timer = units.render(task).files["smartcron-job.timer"]
    for line in schedule.timer_lines(task.schedule, task.timezone):
        assert f"OnCalendar={line}\n" in timer
    # Next year's lines differ (one year leaves the horizon, another enters it).
    now = dt.datetime.now(dt.UTC).date()
    later = now.replace(year=now.year + 1)
    assert schedule.timer_lines(task.schedule, task.timezone, later) != schedule.timer_lines(
        task.schedule, task.timezone, now
    )


def test_maintenance_renews_timers_with_a_plain_root_sync() -> None:
    from smartcron.model.config import Config
    from smartcron.systemd.own_units import OwnUnits

    own = OwnUnits.for_config(Config(), smartcron="/usr/bin/smartcron")
    text = own.services()["smartcron-maintenance.service"]
    assert "ExecStart=-+/usr/bin/smartcron sync\n" in text
    assert text.index("ExecStart=-+/usr/bin/smartcron sync") < text.index("maintenance\n")


def test_render_chain_predecessor_starts_followers_on_success() -> None:
    head = validate_task(
        {"name": "a", "command": ["/bin/true"], "schedule": "@daily", "timezone": "UTC"}
    )
    service = units.render(head, followers=("b",)).files["smartcron-a.service"]
    assert "\nOnSuccess=smartcron-b.service\n" in service
    assert "OnSuccess=" not in units.render(head).files["smartcron-a.service"]
    assert units.fingerprint(head, "1s", ("b",)) != units.fingerprint(head, "1s")


def test_render_refuses_a_follower_or_program_that_would_add_unit_syntax() -> None:
    import dataclasses

    import pytest

    from smartcron.errors import InvalidInput

    head = validate_task(
        {"name": "a", "command": ["/bin/true"], "schedule": "@daily", "timezone": "UTC"}
    )
    # A row that skipped validation: a space or newline would add a unit or a line.
    for bad in ("b evil.service", "b\nExecStartPre=/bin/sh"):
        with pytest.raises(InvalidInput, match=r"^name: "):
            units.render(head, followers=(bad,))
    with pytest.raises(InvalidInput, match=r"^command: "):
        units.render(dataclasses.replace(head, command=("+/bin/true",)))
    with pytest.raises(InvalidInput, match=r"^command: "):
        units.exec_start(("-true",))


def test_render_chain_follower_without_schedule_has_no_timer() -> None:
    follower = validate_task(
        {"name": "b", "command": ["/bin/true"], "after": ["a"], "timezone": "UTC"},
        check_host=False,
    )
    assert set(units.render(follower).files) == {"smartcron-b.service"}
    assert units.unit_names(follower) == {"smartcron-b.service"}


def test_render_group_waits_before_the_command_which_stays_as_it_was() -> None:
    base = {"name": "job", "command": ["/bin/echo", "100%", "$HOME"], "schedule": "@daily"}
    plain = units.render(validate_task({**base, "timezone": "UTC"}, check_host=False))
    grouped = units.render(
        validate_task({**base, "timezone": "UTC", "concurrency_group": "reports"}, check_host=False)
    )
    plain_text = plain.files["smartcron-job.service"]
    text = grouped.files["smartcron-job.service"]
    assert "ExecStartPre" not in plain_text
    pre = [line for line in text.splitlines() if line.startswith("ExecStartPre=")]
    assert pre == [f"ExecStartPre=+{units.smartcron_executable()} group-wait job reports"]
    exec_start = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    assert exec_start == ['ExecStart=/bin/echo "100%%" "$$HOME"']
    assert exec_start == [line for line in plain_text.splitlines() if line.startswith("ExecStart=")]
    # KillMode=control-group, the default, ends the holder of the slot: never set otherwise.
    assert not [line for line in text.splitlines() if line.startswith("KillMode=")]


def test_timer_writes_utcs_other_names_as_utc_which_systemd_evaluates_natively() -> None:
    # "Etc/UTC" makes systemd switch TZ for every computation (3x slower to start 1,000
    # timers); "UTC" means the same instants. Real zones keep their name.
    for zone in ("Etc/UTC", "UTC", "Etc/Universal", "GMT"):
        task = validate_task({"name": "t", "command": ["/bin/true"], "schedule": "*/5 * * * *",
                              "timezone": zone})  # fmt: skip
        timer = units.render(task).files["smartcron-t.timer"]
        calendar = [line for line in timer.splitlines() if line.startswith("OnCalendar=")]
        assert calendar == ["OnCalendar=*-*-* *:00,05,10,15,20,25,30,35,40,45,50,55:00 UTC"]
        assert f", {zone})" in timer  # the task's own name for its zone stays in the description
    berlin = validate_task({"name": "b", "command": ["/bin/true"], "schedule": "0 6 * * *",
                            "timezone": "Europe/Berlin", "catch_up": False})  # fmt: skip
    berlin_timer = units.render(berlin).files["smartcron-b.timer"]
    assert "06:00:00 Europe/Berlin\n" in berlin_timer and " UTC\n" not in berlin_timer
    oncalendar = validate_task({"name": "o", "command": ["/bin/true"], "schedule": "daily",
                                "timezone": "Etc/UTC"})  # fmt: skip
    assert "OnCalendar=*-*-* 00:00:00 UTC\n" in units.render(oncalendar).files["smartcron-o.timer"]


def test_own_units_refuse_a_service_user_that_does_not_exist() -> None:
    import pytest

    from smartcron.errors import InvalidInput
    from smartcron.model.config import Config
    from smartcron.systemd.own_units import OwnUnits, own_user

    assert own_user("") is None
    assert own_user("nobody") == "nobody"
    with pytest.raises(InvalidInput, match=r"service_user: 'smartcorn' is not valid"):
        OwnUnits.for_config(Config(service_user="smartcorn"), smartcron="/usr/bin/smartcron")


def test_render_largest_retry_settings_give_spans_systemd_can_hold() -> None:
    import re

    task = validate_task(
        {
            "name": "a", "command": ["/bin/true"], "schedule": "@daily", "timezone": "UTC",
            "timeout": "365d", "retries": 10, "retry_delay": "1d", "retry_backoff": 10,
            "retry_max_delay": "365d",
        }
    )  # fmt: skip
    service = units.render(task).files["smartcron-a.service"]
    spans = re.findall(
        r"^(?:StartLimitIntervalSec|TimeoutStopSec|RestartSec)=(\d+)s$", service, re.M
    )
    assert len(spans) == 3
    # systemd holds a time span as 64-bit microseconds; these stay below a few decades.
    assert all(int(s) <= 30 * 365 * 86400 for s in spans), spans
