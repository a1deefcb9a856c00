"""What `smartcron sync --diff` prints: the change a plan makes on disk, as a unified diff."""

from __future__ import annotations

import difflib
from pathlib import Path

from smartcron.systemd.sync import TaskPlan


def diff(plan_: TaskPlan, unit_dir: Path) -> str:
    """Return a unified diff of what applying the plan changes on disk."""
    chunks: list[str] = []
    for name in sorted(plan_.writes):
        path = unit_dir / name
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        chunks.extend(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                plan_.writes[name].splitlines(keepends=True),
                fromfile=str(path) if old else "/dev/null",
                tofile=str(path),
            )
        )
    for name in plan_.deletes:
        path = unit_dir / name
        chunks.extend(
            difflib.unified_diff(
                path.read_text(encoding="utf-8").splitlines(keepends=True),
                [],
                fromfile=str(path),
                tofile="/dev/null",
            )
        )
    return "".join(chunks)
