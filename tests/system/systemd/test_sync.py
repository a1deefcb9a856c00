"""`smartcron sync` against a real private systemd: files, reloads, drift, and safety."""

from __future__ import annotations

import json
import os

import sqlalchemy as sa

from smartcron.db.schema import tasks as tasks_table
from smartcron.db.tasks import sign_task

from support import signer
from support.systemd import SystemdEnv


def _sync_json(sd: SystemdEnv, *extra: str) -> dict[str, object]:
    result = sd.run("sync", "--json", *extra)
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


def _mtimes(sd: SystemdEnv) -> dict[str, int]:
    return {
        p.name: p.stat().st_mtime_ns for p in sd.systemd.unit_dir.glob(f"smartcron-{sd.prefix}-*")
    }


def test_sync_creates_units_and_starts_verified_timers(sd: SystemdEnv) -> None:
    a = sd.add("pos-sync", "--command", "/bin/true", "--schedule", "*/5 * * * *")
    b = sd.add("payroll", "--command", "/bin/true", "--schedule", "0 18 * * fri", "--paused")
    out = _sync_json(sd)
    assert sorted(out["created"]) == sorted([a, b])  # type: ignore[arg-type]
    assert out["failed"] == [] and out["daemon_reload"] is True
    assert sd.systemd.show(f"smartcron-{a}.timer", "ActiveState")["ActiveState"] == "active"
    assert sd.systemd.show(f"smartcron-{b}.timer", "ActiveState")["ActiveState"] == "inactive"
    wants = sd.systemd.unit_dir / "smartcron-tasks.target.wants"
    assert (wants / f"smartcron-{a}.timer").is_symlink()
    assert not (wants / f"smartcron-{b}.timer").exists()
    # At boot, timers.target pulls in smartcron-tasks.target, which wants the active timers.
    boot = sd.systemd.unit_dir / "timers.target.wants" / "smartcron-tasks.target"
    assert boot.is_symlink() and (sd.systemd.unit_dir / "smartcron-tasks.target").exists()
    timers = sd.systemd.systemctl("list-timers", "--all", "--no-legend").stdout
    assert f"smartcron-{a}.timer" in timers


def test_sync_generated_units_pass_systemd_analyze_verify(sd: SystemdEnv) -> None:
    name = sd.add(
        "full",
        "--command",
        "/bin/echo 100% $HOME \"q\" 'back\\slash' ünï",
        "--schedule",
        "0 9 1-7 * mon",
        "--timezone",
        "Pacific/Auckland",
        "--timeout",
        "10m",
        "--retries",
        "3",
        "--retry-delay",
        "45s",
        "--memory-max",
        "256M",
        "--cpu-quota",
        "50%",
        "--nice",
        "10",
        "--user",
        "nobody",
        "--group",
        "nogroup",
        "--workdir",
        "/var/tmp",
        "--env",
        "A=x %h $y",
        "--description",
        "Everything 100% set",
    )
    reboot = sd.add("boot", "--command", "/bin/true", "--schedule", "@reboot")
    native = sd.add("native", "--command", "/bin/true", "--schedule", "Mon..Fri *-*-* 09:00:00")
    assert _sync_json(sd)["failed"] == []
    files = [
        f"/run/systemd/system/smartcron-{n}.{kind}"
        for n in (name, reboot, native)
        for kind in ("service", "timer")
    ]
    proc = sd.systemd.run(["systemd-analyze", "verify", "--man=no", *files], check=False)
    assert proc.returncode == 0, proc.stderr


def test_sync_second_run_writes_nothing_and_does_not_reload(sd: SystemdEnv) -> None:
    sd.add("a", "--command", "/bin/true", "--schedule", "@hourly")
    sd.add("b", "--command", "/bin/true", "--schedule", "@daily")
    _sync_json(sd)
    before = _mtimes(sd)
    out = _sync_json(sd)
    assert out["created"] == [] and out["updated"] == [] and out["daemon_reload"] is False
    assert len(out["unchanged"]) == 2  # type: ignore[arg-type]
    assert _mtimes(sd) == before


