"""The private systemd harness itself: a real unit runs and its result and output come back."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartcron.systemd.sandbox import PrivateSystemd

from support import need


def test_sandbox_runs_unit_and_reads_result_and_journal(
    systemd: PrivateSystemd, unit_prefix: str, shared_dir: Path
) -> None:
    script = shared_dir / "job.sh"
    script.write_text('#!/bin/sh\necho "hello from $0"\necho to-stderr >&2\nexit 3\n')
    script.chmod(0o755)
    unit = f"{unit_prefix}-probe.service"
    (systemd.unit_dir / unit).write_text(
        f"[Service]\nType=oneshot\nExecStart={script}\nStartLimitIntervalSec=0\n"
    )
    systemd.systemctl("daemon-reload")
    started = systemd.systemctl("start", unit, check=False)
    assert started.returncode != 0  # the job exits 3, so the start job fails

    props = systemd.show(unit, "Result", "ExecMainStatus", "ExecMainCode", "InvocationID")
    assert props["Result"] == "exit-code"
    assert props["ExecMainStatus"] == "3"
    assert props["ExecMainCode"] == "1"  # CLD_EXITED
    invocation = props["InvocationID"]
    assert len(invocation) == 32

    # journald may store the lines of a process that exits at once a moment later, and
    # without its invocation id (systemd #2913): match the identifier too, and wait a little.
    import time

    deadline, output = time.monotonic() + 10, ""
    while time.monotonic() < deadline and "to-stderr" not in output:
        output = systemd.journal(
            f"_SYSTEMD_INVOCATION_ID={invocation}", "+", "SYSLOG_IDENTIFIER=job.sh", "-o", "cat"
        )
        time.sleep(0.1)
    assert f"hello from {script}" in output
    assert "to-stderr" in output
    meta = systemd.journal(f"INVOCATION_ID={invocation}", "-o", "verbose")
    assert "UNIT_RESULT=exit-code" in meta


def test_sandbox_bus_address_answers_dbus(systemd: PrivateSystemd) -> None:
    import subprocess

    proc = subprocess.run(
        [
            "busctl",
            "--address",
            systemd.bus_address,
            "get-property",
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "Version",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"252' in proc.stdout


def test_sandbox_is_isolated_from_host_services(systemd: PrivateSystemd) -> None:
    units = systemd.systemctl("list-units", "--type=service", "--no-legend", "--plain").stdout
    names = {line.split()[0] for line in units.splitlines() if line.strip()}
    assert "mariadb.service" not in names and "postgresql.service" not in names
    assert "systemd-journald.service" in names and "dbus.service" in names


def test_sandbox_starting_a_timer_does_not_run_early_boot_on_the_host(
    systemd: PrivateSystemd, unit_prefix: str
) -> None:
    # Timers pull in sysinit.target; in the sandbox it must stay empty, or tmpfiles, sysusers
    # and friends would act on the host's shared /etc and /var.
    timer = f"{unit_prefix}-probe.timer"
    (systemd.unit_dir / f"{unit_prefix}-probe.service").write_text(
        "[Service]\nType=oneshot\nExecStart=/bin/true\n"
    )
    (systemd.unit_dir / timer).write_text("[Timer]\nOnCalendar=yearly\n")
    systemd.systemctl("daemon-reload")
    systemd.systemctl("start", timer)
    assert systemd.show(timer, "ActiveState")["ActiveState"] == "active"
    assert systemd.show("sysinit.target", "ActiveState")["ActiveState"] == "active"
    for unit in (
        "systemd-tmpfiles-setup.service",
        "systemd-sysusers.service",
        "systemd-remount-fs.service",
        "systemd-journal-flush.service",
    ):
        props = systemd.show(unit, "LoadState", "ActiveState")
        assert props["ActiveState"] == "inactive", (unit, props)
    systemd.systemctl("stop", timer)


def test_sandbox_boots_whatever_bus_address_the_caller_has(monkeypatch: pytest.MonkeyPatch) -> None:
    # Found by bench/sync.py: after an earlier sandbox, DBUS_SYSTEM_BUS_ADDRESS still named its
    # (gone) bus, the next private systemd inherited it and never registered on its own bus.
    from smartcron.systemd.sandbox import available

    need(available() is None, f"cannot boot a private systemd: {available()}")
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/system_bus_socket")
    with PrivateSystemd("smartcron-envtest") as instance:
        assert instance._on_bus()
