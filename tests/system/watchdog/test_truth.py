"""Nothing false, nothing lost unnoticed: status from recorded runs, meanings only from what
systemd and the kernel said, triggers from systemd's own ActivationDetails, every output line
kept (or the run says how many journald dropped), health that notices a missing watchdog."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from smartcron.db.schema import executions
from smartcron.systemd.own_units import JOURNALD_DROPIN, journald_dropin
from smartcron.watchdog.service import Watchdog

from support.systemd import SystemdEnv, wait_rows


def _row(sd: SystemdEnv, name: str) -> Any:
    return wait_rows(sd, name)[-1]


def test_status_of_a_task_that_never_ran_says_never(sd: SystemdEnv) -> None:
    name = sd.add("fresh", "--command", "/bin/true", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    assert sd.run("task", "pause", name).exit_code == 0
    assert sd.run("task", "resume", name).exit_code == 0
    line = next(line for line in sd.run("status").stdout.splitlines() if line.startswith(name))
    assert "never" in line and "success" not in line


def test_status_shows_a_failed_run_started_by_hand(sd: SystemdEnv, recorder: Watchdog) -> None:
    name = sd.add("broken", "--command", "/bin/false", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    sd.run("task", "run", name, "--wait")
    assert _row(sd, name).outcome == "failed"
    line = next(line for line in sd.run("status").stdout.splitlines() if line.startswith(name))
    assert "failed" in line and "never" not in line


def test_meaning_a_sigkill_is_not_out_of_memory_unless_the_kernel_said_so(
    sd: SystemdEnv, recorder: Watchdog
) -> None:
    name = sd.add(
        "sleeper", "--command", "/bin/sleep 60", "--schedule", "@yearly", "--memory-max", "512M"
    )
    assert sd.run("sync").exit_code == 0
    service = f"smartcron-{name}.service"
    sd.systemd.systemctl("start", "--no-block", service)
    deadline = time.monotonic() + 10
    while sd.systemd.show(service, "MainPID")["MainPID"] in ("", "0"):
        assert time.monotonic() < deadline, "the task did not start"
        time.sleep(0.1)
    sd.systemd.systemctl("kill", "-s", "KILL", service)
    row = _row(sd, name)
    assert row.outcome == "killed", row.meaning
    assert row.meaning.startswith("Killed by SIGKILL (9)")
    assert "memory" not in row.meaning


def test_meaning_of_a_missing_program_quotes_systemd_and_logs_show_it(
    sd: SystemdEnv, recorder: Watchdog
) -> None:
    program = sd.script("old-report", "#!/bin/sh\necho report\n")
    name = sd.add("oldreport", "--command", str(program), "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    program.unlink()  # gone after the task was saved, as happens in real life
    sd.run("task", "run", name, "--wait")
    row = _row(sd, name)
    assert row.outcome == "could-not-start" and row.exit_code == 203
    assert f"Failed to locate executable {program}" in row.meaning, row.meaning
    logs = sd.run("logs", name)
    assert f"Failed to locate executable {program}" in logs.stdout
    assert "no longer has" not in logs.stderr
    assert "systemd's own messages" in logs.stderr


def test_trigger_of_a_systemctl_start_by_hand_is_manual(sd: SystemdEnv, recorder: Watchdog) -> None:
    # Not near any scheduled time, but not a catch-up either: nothing triggered it.
    name = sd.add("byhand", "--command", "/bin/true", "--schedule", "0 3 1 1 *")
    assert sd.run("sync").exit_code == 0
    sd.systemd.systemctl("start", f"smartcron-{name}.service")
    assert _row(sd, name).trigger == "manual"


def test_trigger_of_the_timer_is_timer(sd: SystemdEnv, recorder: Watchdog) -> None:
    name = sd.add("ontime", "--command", "/bin/true", "--schedule", "*:*:0/2")
    assert sd.run("sync").exit_code == 0
    assert _row(sd, name).trigger == "timer"


@pytest.fixture
def journald_config(sd: SystemdEnv) -> Iterator[Any]:
    """Write a journald drop-in into the sandbox and restart its journald; undo afterwards."""
    folder = sd.systemd.root / "run/systemd/journald.conf.d"
    written: list[Any] = []

    def install(name: str, text: str) -> None:
        (folder / name).write_text(text)
        written.append(folder / name)
        sd.systemd.systemctl("restart", "systemd-journald")

    yield install
    for path in written:
        path.unlink(missing_ok=True)
    sd.systemd.systemctl("restart", "systemd-journald")


def _lines(sd: SystemdEnv, name: str) -> list[int]:
    return [int(x) for x in sd.systemd.journal("-o", "cat", f"SYSLOG_IDENTIFIER={name}").split()]


def test_output_200000_lines_of_stdout_then_stderr_are_all_kept(
    sd: SystemdEnv, recorder: Watchdog, journald_config: Any
) -> None:
    journald_config(JOURNALD_DROPIN, journald_dropin())  # what `smartcron units install` ships
    name = sd.add(
        "flood", "--command", "/bin/sh -c 'seq 1 100000; seq 100001 200000 >&2'",
        "--schedule", "@yearly",
    )  # fmt: skip
    assert sd.run("sync").exit_code == 0
    sd.run("task", "run", name, "--wait")
    deadline = time.monotonic() + 30
    while len(kept := _lines(sd, name)) < 200_000 and time.monotonic() < deadline:
        time.sleep(1)
    assert len(kept) == 200_000 and kept[-1] == 200_000
    assert _row(sd, name).lines_dropped is None


def test_output_dropped_by_journald_is_said_on_the_run(
    sd: SystemdEnv, recorder: Watchdog, journald_config: Any
) -> None:
    # A host without smartcron's drop-in, made strict: 1,000 lines (x3.5) per 2 s. The task's
    # own high LogRateLimitBurst= holds only while its process lives; the lines journald reads
    # after the process has gone fall under the host's limit (systemd 252).
    journald_config(
        "10-test-strict.conf", "[Journal]\nRateLimitIntervalSec=2s\nRateLimitBurst=1000\n"
    )
    name = sd.add(
        "chatty", "--command", "/bin/sh -c 'seq 1 20000; seq 20001 40000 >&2'",
        "--schedule", "@yearly",
    )  # fmt: skip
    assert sd.run("sync").exit_code == 0
    # journald notes the drops when the unit logs again after its window (30 s by the task's
    # unit); a 2 s window here keeps the test short.
    dropin = sd.systemd.unit_dir / f"smartcron-{name}.service.d"
    dropin.mkdir()
    (dropin / "test.conf").write_text("[Service]\nLogRateLimitIntervalSec=2s\n")
    sd.systemd.systemctl("daemon-reload")
    sd.run("task", "run", name, "--wait")
    first = _row(sd, name)
    time.sleep(3)
    sd.run("task", "run", name, "--wait")
    deadline = time.monotonic() + 20
    dropped = None
    while dropped is None and time.monotonic() < deadline:
        with sd.engine.connect() as conn:
            dropped = conn.execute(
                sa.select(executions.c.lines_dropped).where(executions.c.id == first.id)
            ).scalar()
        time.sleep(0.5)
    assert dropped is not None and dropped > 1_000
    runs = json.loads(sd.run("runs", name, "--json").stdout)
    assert any(r["lines_dropped"] == dropped for r in runs)
    assert "Output incomplete: journald suppressed" in sd.run("runs", name).stdout
    shutil.rmtree(dropin)


def test_health_says_so_when_the_watchdog_is_not_running(sd: SystemdEnv) -> None:
    result = sd.run("health", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["watchdog"]["status"] == "fail"
    assert "not being recorded" in checks["watchdog"]["message"]
    assert report["score"] <= 20