def test_sync_after_edit_rewrites_exactly_that_tasks_two_files(sd: SystemdEnv) -> None:
    a = sd.add("a", "--command", "/bin/true", "--schedule", "@hourly")
    sd.add("b", "--command", "/bin/true", "--schedule", "@daily")
    _sync_json(sd)
    before = _mtimes(sd)
    assert sd.run("task", "edit", a, "--timeout", "5m").exit_code == 0
    out = _sync_json(sd)
    assert out["updated"] == [a] and out["daemon_reload"] is True
    after = _mtimes(sd)
    changed = {n for n in after if after[n] != before.get(n)}
    assert changed == {f"smartcron-{a}.service", f"smartcron-{a}.timer"}


def test_sync_check_reports_hand_edit_and_sync_restores_it(sd: SystemdEnv) -> None:
    a = sd.add("a", "--command", "/bin/true", "--schedule", "@hourly")
    _sync_json(sd)
    assert sd.run("sync", "--check").exit_code == 0
    path = sd.systemd.unit_dir / f"smartcron-{a}.service"
    original = path.read_text()
    path.write_text(original.replace("TimeoutStartSec=3600s", "TimeoutStartSec=1s"))
    check = sd.run("sync", "--check")
    assert check.exit_code == 1
    assert a in check.stdout and "drifted" in check.stderr
    dry = sd.run("sync", "--dry-run")
    assert "-TimeoutStartSec=1s" in dry.stdout and "+TimeoutStartSec=3600s" in dry.stdout
    assert path.read_text() != original  # dry run changed nothing
    assert _sync_json(sd)["updated"] == [a]
    assert path.read_text() == original
    assert sd.run("sync", "--check").exit_code == 0


def test_sync_removes_deleted_task_and_never_touches_foreign_files(sd: SystemdEnv) -> None:
    a = sd.add("a", "--command", "/bin/true", "--schedule", "@hourly")
    _sync_json(sd)
    foreign = sd.systemd.unit_dir / f"smartcron-{sd.prefix}-handmade.service"
    foreign.write_text("[Service]\nType=oneshot\nExecStart=/bin/true\n")
    other = sd.systemd.unit_dir / f"{sd.prefix}-other.service"
    other.write_text("[Service]\nExecStart=/bin/true\n")
    assert sd.run("task", "rm", a, "--yes").exit_code == 0
    assert sd.run("sync", "--check").exit_code == 1  # orphaned units are drift
    out = _sync_json(sd)
    assert out["removed"] == [a]
    assert not (sd.systemd.unit_dir / f"smartcron-{a}.service").exists()
    assert not (sd.systemd.unit_dir / f"smartcron-{a}.timer").exists()
    assert foreign.exists() and other.exists()
    foreign.unlink()
    other.unlink()


def test_sync_invalid_task_is_reported_and_others_still_apply(sd: SystemdEnv) -> None:
    good = sd.add("good", "--command", "/bin/true", "--schedule", "@hourly")
    bad = sd.add("bad", "--command", "/bin/true", "--schedule", "@hourly")
    # Corrupt the stored task behind the validator's back, as a bad manual SQL edit would, and
    # sign it as root would (unsigned, sync refuses it before rendering: test_signing.py).
    with sd.engine.begin() as conn:
        conn.execute(
            sa.update(tasks_table)
            .where(tasks_table.c.name == bad)
            .values(command=["/bin/echo", "line1\nline2"])
        )
        sign_task(conn, bad, "test", signer=signer())
    result = sd.run("sync", "--json")
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["created"] == [good]
    assert out["failed"][0]["task"] == bad and "newline" in out["failed"][0]["error"]
    assert not (sd.systemd.unit_dir / f"smartcron-{bad}.service").exists()


def test_sync_leaves_no_temporary_files(sd: SystemdEnv) -> None:
    sd.add("a", "--command", "/bin/true", "--schedule", "@hourly")
    _sync_json(sd)
    leftovers = [p for p in os.listdir(sd.systemd.unit_dir) if p.endswith(".tmp")]
    assert leftovers == []
