"""Issue 13, case 1: write access to the database must not mean root. Task definitions are
signed with root's key; `smartcron sync` (as root, against the real private systemd) installs
nothing else, raises a critical alert sent at once, and doctor says why."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from smartcron.db.schema import alerts
from smartcron.db.schema import tasks as tasks_table

from support.receivers import Inbox
from support.systemd import SystemdEnv


def _unit(sd: SystemdEnv, name: str) -> str:
    return (sd.systemd.unit_dir / f"smartcron-{name}.service").read_text()


def _run_output(sd: SystemdEnv, name: str) -> str:
    """Start the task's service now and return what it printed (the journal)."""
    service = f"smartcron-{name}.service"
    sd.systemd.systemctl("start", service)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if sd.systemd.show(service, "ActiveState")["ActiveState"] in ("inactive", "failed"):
            break
        time.sleep(0.1)
    time.sleep(0.5)  # journald
    return sd.systemd.journal("-u", service, "-o", "cat", "--no-pager")


def test_signing_raw_update_of_command_and_user_is_not_run_by_sync(
    sd: SystemdEnv, webhook: tuple[str, Inbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, inbox = webhook
    monkeypatch.setenv("SMARTCRON_CHANNELS", json.dumps({"ops": url}))
    name = sd.add("report", "--command", "/bin/echo signed-definition", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    assert "User=nobody" in _unit(sd, name)  # the default_user: never root unless written
    assert "signed-definition" in _run_output(sd, name)

    # What the web-facing smartcron account can do: write the database directly.
    with sd.engine.begin() as conn:
        conn.execute(
            tasks_table.update()
            .where(tasks_table.c.name == name)
            .values(command=["/usr/bin/id"], run_user="root")
        )
    result = sd.run("sync")
    assert result.exit_code == 1
    assert f"failed    {name}: refused: the definition in the database does not match" in (
        result.stdout
    )
    assert "raised a critical alert" in result.stderr
    # The installed units keep the last signed definition, and that is what runs.
    text = _unit(sd, name)
    assert "ExecStart=/bin/echo signed-definition" in text and "User=nobody" in text
    assert "/usr/bin/id" not in text
    output = _run_output(sd, name)
    assert "uid=0(root)" not in output and "signed-definition" in output

    # Alerted, at once and by sync itself, through every channel.
    assert inbox.wait(1, timeout=15), "no alert was sent"
    message = inbox.messages[-1]
    assert name in message["title"] and "changed outside smartcron" in message["title"]
    assert "does not match its signature" in message["body"]
    with sd.engine.connect() as conn:
        row = conn.execute(sa.select(alerts).where(alerts.c.kind == "refused-definition")).one()
    assert (row.task_name, row.severity, row.state) == (name, "critical", "notified")
    # A second sync refuses it again without a second alert.
    assert sd.run("sync").exit_code == 1
    time.sleep(1)
    assert len(inbox.messages) == 1

    # doctor, as root (with the key) and as an account without it (from the alert).
    findings = {f["check"]: f for f in json.loads(sd.run("doctor", "--json").stdout)}
    assert findings["definitions"]["status"] == "fail"
    assert name in findings["definitions"]["message"]
    assert "does not match its signature" in findings["definitions"]["message"]
    monkeypatch.setenv("SMARTCRON_SIGNING_KEY_FILE", "/nonexistent/signing.key")
    findings = {f["check"]: f for f in json.loads(sd.run("doctor", "--json").stdout)}
    assert (
        findings["definitions"]["status"] == "fail" and name in findings["definitions"]["message"]
    )
    assert "alerts of root's last sync" in findings["definitions"]["message"]


def test_signing_an_inserted_unsigned_task_is_refused_until_root_signs_it(sd: SystemdEnv) -> None:
    name = sd.add("base", "--command", "/bin/true", "--schedule", "@yearly")
    with sd.engine.begin() as conn:
        row = dict(
            conn.execute(sa.select(tasks_table).where(tasks_table.c.name == name)).one()._mapping
        )
        row.update(id=None, name=sd.name("planted"), command=["/bin/sh", "-c", "id"])
        row.update(run_user="root", signature="", revision=0)
        conn.execute(tasks_table.insert().values(**{k: v for k, v in row.items() if k != "id"}))
    planted = sd.name("planted")
    result = sd.run("sync", "--json")
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["created"] == [name]
    assert out["failed"][0]["task"] == planted and "not signed" in out["failed"][0]["error"]
    assert not (sd.systemd.unit_dir / f"smartcron-{planted}.service").exists()
    # Root looks at it and approves it: then it is installed, and the alert is resolved.
    assert sd.run("task", "sign", planted, "--yes").exit_code == 0
    assert sd.run("sync").exit_code == 0
    assert "User=root" in _unit(sd, planted)  # root, written out and visible
    with sd.engine.connect() as conn:
        states = [r.state for r in conn.execute(sa.select(alerts.c.state))]
    assert states == ["resolved"]


def test_signing_an_unsigned_row_never_names_a_follower_in_a_signed_unit(sd: SystemdEnv) -> None:
    """A planted row `after` a signed task must not reach that task's OnSuccess=: neither a
    valid name (it would start an unsigned unit) nor one that adds a line to the unit."""
    name = sd.add("base", "--command", "/bin/true", "--schedule", "@yearly")
    proof = sd.shared / "pwned"  # where the private systemd's units can write
    with sd.engine.begin() as conn:
        row = dict(
            conn.execute(sa.select(tasks_table).where(tasks_table.c.name == name)).one()._mapping
        )
        for planted in (
            sd.name("follower"),
            f'x.service\n[Service]\nExecStartPost=+/bin/sh -c "id > {proof}"\nX-Y=z',
        ):
            row.update(name=planted, after_tasks=[name], schedule="", signature="", revision=0)
            conn.execute(tasks_table.insert().values(**{k: v for k, v in row.items() if k != "id"}))
    result = sd.run("sync", "--json")
    assert result.exit_code == 1  # the planted rows are refused, the signed task installed
    out = json.loads(result.stdout)
    assert out["created"] == [name] and len(out["failed"]) == 2
    text = _unit(sd, name)
    assert "OnSuccess=" not in text and "ExecStartPost=+" not in text
    _run_output(sd, name)
    assert not proof.exists()
    assert not (sd.systemd.unit_dir / f"smartcron-{sd.name('follower')}.service").exists()


def test_signing_a_replayed_older_definition_is_refused(sd: SystemdEnv) -> None:
    name = sd.add("job", "--command", "/bin/echo first", "--schedule", "@yearly", "--user", "root")
    assert sd.run("sync").exit_code == 0
    with sd.engine.connect() as conn:
        old = dict(
            conn.execute(sa.select(tasks_table).where(tasks_table.c.name == name)).one()._mapping
        )
    # Root makes it safer: another command, an unprivileged user.
    edit = sd.run("task", "edit", name, "--command", "/bin/echo second", "--user", "nobody")
    assert edit.exit_code == 0, edit.stderr
    assert sd.run("sync").exit_code == 0
    # The smartcron account puts the earlier row back, signature and all.
    with sd.engine.begin() as conn:
        conn.execute(
            tasks_table.update()
            .where(tasks_table.c.name == name)
            .values({k: v for k, v in old.items() if k not in ("id", "created_at")})
        )
    result = sd.run("sync", "--json")
    assert result.exit_code == 1
    assert "older than the installed revision" in json.loads(result.stdout)["failed"][0]["error"]
    text = _unit(sd, name)
    assert "ExecStart=/bin/echo second" in text and "User=nobody" in text


def _row(sd: SystemdEnv, name: str) -> dict[str, object]:
    with sd.engine.connect() as conn:
        found = conn.execute(sa.select(tasks_table).where(tasks_table.c.name == name)).one()
    return {k: v for k, v in found._mapping.items() if k != "id"}


def _put_back(sd: SystemdEnv, row: dict[str, object]) -> None:
    """What the smartcron account can do: insert a row it saved earlier, signature and all."""
    with sd.engine.begin() as conn:
        conn.execute(tasks_table.insert().values(**row))


@pytest.mark.parametrize("synced_between", [True, False], ids=["after-sync", "before-sync"])
def test_signing_a_removed_task_put_back_is_refused(sd: SystemdEnv, synced_between: bool) -> None:
    name = sd.add(
        "gone", "--command", "/bin/echo as-root", "--schedule", "@yearly", "--user", "root"
    )
    assert sd.run("sync").exit_code == 0
    saved = _row(sd, name)
    assert sd.run("task", "rm", name, "--yes").exit_code == 0
    if synced_between:  # the units are gone: nothing on disk carries the revision any more
        assert sd.run("sync").exit_code == 0
        assert not (sd.systemd.unit_dir / f"smartcron-{name}.service").exists()
    _put_back(sd, saved)
    result = sd.run("sync", "--json")
    assert result.exit_code == 1, result.stdout
    failed = json.loads(result.stdout)["failed"][0]
    assert failed["task"] == name and "was removed by root" in failed["error"]
    assert not (sd.systemd.unit_dir / f"smartcron-{name}.service").exists()


def test_signing_a_removed_task_added_again_by_root_is_installed(sd: SystemdEnv) -> None:
    name = sd.add("back", "--command", "/bin/echo one", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    assert sd.run("task", "rm", name, "--yes").exit_code == 0
    assert sd.run("sync").exit_code == 0
    again = sd.run("task", "add", name, "--command", "/bin/echo two", "--schedule", "@yearly")
    assert again.exit_code == 0, again.stderr
    assert sd.run("sync").exit_code == 0
    assert "ExecStart=/bin/echo two" in _unit(sd, name)


def test_signing_pause_from_the_dashboard_needs_no_key(sd: SystemdEnv) -> None:
    from smartcron.db.tasks import set_task_paused

    name = sd.add("pausable", "--command", "/bin/true", "--schedule", "*/5 * * * *")
    assert sd.run("sync").exit_code == 0
    with sd.engine.begin() as conn:
        set_task_paused(conn, name, True, "otto")  # what the dashboard does, without the key
    result = sd.run("sync", "--json")
    assert result.exit_code == 0, result.stdout
    assert sd.systemd.show(f"smartcron-{name}.timer", "ActiveState")["ActiveState"] == "inactive"


def test_signing_key_must_be_root_only(
    sd: SystemdEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "signing.key"
    key.write_text("ab" * 32 + "\n")
    key.chmod(0o640)
    monkeypatch.setenv("SMARTCRON_SIGNING_KEY_FILE", str(key))
    result = sd.run("task", "add", sd.name("x"), "--command", "/bin/true", "--schedule", "@daily")
    assert result.exit_code == 1 and "mode 640 lets others read it; chmod 600" in result.stderr
    key.chmod(0o600)
    os.chown(key, 65534, 65534)  # someone else's key protects nothing
    result = sd.run("sync")
    assert result.exit_code == 1 and "owned by uid 65534, not by root" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_signing_root_sets_a_refused_task_right_and_the_alert_resolves(sd: SystemdEnv) -> None:
    name = sd.add("fixme", "--command", "/bin/echo good", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    with sd.engine.begin() as conn:
        conn.execute(
            tasks_table.update()
            .where(tasks_table.c.name == name)
            .values(command=["/usr/bin/id"], run_user="root")
        )
    assert sd.run("sync").exit_code == 1
    # Editing would keep, and sign, what was changed: refused.
    edit = sd.run("task", "edit", name, "--timeout", "5m")
    assert edit.exit_code == 1 and "is not the definition root signed" in edit.stderr
    # Root imports the task file, which sets every field again.
    file = sd.shared / "tasks.yaml"
    file.write_text(
        f"version: 1\ntasks:\n- name: {name}\n  command: [/bin/echo, good]\n  schedule: '@yearly'\n"
    )
    imported = sd.run("import", str(file))
    assert imported.exit_code == 0, imported.stderr
    result = sd.run("sync")
    assert result.exit_code == 0, result.stdout + result.stderr
    with sd.engine.connect() as conn:
        states = [(r.kind, r.state) for r in conn.execute(sa.select(alerts.c.kind, alerts.c.state))]
    assert states == [("refused-definition", "resolved")]
    assert "ExecStart=/bin/echo good" in _unit(sd, name)
