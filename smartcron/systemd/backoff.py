"""Growing waits between retries (a task's retry_backoff and retry_max_delay) on systemd 252.

systemd grows restart delays itself only from v254 (`RestartSteps=`, `RestartMaxDelaySec=`),
and even there along its own curve from RestartSec= to RestartMaxDelaySec=, which cannot say
"twice the wait each time, at most 10 minutes" exactly. So smartcron does the same thing on
every version: `RestartSec=` is the first (shortest) wait, and after a failed attempt the
service's `ExecStopPost=` runs `smartcron retry-wait`, which sleeps the rest of the coming
retry's wait before systemd counts RestartSec= down. The wait is measured from the moment the
attempt's main process exited (ExecMainExitTimestampMonotonic), so the helper's own start-up
does not lengthen it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence

from smartcron.model.task import Task

# What systemd passes to ExecStopPost= in $SERVICE_RESULT when the run did not fail.
_NO_RETRY_RESULTS = ("success", "")


def retry_plan(task: Task) -> tuple[int, tuple[int, ...]]:
    """Given a task, return its RestartSec= and the extra wait ExecStopPost= adds before each
    retry (retry 1 first); no extras when every wait is the same (no helper needed)."""
    waits = task.retry_waits()
    if not waits:
        return task.retry_delay, ()
    first = min(waits)
    extras = tuple(wait - first for wait in waits)
    return first, extras if any(extras) else ()


def extra_wait(restarts: int, extras: Sequence[int]) -> int:
    """Given how often the unit restarted so far and the extras, return the extra wait before
    the coming retry (restart number restarts + 1), 0 when no retry follows."""
    return extras[restarts] if 0 <= restarts < len(extras) else 0


def _show(unit: str) -> dict[str, str]:
    # systemctl, as root, reaches the manager over its private socket: no bus daemon needed.
    out = subprocess.run(
        ["systemctl", "show", "-p", "NRestarts", "-p", "ExecMainExitTimestampMonotonic", unit],
        capture_output=True,
        text=True,
        check=True,
        timeout=20,
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def wait_for_retry(
    unit: str,
    extras: Sequence[int],
    service_result: str,
    *,
    show: Callable[[str], dict[str, str]] = _show,
    sleep: Callable[[float], None] = time.sleep,
    monotonic_us: Callable[[], int] = lambda: time.monotonic_ns() // 1000,
) -> float:
    """Given the unit, its extras and $SERVICE_RESULT, sleep until the coming retry's extra
    wait has passed since the attempt exited; return the seconds slept."""
    if service_result in _NO_RETRY_RESULTS:
        return 0.0
    props = show(unit)
    extra = extra_wait(int(props.get("NRestarts") or 0), extras)
    if not extra:
        return 0.0
    exited_us = int(props.get("ExecMainExitTimestampMonotonic") or 0) or monotonic_us()
    remaining = (exited_us + extra * 1_000_000 - monotonic_us()) / 1_000_000
    if remaining > 0:
        sleep(remaining)
    return max(remaining, 0.0)
