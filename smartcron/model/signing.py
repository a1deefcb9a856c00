"""Signed task definitions: the boundary between the `smartcron` account and root.

The `smartcron` account (the dashboard, the watchdog) can write the database, and root's
`smartcron sync` turns task rows into units that run as any user. So sync installs only
definitions signed with a key that root alone can read (the signing_key_file setting, mode
0600): every command that defines a task (task add/edit/sign, import, import-crontab) signs
what it stores, and sync verifies it. A row changed behind smartcron's back, such as an
`UPDATE tasks SET command=...`, no longer matches its signature and is refused.

What is signed: every field of the task but `paused` (the dashboard pauses and resumes tasks,
which needs no root), and the task's revision, which grows with every signed change. Sync
also refuses a revision older than the one its installed units carry, so putting back an
earlier signed row (a replay of a definition root has since changed) is refused as well.
Fields at their default are left out of what is signed, so that a field added by a later
version does not invalidate the signatures made before it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import time
from dataclasses import dataclass

from smartcron.errors import OperationFailed
from smartcron.model.task import FIELD_SPECS, Task

SCHEME = "v1"
UNSIGNED_FIELDS = frozenset({"paused"})
KEY_BYTES = 32
_DEFAULTS = {spec.name: spec.plain_default for spec in FIELD_SPECS}


def payload(task: Task) -> bytes:
    """Given a task, return the canonical bytes its signature covers."""
    fields = {}
    for spec in FIELD_SPECS:
        if spec.name not in UNSIGNED_FIELDS:
            value = spec.plain(getattr(task, spec.name))
            if value != _DEFAULTS[spec.name]:
                fields[spec.name] = value
    body = {"scheme": SCHEME, "name": task.name, "revision": task.revision, "task": fields}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def next_revision(previous: int, now_us: int | None = None) -> int:
    """Return the revision of a new signed change: the time in microseconds, and always more
    than the previous revision (a clock set back must not make a change look older)."""
    now = time.time_ns() // 1000 if now_us is None else now_us
    return max(now, previous + 1)


@dataclass(frozen=True)
class Signer:
    """A loaded signing key."""

    key: bytes
    path: str

    def sign(self, task: Task) -> str:
        """Given a task (with its revision), return its signature."""
        digest = hmac.new(self.key, payload(task), hashlib.sha256).hexdigest()
        return f"{SCHEME}:{digest}"

    def verify(self, task: Task) -> bool:
        """Return True if the task's stored signature is this key's signature of it."""
        return bool(task.signature) and hmac.compare_digest(task.signature, self.sign(task))

    # Signing ~1,000 tasks costs about 10 ms: sync verifies every row, every time.


def refusal(
    task: Task,
    signer: Signer,
    installed_revision: int | None,
    removed_revision: int | None = None,
) -> str | None:
    """Given a stored task, the newest revision root installed for it and the revision at
    which root removed it (model/revisions.py), return why sync must not install it, or None
    when it is the signed definition (and not an older or a removed one)."""
    if not task.signature:
        return (
            "refused: this definition is not signed, so it was not written by a smartcron "
            "command run as root. Check it with `smartcron task show "
            f"{task.name}`; if it is right, sign it with `sudo smartcron task sign {task.name}`"
        )
    if not signer.verify(task):
        return (
            "refused: the definition in the database does not match its signature: it was "
            "changed outside smartcron (its command, user or another field may have been "
            "altered), or the signing key was replaced. The installed units keep the last "
            f"signed definition. Check it with `smartcron task show {task.name} --show-env`; "
            f"if it is right, `sudo smartcron task sign {task.name}`, otherwise set it right "
            "with `sudo smartcron import` of your task file (or remove and add it again)"
        )
    if installed_revision is not None and task.revision < installed_revision:
        return (
            f"refused: revision {task.revision} is older than the installed revision "
            f"{installed_revision}: an earlier signed definition was put back in the database. "
            f"Check it with `smartcron task show {task.name}` and sign the one you want with "
            f"`sudo smartcron task sign {task.name}`"
        )
    if removed_revision is not None and task.revision <= removed_revision:
        return (
            f"refused: task {task.name} was removed by root (at revision {removed_revision}) "
            f"and this row carries revision {task.revision}: an earlier signed definition "
            "was put back in the database. It stays uninstalled. If you want the task back, "
            f"add it again as root (`sudo smartcron task add {task.name} ...` or `sudo "
            f"smartcron import` of your task file); otherwise `smartcron task rm {task.name}`"
        )
    return None


def _refuse(path: str, why: str) -> OperationFailed:
    return OperationFailed(
        f"signing key {path}: {why}. Task definitions are signed with a key only root can "
        "read: define tasks and run `smartcron sync` as root (sudo); install.sh creates the "
        "key (signing_key_file in docs/configuration.md)"
    )


class UnsafeFile(Exception):
    """A private file of root's that cannot be trusted; the text says why."""


def read_owned(path: str, forbidden: int, what_others_may: str) -> bytes | None:
    """Given a private file's path and the mode bits others must not have, return its bytes
    (None if there is no such file). Raises UnsafeFile when it cannot be read, belongs to
    someone other than root or the caller, or has a forbidden mode bit (a link is refused)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UnsafeFile(f"cannot be read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if info.st_uid not in (0, os.geteuid()):
            raise UnsafeFile(f"owned by uid {info.st_uid}, not by root")
        if stat.S_IMODE(info.st_mode) & forbidden:
            raise UnsafeFile(f"mode {stat.S_IMODE(info.st_mode):o} lets others {what_others_may}")
        return handle.read()


def load_signer(path: str, *, create: bool = False) -> Signer:
    """Return the signing key at `path`; with `create`, make a new one if there is none.

    The key must be readable by its owner only (0600), and owned by root or by the caller:
    a key someone else could read or replace protects nothing.
    """
    try:
        raw = read_owned(path, 0o077, "read it; chmod 600 it")
    except UnsafeFile as exc:
        raise _refuse(path, str(exc)) from None
    if raw is None:
        if not create:
            raise _refuse(path, "missing")
        return _create(path)
    text = raw.decode("ascii", "replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise _refuse(path, f"not a key (expected {KEY_BYTES * 2} hexadecimal digits)")
    return Signer(key, path)


def _create(path: str) -> Signer:
    key = secrets.token_bytes(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return load_signer(path)  # made meanwhile by another command: use that one
    except OSError as exc:
        raise _refuse(path, f"cannot be created ({exc.strerror})") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return Signer(key, path)
