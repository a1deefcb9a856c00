"""Atomic file writes: a reader sees the old file or the new one, never half of either. And
the one way an input file (a task file, a crontab) is read: UTF-8, or one line saying why not."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from smartcron.errors import InvalidInput


def atomic_write(path: Path, text: str, *, mode: int = 0o644, sync_dir: bool = True) -> None:
    """Given a path and its new text, replace the file atomically (temp file, fsync, rename).

    With sync_dir=False the caller fsyncs the directory once after a batch (`fsync_dir`).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make renames in `directory` durable."""
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_input(path: Path, field: str = "FILE") -> str:
    """Given an input file and the argument that names it, return its text, or raise
    InvalidInput naming the file: it cannot be read, or it is not UTF-8 (where, and what)."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(field, str(path), f"cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1].hex()
        raise InvalidInput(
            field,
            str(path),
            f"the file must be UTF-8 text: byte 0x{bad} at offset {exc.start} is not UTF-8 "
            "(convert it, e.g. iconv -f latin1 -t utf-8)",
        ) from None
