"""`smartcron sync` on a host renders only the tasks placed on it, and removes the units of a
task moved away (real private systemd)."""

from __future__ import annotations

import pytest

from support.systemd import SystemdEnv


def test_sync_renders_only_tasks_placed_here_and_removes_moved_ones(
    sd: SystemdEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTCRON_HOST_NAME", "b")
    here = sd.add("here", "--command", "/bin/true", "--schedule", "@daily")  # default: host b
    every = sd.add("every", "--command", "/bin/true", "--schedule", "@daily", "--hosts", "*")
    added = sd.run("task", "add", sd.name("there"), "--command", "/bin/true", "--schedule",
                   "@daily", "--hosts", "c")  # fmt: skip
    assert added.exit_code == 0 and "hosts: c not known" in added.stderr
    assert sd.run("sync").exit_code == 0
    unit_dir = sd.systemd.unit_dir
    for name in (here, every):
        assert (unit_dir / f"smartcron-{name}.timer").exists()
    assert not (unit_dir / f"smartcron-{sd.name('there')}.timer").exists()
    # Move `here` from b to c: syncing b removes its units and stops its timer.
    assert sd.run("task", "edit", here, "--hosts", "c").exit_code == 0
    result = sd.run("sync")
    assert result.exit_code == 0, result.stderr
    assert not (unit_dir / f"smartcron-{here}.timer").exists()
    assert not (unit_dir / f"smartcron-{here}.service").exists()
    assert sd.systemd.show(f"smartcron-{here}.timer", "LoadState")["LoadState"] == "not-found"
    # On c, the same database renders it.
    monkeypatch.setenv("SMARTCRON_HOST_NAME", "c")
    assert sd.run("sync").exit_code == 0
    assert (unit_dir / f"smartcron-{here}.timer").exists()
    assert (unit_dir / f"smartcron-{sd.name('there')}.timer").exists()
    assert (unit_dir / f"smartcron-{every}.timer").exists()
