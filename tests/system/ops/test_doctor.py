"""`smartcron doctor` against the private systemd: every failure comes with its fix."""

from __future__ import annotations

import json

from support.systemd import SystemdEnv


def test_doctor_reports_each_problem_with_a_fix(sd: SystemdEnv) -> None:
    name = sd.add("pos", "--command", "/bin/true", "--schedule", "*/5 * * * *")
    assert sd.run("sync").exit_code == 0
    result = sd.run("doctor")
    assert result.exit_code == 1
    lines = result.stdout
    assert "ok    config" in lines and "ok    database" in lines and "ok    units" in lines
    assert (
        "FAIL  watchdog" in lines
        and "fix: systemctl enable --now smartcron-watchdog.service" in lines
    )
    assert "FAIL  dashboard" in lines and "check(s) failed" in lines

    # A hand edit makes the units check fail, and says how to see and undo it.
    timer = sd.systemd.unit_dir / f"smartcron-{name}.timer"
    timer.write_text(timer.read_text().replace("AccuracySec=1s", "AccuracySec=1h"))
    findings = {f["check"]: f for f in json.loads(sd.run("doctor", "--json").stdout)}
    assert findings["units"]["status"] == "fail" and name in findings["units"]["message"]
    assert "smartcron sync" in findings["units"]["fix"]


def test_doctor_says_when_the_database_is_behind(sd: SystemdEnv) -> None:
    from sqlalchemy import text

    with sd.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    findings = {f["check"]: f for f in json.loads(sd.run("doctor", "--json").stdout)}
    assert findings["database"]["status"] == "fail"
    assert (
        "0001" in findings["database"]["message"]
        and findings["database"]["fix"] == "smartcron db upgrade"
    )
