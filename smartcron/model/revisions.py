"""Root's record of the revisions it installed and removed: the part of the signing boundary
the database cannot hold.

A signed row stays valid forever, so the `smartcron` account (which can write the database)
could put back an old signed definition. While the task's units are installed, sync compares
with the revision they carry; once root has removed a task (task rm, then sync) there are no
units left to compare with, and the old row, one running as root perhaps, would be installed
again. So root keeps this ledger beside its signing key, where the `smartcron` account can
neither read nor write: the newest revision sync installed for each name and the revision at
which each task was removed. Sync refuses a row older than the one installed, and a removed
task's revisions; adding the task again signs a new, later revision.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from smartcron.errors import OperationFailed
from smartcron.fileio import atomic_write
from smartcron.model.signing import UnsafeFile, read_owned


def ledger_path(signing_key_file: str) -> Path:
    """Given the signing key's path, return the ledger's (beside it, as private)."""
    return Path(signing_key_file + ".revisions.json")


@dataclass
class Ledger:
    """Newest installed and removed revision per task name."""

    path: Path
    installed: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)

    def floor(self, name: str, installed_now: int | None) -> int | None:
        """Given a task and the revision its units carry now, return the oldest revision
        sync may install (None: any)."""
        known = [r for r in (installed_now, self.installed.get(name)) if r is not None]
        return max(known) if known else None

    def note_installed(self, name: str, revision: int) -> None:
        self.installed[name] = max(revision, self.installed.get(name, 0))
        self.removed.pop(name, None)  # a later revision was signed and installed

    def note_removed(self, name: str, revision: int | None) -> None:
        last = max(r for r in (revision, self.installed.get(name), 0) if r is not None)
        self.removed[name] = max(last, self.removed.get(name, 0))
        self.installed.pop(name, None)

    def save(self) -> None:
        body = {"installed": self.installed, "removed": self.removed}
        atomic_write(self.path, json.dumps(body, sort_keys=True, indent=1) + "\n", mode=0o600)


def _refuse(path: Path, why: str) -> OperationFailed:
    return OperationFailed(
        f"revision ledger {path}: {why}. It records which signed task revisions root "
        "installed and removed (docs/install.md, 'Security model'); it must belong to root, "
        "mode 600. "
        "If it was damaged, move it aside: the next `sudo smartcron sync` starts a new one"
    )


def load_ledger(signing_key_file: str) -> Ledger:
    """Return root's ledger (an empty one when there is none yet).

    Like the key, it must be owned by root or the caller and writable by its owner only.
    """
    path = ledger_path(signing_key_file)
    try:
        raw = read_owned(str(path), 0o022, "change it")
    except UnsafeFile as exc:
        raise _refuse(path, str(exc)) from None
    if raw is None:
        return Ledger(path)
    try:
        body = json.loads(raw)
        installed = {str(k): int(v) for k, v in body.get("installed", {}).items()}
        removed = {str(k): int(v) for k, v in body.get("removed", {}).items()}
    except (ValueError, TypeError, AttributeError):
        raise _refuse(path, "not a revision ledger (unreadable JSON)") from None
    return Ledger(path, installed, removed)


class Outcome(Protocol):
    """What sync did for one task (systemd/sync.py's TaskPlan after apply)."""

    name: str
    action: str
    revision: int | None


def remember(done: Iterable[Outcome], signing_key_file: str) -> None:
    """After sync applied its plans, write into root's ledger the revision each task now has
    installed and the revision at which each removed task went, so that neither an older row
    nor a removed task's row is installed again."""
    ledger = load_ledger(signing_key_file)
    before = (dict(ledger.installed), dict(ledger.removed))
    for p in done:
        if p.action in {"created", "updated", "unchanged"} and p.revision is not None:
            ledger.note_installed(p.name, p.revision)
        elif p.action == "removed":
            ledger.note_removed(p.name, p.revision)
    if (ledger.installed, ledger.removed) != before:
        ledger.save()
