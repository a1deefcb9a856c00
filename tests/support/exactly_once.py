"""The exactly-once check of `placement: one` tasks across hosts, counted by scheduled slot.

Each run of the test task appends "INVOCATION_ID HOSTNAME" to a file; the claims table says
which host claimed which slot under which invocation. A slot ran exactly once when it has
one claim (the unique key allows no second) and exactly one line of that invocation, on that
host; a line of an invocation without a claim is a run that went ahead unclaimed (twice).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcron.db.schema import claims, executions

from support.hosts import Host

EVERY_5S = "*-*-* *:*:0/5"
STEP = dt.timedelta(seconds=5)


def job_script(directory: Path, name: str) -> tuple[Path, Path]:
    """Write a job that records its invocation and host; return (script, its record file)."""
    record = directory / f"{name}.ran"
    script = directory / f"{name}.sh"
    script.write_text(f'#!/bin/sh\necho "$INVOCATION_ID $(hostname)" >> {record}\n')
    script.chmod(0o755)
    return script, record


def next_slot(after: float) -> dt.datetime:
    """The first 5-second slot after the Unix time `after`."""
    return dt.datetime.fromtimestamp((int(after) // 5 + 1) * 5, dt.UTC)


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


@dataclass
class Ledger:
    """What happened: every claim of the task and every line its runs wrote."""

    claims: dict[dt.datetime, tuple[str, str]]  # slot -> (host, invocation id)
    ran: list[tuple[str, str]]  # (invocation id, hostname), one per run of the command
    recorded: dict[str, str] = field(default_factory=dict)  # invocation -> what was recorded

    def hosts_between(self, first: dt.datetime, last: dt.datetime) -> Counter[str]:
        return Counter(h for s, (h, _) in self.claims.items() if first <= s <= last)


def read_ledger(engine: Engine, task: str, record: Path) -> Ledger:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(claims.c.slot, claims.c.host, claims.c.invocation_id).where(
                claims.c.claim_key == f"task:{task}"
            )
        ).all()
        runs = conn.execute(
            sa.select(
                executions.c.invocation_id,
                executions.c.host,
                executions.c.outcome,
                executions.c.result,
                executions.c.meaning,
            ).where(executions.c.task_name == task)
        ).all()
    held = {r.slot.replace(tzinfo=dt.UTC): (r.host, r.invocation_id or "") for r in rows}
    text = record.read_text() if record.exists() else ""
    ran = [(line.split()[0], line.split()[1]) for line in text.splitlines() if line.strip()]
    recorded = {r.invocation_id: f"{r.host} {r.outcome} {r.result}: {r.meaning}" for r in runs}
    return Ledger(held, ran, recorded)


def assert_exactly_once(ledger: Ledger, first: dt.datetime, last: dt.datetime) -> list[str]:
    """Assert that every slot from `first` to `last` ran exactly once and that no run went
    ahead without its own claim; return the host of each slot, in order."""
    assert last > first, (first, last)
    per_invocation = Counter(inv for inv, _ in ledger.ran)
    twice = {inv: n for inv, n in per_invocation.items() if n > 1}
    assert not twice, f"invocations that ran the command more than once: {twice}"
    claimed = {inv: (slot, host) for slot, (host, inv) in ledger.claims.items()}
    for inv, hostname in ledger.ran:
        assert inv in claimed, f"a run on {hostname} ({inv}) went ahead without a claim"
        assert claimed[inv][1] == hostname, (inv, hostname, claimed[inv])
    order: list[str] = []
    slot = first
    while slot <= last:
        assert slot in ledger.claims, f"slot {slot.isoformat()} was not claimed (not run)"
        host, inv = ledger.claims[slot]
        assert per_invocation[inv] == 1, (
            f"slot {slot.isoformat()}: claimed by {host} ({inv}), not run; recorded: "
            f"{ledger.recorded.get(inv, 'nothing')}"
        )
        order.append(host)
        slot += STEP
    return order


def sleep_until_idle(host: Host, task: str, moment: float, timeout: float = 120) -> None:
    """Sleep until `moment`, then on until the task's unit on `host` is not running and the
    next elapse is at least a second away: killing a host (or its database node) while it is
    claiming or running a slot would leave that slot claimed and not run, which is a
    documented limit (docs/multi-host.md), not what the test is about. On a loaded machine
    a gate can take seconds, so this polls instead of looking once per slot."""
    sleep_until(moment)
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = host.systemd.show(f"smartcron-{task}.service", "ActiveState")
        to_next = 5 - time.time() % 5
        if state.get("ActiveState") in {"inactive", "failed"} and to_next > 1:
            return
        time.sleep(0.1)
    raise AssertionError(f"{task} on {host.name} did not stop running for {timeout:.0f} s")


def stop_timers(hosts: list[Host], task: str, timeout: float = 60) -> None:
    """Stop the task's timer on each host and wait until no run of it is still going."""
    for host in hosts:
        host.systemd.systemctl("stop", f"smartcron-{task}.timer", check=False)
    deadline = time.monotonic() + timeout
    for host in hosts:
        while time.monotonic() < deadline:
            state = host.systemd.show(f"smartcron-{task}.service", "ActiveState")
            if state.get("ActiveState") in {"inactive", "failed", None}:
                break
            time.sleep(0.2)
