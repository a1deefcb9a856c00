"""Waiting for a slot of a concurrency group (docs/groups.md): what a grouped task's
`ExecStartPre=+smartcron group-wait TASK GROUP` runs, as root, before the task's command.

A group of limit N has N slot files under /run/smartcron/groups/GROUP/ (root's alone: nobody
else can hold or steal a slot). A run holds a slot with flock(2) on it. The kernel releases a
flock when the last descriptor of it closes, also when its holder is killed, so a crashed or
SIGKILLed run never leaves a slot taken.

Who holds it: ExecStartPre= ends before ExecStart= begins, so the lock is handed to a tiny
holder (`sleep infinity`, inheriting the locked descriptor) that lives on in the unit's
control group. When the command ends (exit, timeout, SIGKILL), systemd stops the unit and
KillMode=control-group (the default, which task.service.j2 keeps) ends the holder: the slot is
free again the moment the run is over. The command's own argv stays exactly as sync writes it.

Waiting, without a busy loop: waiters first line up on an exclusive flock of the group's
`queue` file (blocking: the kernel queues them), so one waiter at a time looks for a free
slot. That one tries every slot without blocking; when all are taken it sleeps in inotify
until a file of the directory is closed (a holder ending closes its slot file), then tries
again. Blocking on one chosen slot instead would wait for that slot while another frees.

The wait counts against the run's timeout: for Type=oneshot, TimeoutStartSec= covers
ExecStartPre= and ExecStart= together (a wait beyond it ends the run as a timeout). The
seconds waited are recorded under the unit's $INVOCATION_ID (db/runs.record_wait).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import select
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

GROUPS_DIR = Path("/run/smartcron/groups")
# Belt and braces: look at the slots again after this long even if no close was seen (a
# slot file removed by hand). Not a busy loop: one look a minute at most.
RECHECK_S = 60.0
_IN_CLOSE = 0x00000008 | 0x00000010  # IN_CLOSE_WRITE | IN_CLOSE_NOWRITE
_IN_CLOEXEC = 0o2000000


@dataclass(frozen=True)
class Slot:
    """A slot taken: its number, its locked descriptor and how long the wait for it took."""

    number: int
    fd: int
    waited_s: float


class _Closes:
    """An inotify watch for files of one directory being closed."""

    def __init__(self, directory: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(_IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        if libc.inotify_add_watch(self.fd, str(directory).encode(), _IN_CLOSE) < 0:
            code = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(code, f"cannot watch {directory}")

    def wait(self, timeout: float) -> None:
        """Block until some file of the directory is closed (or `timeout` seconds pass)."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready:
            os.read(self.fd, 64 * (struct.calcsize("iIII") + 256))  # drain: we only need "some"

    def close(self) -> None:
        os.close(self.fd)


def group_dir(group: str, base: Path = GROUPS_DIR) -> Path:
    """Return the directory of a group's slot files (made root-only when missing)."""
    directory = base / group
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


def _open(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        raise
    return True


def acquire(directory: Path, limit: int, *, began: float | None = None) -> Slot:
    """Block until one of the `limit` slots in `directory` is ours; return it (its descriptor
    stays locked until it is closed, in this process or any that inherits it). The wait is
    counted from `began` (time.monotonic(); default: now)."""
    began = time.monotonic() if began is None else began
    queue = _open(directory / "queue")
    try:
        fcntl.flock(queue, fcntl.LOCK_EX)  # our turn to look for a slot
        closes = _Closes(directory)  # watching before looking: no close can be missed
        fds = [_open(directory / f"slot-{n}") for n in range(limit)]
        try:
            while True:
                for number, fd in enumerate(fds):
                    if _try_lock(fd):
                        for other in fds:
                            if other != fd:
                                os.close(other)
                        return Slot(number, fd, max(0.0, time.monotonic() - began))
                closes.wait(RECHECK_S)
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        finally:
            closes.close()
    finally:
        os.close(queue)  # the next waiter's turn


def hand_over(slot: Slot) -> int:
    """Start the holder that keeps the slot's lock for the rest of the run (see the module
    docstring) and close our own descriptor; return the holder's pid."""
    sleep = shutil.which("sleep") or "/bin/sleep"
    holder = subprocess.Popen(
        [sleep, "infinity"],
        pass_fds=(slot.fd,),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
    )
    os.close(slot.fd)
    return holder.pid


class Ended(Exception):
    """The wait was ended by SIGTERM: systemd's start timeout (the run's `timeout`)."""


def _raise_ended(_signum: int, _frame: object) -> None:
    raise Ended


def _engine(database_url: str | None) -> Engine | None:
    from smartcron.db.engine import make_engine

    return make_engine(database_url) if database_url else None


def record(engine: Engine | None, invocation_id: str, seconds: float) -> str:
    """Record the wait under the run's invocation id; return "" or why it was not recorded."""
    import sqlalchemy as sa

    from smartcron.db.runs import record_wait

    if engine is None:
        return "not recorded: the configuration could not be read"
    if not invocation_id:
        return "not recorded: no $INVOCATION_ID (not started by systemd)"
    try:
        with engine.begin() as conn:
            record_wait(conn, invocation_id, round(seconds, 3))
    except sa.exc.SQLAlchemyError as exc:
        problem = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
        return f"not recorded: the database could not be reached ({problem})"
    finally:
        engine.dispose()
    return ""


def wait_for_slot(
    task: str,
    group: str,
    limit: int,
    *,
    database_url: str | None,
    invocation_id: str,
    base: Path = GROUPS_DIR,
) -> tuple[int, str]:
    """Take a slot of `group` for this run of `task` (waiting as long as it takes, or until
    SIGTERM), hand it to the holder, record the wait; return the exit status for
    ExecStartPre= (0: the command may start) and the line to log."""
    import signal

    # The database modules load before the wait (for a waiter, while others run), not
    # between the slot and the command; the wait itself is the time spent for the slot.
    engine = _engine(database_url)
    began = time.monotonic()
    previous = signal.signal(signal.SIGTERM, _raise_ended)
    try:
        slot = acquire(group_dir(group, base), limit, began=began)
    except Ended:
        waited = time.monotonic() - began
        note = record(engine, invocation_id, waited)
        return 143, (
            f"{task} gave up waiting for a slot of concurrency group {group} (max_concurrent "
            f"{limit}) after {waited:.1f} s: the run's timeout ended it; raise the group's "
            "max_concurrent or the task's timeout if it should have run"
            + (f" ({note})" if note else "")
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    hand_over(slot)
    note = record(engine, invocation_id, slot.waited_s)
    return 0, (
        f"{task} took slot {slot.number + 1} of {limit} of concurrency group {group} after "
        f"waiting {slot.waited_s:.2f} s" + (f" ({note})" if note else "")
    )
