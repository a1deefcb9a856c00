"""The watchdog against the real private systemd: every outcome is recorded with its meaning."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from smartcron.db.schema import executions
from smartcron.watchdog.service import Watchdog

from support import need
from support.systemd import SystemdEnv, wait_rows


def _run(sd: SystemdEnv, short: str, command: str, *options: str) -> tuple[str, Any]:
    name = sd.add(short, "--command", command, "--schedule", "@yearly", *options)
    assert sd.run("sync").exit_code == 0
    sd.run("task", "run", name, "--wait")
    return name, wait_rows(sd, name)[-1]


def test_watchdog_records_success_with_output_and_manual_trigger(
    sd: SystemdEnv, recorder: Watchdog
) -> None:
    _name, row = _run(sd, "ok", "/bin/echo hello from the task")
    assert row.outcome == "success" and row.result == "success" and row.exit_code == 0
    assert row.meaning.startswith("Succeeded after")
    assert row.trigger == "manual" and row.attempt == 1
    # The output tail is read once journald has caught up with the run (about 2 s later).
    deadline = time.monotonic() + 15
    tail = row.output_tail or ""
    while "hello from the task" not in tail and time.monotonic() < deadline:
        time.sleep(0.2)
        tail = wait_rows(sd, _name)[-1].output_tail or ""
    assert "hello from the task" in tail
    assert row.started_at is not None and row.finished_at >= row.started_at
    assert row.duration_s is not None and row.duration_s < 5


@pytest.mark.parametrize(
    ("command", "outcome", "words"),
    [
        ("/bin/sh -c 'exit 3'", "failed", "exit status 3"),
        ("/bin/sh -c 'no-such-command-xyz'", "failed", "command not found"),
        ("/bin/sh -c 'kill -KILL $$'", "killed", "SIGKILL (9)"),
        ("/bin/sh -c 'kill -TERM $$'", "killed", "SIGTERM (15)"),
    ],
)
def test_watchdog_records_failures_with_meaning(
    sd: SystemdEnv, recorder: Watchdog, command: str, outcome: str, words: str
) -> None:
    _name, row = _run(sd, "fail", command)
    assert row.outcome == outcome, row.meaning
    assert words in row.meaning


def test_watchdog_records_timeout(sd: SystemdEnv, recorder: Watchdog) -> None:
    _name, row = _run(sd, "slow", "/bin/sleep 60", "--timeout", "2s")
    assert row.outcome == "timeout" and row.result == "timeout"
    assert "timeout of 2s" in row.meaning and row.exit_signal == "SIGTERM"


def test_watchdog_records_memory_limit_kill(sd: SystemdEnv, recorder: Watchdog) -> None:
    hog = sd.script(
        "hog.py",
        "#!/usr/bin/python3\nb = bytearray(400 * 1024 * 1024)\n"
        "for i in range(0, len(b), 4096):\n    b[i] = 1\n",
    )
    _name, row = _run(sd, "hog", str(hog), "--memory-max", "64M")
    assert row.outcome == "oom", row.meaning
    assert "memory limit of 64M" in row.meaning


def test_watchdog_records_could_not_start_with_systemd_reason(
    sd: SystemdEnv, recorder: Watchdog
) -> None:
    gone = sd.shared / "gone"
    gone.mkdir()
    name = sd.add(
        "nodir", "--command", "/bin/true", "--schedule", "@yearly", "--workdir", str(gone)
    )
    assert sd.run("sync").exit_code == 0
    gone.rmdir()  # removed after the task was saved, as happens in real life
    sd.run("task", "run", name, "--wait")
    row = wait_rows(sd, name)[-1]
    assert row.outcome == "could-not-start" and row.exit_code == 200
    assert "working directory" in row.meaning and "systemd says:" in row.meaning


def test_watchdog_records_each_retry_and_exhaustion(sd: SystemdEnv, recorder: Watchdog) -> None:
    name = sd.add(
        "flaky",
        "--command",
        "/bin/sh -c 'exit 5'",
        "--schedule",
        "@yearly",
        "--retries",
        "2",
        "--retry-delay",
        "1s",
    )
    assert sd.run("sync").exit_code == 0
    sd.run("task", "run", name, "--wait")
    rows = wait_rows(sd, name, count=3)
    assert [(r.attempt, r.trigger, r.outcome) for r in rows] == [
        (1, "manual", "failed"),
        (2, "retry", "failed"),
        (3, "retry", "failed"),
    ]
    assert "Attempt 1 of 3; retrying in 1s." in rows[0].meaning
    assert "Attempt 3 of 3: retries exhausted." in rows[2].meaning
    assert len({r.invocation_id for r in rows}) == 3


def test_watchdog_shows_a_running_row_while_the_task_runs(
    sd: SystemdEnv, recorder: Watchdog
) -> None:
    name = sd.add("long", "--command", "/bin/sleep 3", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    assert sd.run("task", "run", name).exit_code == 0
    deadline = time.monotonic() + 10
    seen = None
    while time.monotonic() < deadline and seen is None:
        with sd.engine.connect() as conn:
            seen = conn.execute(
                sa.select(executions.c.outcome).where(executions.c.task_name == name)
            ).scalar()
        time.sleep(0.05)
    assert seen == "running"
    assert wait_rows(sd, name)[-1].outcome == "success"


def test_runs_json_and_logs_read_back(sd: SystemdEnv, recorder: Watchdog) -> None:
    import json

    name, _row = _run(sd, "talk", "/bin/sh -c 'echo line-one; echo line-two >&2; exit 4'")
    runs = json.loads(sd.run("runs", name, "--json").stdout)
    assert len(runs) == 1
    assert set(runs[0]) >= {
        "task",
        "invocation_id",
        "trigger",
        "attempt",
        "started_at",
        "finished_at",
        "duration_s",
        "result",
        "exit_code",
        "signal",
        "outcome",
        "meaning",
    }
    assert runs[0]["exit_code"] == 4 and runs[0]["outcome"] == "failed"
    failed = json.loads(sd.run("runs", "--failed", "--json").stdout)
    assert any(r["invocation_id"] == runs[0]["invocation_id"] for r in failed)
    logs = sd.run("logs", name, "--last")
    assert logs.exit_code == 0 and "line-one" in logs.stdout and "line-two" in logs.stdout


def test_watchdog_records_a_start_refused_by_the_start_limit(
    sd: SystemdEnv, recorder: Watchdog
) -> None:
    name = sd.add(
        "refused", "--command", "/bin/false", "--schedule", "@yearly", "--retries", "1",
        "--retry-delay", "1s",
    )  # fmt: skip
    assert sd.run("sync").exit_code == 0
    sd.run("task", "run", name, "--wait")
    wait_rows(sd, name, count=2)
    # The retries are used up and their window is still open: systemd refuses the next start.
    sd.run("task", "run", name)
    rows = wait_rows(sd, name, count=3)
    assert [(r.attempt, r.outcome) for r in rows] == [
        (1, "failed"),
        (2, "failed"),
        (1, "start-limit"),
    ]
    assert "retries within the start-limit window" in rows[2].meaning
    assert rows[2].trigger == "manual"


def test_watchdog_successful_runs_never_hit_the_start_limit(
    sd: SystemdEnv, recorder: Watchdog
) -> None:
    # StartLimitBurst=2 caps the retries; four successful runs in a row must all still start.
    name = sd.add(
        "frequent", "--command", "/bin/true", "--schedule", "@yearly", "--retries", "1",
        "--retry-delay", "1s",
    )  # fmt: skip
    assert sd.run("sync").exit_code == 0
    for _ in range(4):
        assert sd.run("task", "run", name, "--wait").exit_code == 0
    rows = wait_rows(sd, name, count=4)
    assert [(r.attempt, r.outcome) for r in rows] == [(1, "success")] * 4


def test_watchdog_records_a_core_dump(sd: SystemdEnv, recorder: Watchdog) -> None:
    pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    need(pattern.startswith(("core", "|")), f"core_pattern {pattern!r} writes no core files")
    workdir = sd.shared / "cores"
    workdir.mkdir(exist_ok=True)
    workdir.chmod(0o1777)  # the task runs as nobody, and the kernel writes the core here
    name = sd.add(
        "crash", "--command", "/bin/sh -c 'kill -SEGV $$'", "--schedule", "@yearly",
        "--workdir", str(workdir),
    )  # fmt: skip
    # Core dumps are off by default (soft LimitCORE=0); an operator enables them per task with
    # a drop-in like this one.
    dropin = sd.systemd.unit_dir / f"smartcron-{name}.service.d"
    dropin.mkdir(exist_ok=True)
    (dropin / "core.conf").write_text("[Service]\nLimitCORE=infinity\n")
    assert sd.run("sync").exit_code == 0
    sd.systemd.systemctl("daemon-reload")
    sd.run("task", "run", name, "--wait")
    row = wait_rows(sd, name)[-1]
    assert (row.result, row.outcome, row.exit_signal) == ("core-dump", "core-dump", "SIGSEGV")
    assert "Crashed with SIGSEGV (11) and dumped core" in row.meaning


def test_watchdog_marks_a_persistent_timer_catch_up(sd: SystemdEnv, recorder: Watchdog) -> None:
    import datetime as dt
    import os

    # Daily at an hour 12 h away, so the catch-up start is far from any scheduled time.
    hour = (dt.datetime.now(dt.UTC).hour + 12) % 24
    name = sd.add(
        "missed", "--command", "/bin/true", "--schedule", f"0 {hour} * * *", "--timezone", "UTC",
        "--catch-up",
    )  # fmt: skip
    timer = f"smartcron-{name}.timer"
    # systemd's record of the last trigger says two days ago: the host was off since then.
    stamp = Path("/var/lib/systemd/timers") / f"stamp-{timer}"
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()
    two_days_ago = time.time() - 2 * 86400
    os.utime(stamp, (two_days_ago, two_days_ago))
    try:
        assert sd.run("sync").exit_code == 0  # starts the timer, which catches up at once
        row = wait_rows(sd, name)[-1]
        assert (row.trigger, row.outcome) == ("catch-up", "success")
    finally:
        sd.systemd.systemctl("stop", timer, check=False)
        stamp.unlink(missing_ok=True)


def test_watchdog_marks_a_reboot_task_run_as_boot(sd: SystemdEnv, recorder: Watchdog) -> None:
    # OnBootSec= is long past in the running sandbox, so starting the timer elapses it at once,
    # as it does at every boot.
    name = sd.add("atboot", "--command", "/bin/true", "--schedule", "@reboot")
    assert sd.run("sync").exit_code == 0
    row = wait_rows(sd, name)[-1]
    assert (row.trigger, row.outcome) == ("boot", "success")
