"""The private systemd harness itself: a real unit runs and its result and output come back."""

from __future__ import annotations

from pathlib import Path

from smartcron.sandbox import PrivateSystemd


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

    output = systemd.journal(f"_SYSTEMD_INVOCATION_ID={invocation}", "-o", "cat")
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
