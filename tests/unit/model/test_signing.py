"""Signed task definitions (model/signing.py): what the signature covers, and when sync must
refuse a stored task. Pure: an in-memory key and validated tasks."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from smartcron.errors import OperationFailed
from smartcron.model.signing import Signer, load_signer, next_revision, payload, refusal
from smartcron.model.task import FIELD_SPECS
from smartcron.model.validate import validate_task

KEY = Signer(b"k" * 32, "(test)")
OTHER = Signer(b"o" * 32, "(other)")


def _task(**extra: object):  # type: ignore[no-untyped-def]
    data = {"name": "pos", "command": ["/bin/true"], "schedule": "@daily", "timezone": "UTC"}
    task = validate_task({**data, **extra}, check_host=False)
    task = dataclasses.replace(task, revision=100)
    return dataclasses.replace(task, signature=KEY.sign(task))


def test_signed_task_verifies_with_its_key_only() -> None:
    task = _task()
    assert KEY.verify(task) and refusal(task, KEY, None) is None
    assert not OTHER.verify(task) and "does not match its signature" in str(
        refusal(task, OTHER, None)
    )


CHANGES = {
    "command": ("/usr/bin/id",),
    "user": "root",
    "group": "root",
    "workdir": "/root",
    "env": (("LD_PRELOAD", "/tmp/x.so"),),
    "schedule": "@hourly",
    "timeout": 7,
    "description": "other",
    "channels": ("evil",),
    "name": "other",
}


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_any_change_but_paused_breaks_the_signature(field: str) -> None:
    changed = dataclasses.replace(_task(), **{field: CHANGES[field]})
    assert not KEY.verify(changed)
    assert "does not match its signature" in str(refusal(changed, KEY, None))


def test_pause_and_the_database_id_are_not_signed() -> None:
    task = _task()
    assert KEY.verify(dataclasses.replace(task, paused=True, id=42))


def test_every_field_but_paused_is_covered() -> None:
    task = _task()
    covered = {s.name for s in FIELD_SPECS if s.name != "paused"}
    for name in covered:
        spec = next(s for s in FIELD_SPECS if s.name == name)
        if spec.plain(getattr(task, name)) != spec.plain_default:
            assert f'"{name}"' in payload(task).decode(), name


def test_unsigned_and_replayed_definitions_are_refused() -> None:
    task = _task()
    assert "not signed" in str(refusal(dataclasses.replace(task, signature=""), KEY, None))
    assert refusal(task, KEY, 100) is None  # the installed one
    assert "older than the installed revision 101" in str(refusal(task, KEY, 101))
    bumped = dataclasses.replace(task, revision=50)  # a lower revision, same signature
    assert not KEY.verify(bumped)


def test_revisions_only_grow() -> None:
    assert next_revision(0, now_us=1000) == 1000
    assert next_revision(5000, now_us=1000) == 5001  # the clock went back
    assert next_revision(5000) > 5000


def test_fields_at_their_default_are_left_out_of_what_is_signed() -> None:
    # A field added by a later version, at its default, keeps old signatures valid.
    body = payload(_task()).decode()
    assert '"retries"' not in body and '"paused"' not in body and '"command"' in body


def test_key_file_rules(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    with pytest.raises(OperationFailed, match="missing"):
        load_signer(str(path))
    created = load_signer(str(path), create=True)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_signer(str(path)).key == created.key and len(created.key) == 32
    path.chmod(0o644)
    with pytest.raises(OperationFailed, match="mode 644 lets others read it"):
        load_signer(str(path))
    path.chmod(0o600)
    path.write_text("not hex\n")
    with pytest.raises(OperationFailed, match="not a key"):
        load_signer(str(path))
    link = tmp_path / "link.key"
    os.symlink(path, link)
    with pytest.raises(OperationFailed, match="cannot be read"):
        load_signer(str(link))
