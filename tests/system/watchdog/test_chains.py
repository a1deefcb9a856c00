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


def test_join_runs_once_after_all_its_predecessors_succeeded(
    sd: SystemdEnv, recorder: Watchdog
) -> None:
    log = sd.shared / "join-ran"
    ok = sd.script("ok.sh", "#!/bin/sh\necho ok\n")
    join = sd.script("join.sh", f"#!/bin/sh\necho ran >> {log}\n")
    bank = sd.add("bank", "--command", str(ok), "--schedule", "@yearly")
    stock = sd.add("stock", "--command", str(ok), "--schedule", "@yearly")
    payroll = sd.add("payroll", "--command", str(join), "--after", f"{bank},{stock}")
    assert sd.run("sync").exit_code == 0
    # systemd never starts a join itself: no OnSuccess= names it.
    for pred in (bank, stock):
        text = (sd.systemd.unit_dir / f"smartcron-{pred}.service").read_text()
        assert "OnSuccess=" not in text
    assert "when all have succeeded" in sd.run("task", "show", payroll).stdout
    assert sd.run("task", "run", bank, "--wait").exit_code == 0
    wait_rows(sd, bank)
    time.sleep(FOLLOW_WITHIN_S)
    assert not log.exists()  # stock has not succeeded yet
    assert sd.run("task", "run", stock, "--wait").exit_code == 0
    stock_row = _finished(wait_rows(sd, stock))[-1]
    row = _finished(wait_rows(sd, payroll))[-1]
    assert row.outcome == "success" and row.trigger == "chain", row.meaning
    assert 0 <= _gap(stock_row, row) < FOLLOW_WITHIN_S, _gap(stock_row, row)
    # Another success of one predecessor alone does not start it again.
    assert sd.run("task", "run", bank, "--wait").exit_code == 0
    time.sleep(FOLLOW_WITHIN_S + 1)
    assert log.read_text() == "ran\n"


def test_join_is_not_run_when_one_predecessor_fails(sd: SystemdEnv, recorder: Watchdog) -> None:
    log = sd.shared / "join2-ran"
    ok = sd.script("ok2.sh", "#!/bin/sh\necho ok\n")
    bad = sd.script("bad.sh", "#!/bin/sh\necho 'stock count failed' >&2\nexit 3\n")
    first = sd.add("good", "--command", str(ok), "--schedule", "@yearly")
    second = sd.add("broken", "--command", str(bad), "--schedule", "@yearly")
    join = sd.add(
        "report", "--command", f"/bin/sh -c 'echo ran >> {log}'", "--after", f"{first},{second}"
    )
    assert sd.run("sync").exit_code == 0
    sd.run("task", "run", first, "--wait")
    sd.run("task", "run", second, "--wait")
    row = _finished(wait_rows(sd, join))[-1]
    assert row.outcome == "not-run" and row.meaning.startswith(f"Not run: {second} failed")
    time.sleep(FOLLOW_WITHIN_S)
    assert not log.exists()


def test_join_that_systemd_refuses_to_start_is_recorded_not_run(
    sd: SystemdEnv, recorder: Watchdog
) -> None:
    ok = sd.script("ok3.sh", "#!/bin/sh\necho ok\n")
    first = sd.add("in1", "--command", str(ok), "--schedule", "@yearly")
    second = sd.add("in2", "--command", str(ok), "--schedule", "@yearly")
    join = sd.add("out", "--command", str(ok), "--after", f"{first},{second}")
    assert sd.run("sync").exit_code == 0
    # Someone removed the join's unit behind smartcron's back.
    (sd.systemd.unit_dir / f"smartcron-{join}.service").unlink()
    sd.systemd.systemctl("daemon-reload")
    sd.run("task", "run", first, "--wait")
    sd.run("task", "run", second, "--wait")
    row = _finished(wait_rows(sd, join))[-1]
    assert row.outcome == "not-run", row.meaning
    assert "all its predecessors succeeded, but systemd refused to start it" in row.meaning
