"""Issue 13, case 7 against the real private systemd: the largest values smartcron accepts
render settings systemd parses as written, and free text never changes the unit's syntax."""

from __future__ import annotations

from smartcron.systemd.units import start_limit_interval

from support.systemd import SystemdEnv


def _usec(seconds: int) -> int:
    return seconds * 1_000_000


def test_largest_timeout_and_retries_render_a_start_limit_systemd_parses(sd: SystemdEnv) -> None:
    name = sd.add(
        "longest", "--command", "/bin/true", "--schedule", "@yearly",
        "--timeout", "365d", "--retries", "10", "--retry-delay", "365d",
    )  # fmt: skip
    assert sd.run("sync").exit_code == 0
    props = sd.systemd.show(
        f"smartcron-{name}.service",
        "StartLimitIntervalUSec",
        "StartLimitBurst",
        "TimeoutStartUSec",
        "RestartUSec",
    )
    window = 11 * (365 * 86400 * 2 + 30) + 10
    # systemd prints time spans in words; compare through its own parser's answer in µs.
    shown = sd.systemd.run(
        ["systemd-analyze", "timespan", props["StartLimitIntervalUSec"]], check=True
    ).stdout
    assert f"μs: {_usec(window)}" in shown, (props, shown)
    assert props["StartLimitBurst"] == "11"
    timeout = sd.systemd.run(
        ["systemd-analyze", "timespan", props["TimeoutStartUSec"]], check=True
    ).stdout
    assert f"μs: {_usec(365 * 86400)}" in timeout


def test_start_limit_of_the_largest_task_stays_far_below_what_systemd_holds() -> None:
    from smartcron.model.validate import validate_task

    task = validate_task(
        {
            "name": "x",
            "command": ["/bin/true"],
            "schedule": "@daily",
            "timeout": "365d",
            "retries": 10,
            "retry_delay": "365d",
        },
        check_host=False,
    )
    assert _usec(start_limit_interval(task)) < 2**64 // 1000


def test_description_ending_in_a_backslash_does_not_swallow_the_next_line(
    sd: SystemdEnv,
) -> None:
    description = "copies C:\\shop\\ to the NAS \\"
    name = sd.add(
        "backslash", "--command", "/bin/true", "--schedule", "@yearly",
        "--description", description,
    )  # fmt: skip
    assert sd.run("sync").exit_code == 0
    props = sd.systemd.show(f"smartcron-{name}.service", "Description", "Documentation")
    assert props["Description"] == f"smartcron task {name}: {description}"
    assert "man:systemd.service(5)" in props["Documentation"]  # the next line is still there
    timer = sd.systemd.show(f"smartcron-{name}.timer", "Description", "Documentation")
    assert "man:systemd.timer(5)" in timer["Documentation"]


def test_description_with_specifiers_shows_as_written(sd: SystemdEnv) -> None:
    description = "100% of %n and %i, $HOME"
    name = sd.add(
        "percent", "--command", "/bin/true", "--schedule", "@yearly",
        "--description", description,
    )  # fmt: skip
    assert sd.run("sync").exit_code == 0
    props = sd.systemd.show(f"smartcron-{name}.service", "Description")
    assert props["Description"] == f"smartcron task {name}: {description}"


def test_workdir_ending_in_a_backslash_stays_one_setting(sd: SystemdEnv) -> None:
    workdir = sd.shared / "odd\\"
    workdir.mkdir()
    name = sd.add(
        "workdir", "--command", "/bin/true", "--schedule", "@yearly", "--workdir", str(workdir)
    )
    assert sd.run("sync").exit_code == 0
    service = f"smartcron-{name}.service"
    props = sd.systemd.show(service, "WorkingDirectory", "LogRateLimitIntervalUSec")
    assert props["WorkingDirectory"] == str(workdir)
    assert props["LogRateLimitIntervalUSec"] == "30s"  # the settings after it were not swallowed
