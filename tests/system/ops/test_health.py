"""`smartcron health` against a real private systemd."""

from __future__ import annotations

import datetime as dt
import json
import os

import sqlalchemy as sa

from smartcron.db.schema import tasks as tasks_table

from support.systemd import SystemdEnv


def test_health_command_reports_timers_and_late_runs(sd: SystemdEnv) -> None:
    name = sd.add("pos", "--command", "/bin/true", "--schedule", "*/5 * * * *")
    assert sd.run("sync").exit_code == 0
    result = sd.run("health", "--json")
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["database"]["status"] == "ok"
    assert {"disk:database", "disk:journal", "disk:backups"} <= set(checks)
    assert checks[f"timer:{name}"]["status"] == "ok"
    assert f"late:{name}" not in checks
    assert 0 <= report["score"] <= 100

    sd.systemd.systemctl("stop", f"smartcron-{name}.timer")
    stopped = sd.run("health")
    assert stopped.exit_code == 1
    assert f"timer:{name}" in stopped.stdout and "smartcron sync" in stopped.stdout

    # Pretend the task has existed for an hour without a single recorded run: defined an hour
    # ago, and its timer installed then too. Defined long ago but installed just now is not late.
    hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with sd.engine.begin() as conn:
        conn.execute(
            sa.update(tasks_table).where(tasks_table.c.name == name).values(updated_at=hour_ago)
        )
    fresh = {c["name"] for c in json.loads(sd.run("health", "--json").stdout)["checks"]}
    assert f"late:{name}" not in fresh  # the timer was written after the run was due
    timer = sd.systemd.unit_dir / f"smartcron-{name}.timer"
    os.utime(timer, (hour_ago.timestamp(), hour_ago.timestamp()))
    late = json.loads(sd.run("health", "--json").stdout)
    late_checks = {c["name"]: c for c in late["checks"]}
    assert late_checks[f"late:{name}"]["status"] == "fail"
    assert "has not started" in late_checks[f"late:{name}"]["message"]
    assert late["score"] < report["score"]
