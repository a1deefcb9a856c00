"""Chains on the real private systemd: B runs right after A succeeds (OnSuccess=), never after
A fails, and the watchdog records B as not run with the reason. Through `task run` and the
timer alike."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from smartcron.db.schema import alerts
from smartcron.watchdog.service import Watchdog

from support.systemd import SystemdEnv, wait_rows

FOLLOW_WITHIN_S = 2.0


def _chain(sd: SystemdEnv, schedule: str) -> tuple[str, str, Path, Path]:
    """A (succeeds unless the flag file `fail` exists) -> B (appends to a log)."""
    flag, log = sd.shared / "fail", sd.shared / "b-ran"
    a = sd.script(
        "a.sh", f"#!/bin/sh\nif [ -e {flag} ]; then echo 'bank import failed' >&2; exit 4; fi\n"
    )
    b = sd.script("b.sh", f"#!/bin/sh\necho ran >> {log}\n")
    first = sd.add("a", "--command", str(a), "--schedule", schedule)
    second = sd.add("b", "--command", str(b), "--after", first)
    synced = sd.run("sync")
    assert synced.exit_code == 0, synced.stderr + synced.stdout
    return first, second, flag, log


def _finished(rows: list[Any]) -> list[Any]:
    return [r for r in rows if r.outcome != "running"]


def _gap(pred: Any, follower: Any) -> float:
    return float((follower.started_at - pred.finished_at).total_seconds())


def test_chain_follower_runs_after_success_on_task_run(sd: SystemdEnv, recorder: Watchdog) -> None:
    first, second, _flag, log = _chain(sd, "@yearly")
    assert not (sd.systemd.unit_dir / f"smartcron-{second}.timer").exists()
    shown = sd.run("task", "show", second)
    assert f"runs after: {first} (when it succeeds)" in shown.stdout
    assert f"chain: {first} -> {second}" in shown.stdout
    assert sd.run("task", "run", first, "--wait").exit_code == 0
    a_row = _finished(wait_rows(sd, first))[-1]
    b_row = _finished(wait_rows(sd, second))[-1]
    assert a_row.outcome == "success" and b_row.outcome == "success", b_row.meaning
    assert b_row.trigger == "chain"
    assert 0 <= _gap(a_row, b_row) < FOLLOW_WITHIN_S, _gap(a_row, b_row)
    assert log.read_text() == "ran\n"


def test_chain_follower_is_recorded_not_run_after_failure(
    sd: SystemdEnv, recorder: Watchdog
) -> None:
    first, second, flag, log = _chain(sd, "@yearly")
    flag.write_text("")
    sd.run("task", "run", first, "--wait")
    a_row = _finished(wait_rows(sd, first))[-1]
    assert a_row.outcome == "failed"
    b_row = _finished(wait_rows(sd, second))[-1]
    assert b_row.outcome == "not-run" and b_row.trigger == "chain"
    assert b_row.meaning.startswith(f"Not run: {first} failed (failed (exit status)")
    time.sleep(FOLLOW_WITHIN_S)  # B would have started by now
    assert not log.exists()
    assert len(_finished(wait_rows(sd, second))) == 1
    # The predecessor's failure alerts; the follower's not-run row does not.
    deadline = time.monotonic() + 15
    alerted: list[str] = []
    while first not in alerted and time.monotonic() < deadline:
        with sd.engine.connect() as conn:
            alerted = list(conn.execute(sa.select(alerts.c.task_name)).scalars())
        time.sleep(0.2)
    assert first in alerted and second not in alerted, alerted


def test_chain_follower_runs_after_timer_success_and_never_after_timer_failure(
    sd: SystemdEnv, recorder: Watchdog
) -> None:
    first, second, flag, log = _chain(sd, "*:*:0/3")
    a_rows = _finished(wait_rows(sd, first, count=1, timeout=15))
    b_row = _finished(wait_rows(sd, second, count=1, timeout=15))[-1]
    assert a_rows[0].trigger == "timer" and a_rows[0].outcome == "success"
    assert b_row.outcome == "success" and b_row.trigger == "chain"
    assert 0 <= _gap(a_rows[0], b_row) < FOLLOW_WITHIN_S, _gap(a_rows[0], b_row)
    flag.write_text("")
    runs_before = log.read_text().count("ran")
    deadline = time.monotonic() + 15
    failed: list[Any] = []
    while not failed and time.monotonic() < deadline:
        failed = [r for r in _finished(wait_rows(sd, first)) if r.outcome == "failed"]
        time.sleep(0.2)
    assert failed, "the timer did not run the failing predecessor"
    not_run = [r for r in _finished(wait_rows(sd, second, count=2)) if r.outcome == "not-run"]
    assert not_run and first in not_run[0].meaning
    assert sd.run("task", "pause", first).exit_code == 0
    time.sleep(FOLLOW_WITHIN_S)
    assert log.read_text().count("ran") <= runs_before + 1  # one success may race the flag
