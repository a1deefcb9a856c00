"""Journal reconciliation (pure): systemd's own messages in, one finished run per invocation."""

from __future__ import annotations

import datetime as dt

from smartcron.systemd.journal import (
    MSG_FAILED,
    MSG_PROCESS_EXIT,
    MSG_RESTART_SCHEDULED,
    MSG_STARTING,
    MSG_SUCCESS,
)
from smartcron.watchdog.reconcile import reconcile

T0 = 1_764_000_000_000_000  # usec


def _entry(n: int, message_id: str, unit: str, inv: str, at: int, **extra: str) -> dict[str, str]:
    return {
        "__CURSOR": f"c{n}",
        "UNIT": unit,
        "INVOCATION_ID": inv,
        "MESSAGE_ID": message_id,
        "__REALTIME_TIMESTAMP": str(at),
        **extra,
    }


def test_reconcile_rebuilds_a_success_and_a_failure() -> None:
    entries = [
        _entry(1, MSG_STARTING, "smartcron-pos.service", "a" * 32, T0),
        _entry(2, MSG_SUCCESS, "smartcron-pos.service", "a" * 32, T0 + 2_000_000),
        _entry(3, MSG_STARTING, "smartcron-bank.service", "b" * 32, T0 + 10),
        _entry(
            4,
            MSG_PROCESS_EXIT,
            "smartcron-bank.service",
            "b" * 32,
            T0 + 500_000,
            EXIT_CODE="exited",
            EXIT_STATUS="3",
        ),
        _entry(
            5,
            MSG_FAILED,
            "smartcron-bank.service",
            "b" * 32,
            T0 + 600_000,
            UNIT_RESULT="exit-code",
        ),
    ]
    found = reconcile(entries)
    assert found.cursor == "c5"
    by_task = {e.task: e for e in found.events}
    assert by_task["pos"].result == "success" and by_task["pos"].exec_status == 0
    assert by_task["pos"].finished_at - by_task["pos"].started_at == dt.timedelta(seconds=2)
    assert by_task["bank"].result == "exit-code"
    assert (by_task["bank"].exec_code, by_task["bank"].exec_status) == (1, 3)
    assert all(e.source == "journal" for e in found.events)


def test_reconcile_counts_attempts_after_a_scheduled_restart() -> None:
    unit = "smartcron-flaky.service"
    entries = [
        _entry(1, MSG_STARTING, unit, "1" * 32, T0),
        _entry(2, MSG_FAILED, unit, "1" * 32, T0 + 1, UNIT_RESULT="exit-code"),
        _entry(3, MSG_RESTART_SCHEDULED, unit, "1" * 32, T0 + 2),
        _entry(4, MSG_STARTING, unit, "2" * 32, T0 + 3),
        _entry(5, MSG_SUCCESS, unit, "2" * 32, T0 + 4),
    ]
    attempts = {e.invocation_id[0]: e.attempt for e in reconcile(entries).events}
    assert attempts == {"1": 1, "2": 2}


def test_reconcile_ignores_other_units_and_unfinished_runs() -> None:
    entries = [
        _entry(1, MSG_STARTING, "ssh.service", "c" * 32, T0),
        _entry(2, MSG_SUCCESS, "ssh.service", "c" * 32, T0 + 1),
        _entry(3, MSG_STARTING, "smartcron-alert@x.service", "d" * 32, T0),
        _entry(4, MSG_SUCCESS, "smartcron-alert@x.service", "d" * 32, T0 + 1),
        _entry(5, MSG_STARTING, "smartcron-long.service", "e" * 32, T0),  # still running
    ]
    found = reconcile(entries)
    assert found.events == []
    assert found.cursor == "c5"  # the cursor moves on anyway


def test_reconcile_a_timeout_in_exec_start_pre_never_started_its_command() -> None:
    # systemd 252's messages of a run killed at its timeout while `smartcron group-wait`
    # (ExecStartPre=) still waited for a slot: only a control process exited.
    unit, inv = "smartcron-g3.service", "c" * 32
    entries = [
        _entry(1, MSG_STARTING, unit, inv, T0),
        _entry(
            2,
            MSG_PROCESS_EXIT,
            unit,
            inv,
            T0 + 4_000_000,
            MESSAGE="smartcron-g3.service: Control process exited, code=exited, status=143/n/a",
            EXIT_CODE="exited",
            EXIT_STATUS="143",
        ),
        _entry(3, MSG_FAILED, unit, inv, T0 + 4_010_000, UNIT_RESULT="timeout"),
    ]
    (event,) = reconcile(entries).events
    assert event.result == "timeout" and not event.command_started
    assert event.started_at == dt.datetime.fromtimestamp(T0 / 1e6, tz=dt.UTC)  # the wait began
    assert event.exec_status is None  # 143 was group-wait's, not the command's
