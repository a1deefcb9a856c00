"""Root's revision ledger (model/revisions.py): what it keeps and what it refuses to trust."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smartcron.errors import OperationFailed
from smartcron.model.revisions import load_ledger


def test_ledger_keeps_installed_and_removed_revisions(tmp_path: Path) -> None:
    key = str(tmp_path / "signing.key")
    ledger = load_ledger(key)
    ledger.note_installed("a", 10)
    ledger.note_installed("b", 5)
    ledger.note_removed("b", None)  # removed without a revision on disk: the installed one
    ledger.save()
    again = load_ledger(key)
    assert again.floor("a", None) == 10 and again.floor("a", 12) == 12
    assert again.removed == {"b": 5} and "b" not in again.installed
    again.note_installed("b", 9)  # added again by root: a later revision
    assert "b" not in again.removed


def test_ledger_others_may_change_is_refused(tmp_path: Path) -> None:
    key = str(tmp_path / "signing.key")
    load_ledger(key).save()
    os.chmod(key + ".revisions.json", 0o620)
    with pytest.raises(OperationFailed, match="lets others change it"):
        load_ledger(key)


def test_ledger_damaged_is_refused_with_the_way_out(tmp_path: Path) -> None:
    key = str(tmp_path / "signing.key")
    Path(key + ".revisions.json").write_text("{not json")
    os.chmod(key + ".revisions.json", 0o600)
    with pytest.raises(OperationFailed, match="move it aside"):
        load_ledger(key)
