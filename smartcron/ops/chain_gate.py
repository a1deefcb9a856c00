"""The gate's chain check: a follower started by a predecessor whose gate declined its run.

systemd treats a run that its ExecCondition= declined as a success, so `OnSuccess=` starts
the followers of a predecessor that never ran its command (a maintenance window, a slot
another host ran): the chain went on as if it had run (measured on systemd 252). The
follower's own ExecCondition= cannot see which unit started it ($MONITOR_INVOCATION_ID is
set for ExecStart= and ExecStartPre=, not for ExecCondition=), so the facts come from the
units themselves: the follower started when the predecessor went inactive, and the
predecessor's main process did not start in its last activation.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcron.db.schema import executions
from smartcron.model.outcome import SKIP_OUTCOMES
from smartcron.systemd.units import PREFIX

TIMES = ("InactiveExitTimestampMonotonic", "InactiveEnterTimestampMonotonic",
         "ExecMainStartTimestampMonotonic")  # fmt: skip
STARTED_BY_WITHIN_US = 2_000_000  # OnSuccess= starts the follower as the predecessor ends
# A unit without ExecCondition= stamps its main process's start a few µs BEFORE it leaves
# inactive (systemd spawns it, then changes state): "the command did not start in this
# activation" is a main start well before the activation, not merely before it.
NOT_THIS_RUN_US = 500_000


def command_started(began: int, main: int) -> bool:
    """Given a unit's InactiveExit and ExecMainStart timestamps (µs, one clock), return True
    if its main process started in that activation."""
    return main >= began - NOT_THIS_RUN_US


def unit_times(tasks: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    """Return, per task, its service's (InactiveExit, InactiveEnter, ExecMainStart) monotonic
    timestamps in µs (0: never), or nothing for a task systemd cannot say about."""
    units = [f"{PREFIX}{t}.service" for t in tasks]
    try:
        out = subprocess.run(
            ["systemctl", "show", f"--property={','.join(TIMES)}", *units],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {}
    blocks = out.strip().split("\n\n")
    found: dict[str, tuple[int, int, int]] = {}
    for task, block in zip(tasks, blocks, strict=False):
        values = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        raw = [values.get(name, "") for name in TIMES]
        if all(v.isascii() and v.isdigit() for v in raw):
            found[task] = (int(raw[0]), int(raw[1]), int(raw[2]))
    return found


def declined_predecessor(
    follower: str, after: Sequence[str], times: Mapping[str, tuple[int, int, int]]
) -> str | None:
    """Given a follower, its predecessors and their unit_times, return the predecessor whose
    end started this run of the follower without its own command having run, or None."""
    started = times.get(follower, (0, 0, 0))[0]
    for name in after:
        began, ended, main = times.get(name, (0, 0, 0))
        if not (started and began and ended):
            continue
        if abs(started - ended) <= STARTED_BY_WITHIN_US and not command_started(began, main):
            return name
    return None


def declined_reason(
    engine: Engine, predecessor: str, host: str, since: dt.datetime
) -> tuple[str, str]:
    """Return the predecessor's skip here since `since` (its last activation) as (outcome,
    meaning), as its gate recorded it before its unit ended; ("skipped", "") when there is
    none or it cannot be read (never an older skip's reason)."""
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.select(executions.c.outcome, executions.c.meaning)
                .where(
                    executions.c.task_name == predecessor,
                    executions.c.host == host,
                    executions.c.outcome.in_(SKIP_OUTCOMES),
                    executions.c.started_at >= since,
                )
                .order_by(executions.c.id.desc())
                .limit(1)
            ).first()
    except sa.exc.SQLAlchemyError:
        return "skipped", ""
    return (str(row.outcome), str(row.meaning or "")) if row is not None else ("skipped", "")


def wall_time(monotonic_us: int) -> dt.datetime:
    """Given a CLOCK_MONOTONIC timestamp of systemd's (µs), return it as UTC wall time."""
    ago = max(0.0, time.monotonic() - monotonic_us / 1e6)
    return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=ago)
