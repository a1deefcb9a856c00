"""Backup rotation (pure, on a directory of files): scheduled backups rotate, hand-made ones
stay, and a recent backup is never the one deleted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from smartcron.ops import backup

NOW = dt.datetime(2026, 11, 27, 3, 30, tzinfo=dt.UTC)


def _make(folder: Path, when: dt.datetime, suffix: str = "") -> str:
    stamp = when.strftime("%Y%m%dT%H%M%SZ") + suffix
    (folder / f"smartcron-{stamp}.sqlite3").write_text("x")
    (folder / f"smartcron-{stamp}.tasks.yaml").write_text("x")
    return f"smartcron-{stamp}.sqlite3"


def test_rotation_never_deletes_a_backup_taken_by_hand(tmp_path: Path) -> None:
    # The safety copy taken before an upgrade, then the nightly run the same day.
    by_hand = _make(tmp_path, NOW - dt.timedelta(hours=2), backup.MANUAL)
    for days in range(10):
        _make(tmp_path, NOW - dt.timedelta(days=days, minutes=1))
    backup.rotate(tmp_path, daily=2, weekly=1, now=NOW)
    left = {p.name for p in tmp_path.iterdir()}
    assert by_hand in left and by_hand.replace(".sqlite3", ".tasks.yaml") in left


def test_rotation_keeps_every_scheduled_backup_younger_than_a_day(tmp_path: Path) -> None:
    recent = [_make(tmp_path, NOW - dt.timedelta(hours=h)) for h in (1, 5, 9)]
    old = _make(tmp_path, NOW - dt.timedelta(days=20))
    backup.rotate(tmp_path, daily=1, weekly=1, now=NOW)
    left = {p.name for p in tmp_path.iterdir()}
    assert set(recent) <= left
    assert old not in left  # a weekly slot is taken by the newest of this week
