"""`smartcron health` against a real private systemd."""

from __future__ import annotations

import datetime as dt
import json

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

    # Pretend the task has existed for an hour without a single recorded run.
    with sd.engine.begin() as conn:
        conn.execute(
            sa.update(tasks_table)
            .where(tasks_table.c.name == name)
            .values(updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        )
    late = json.loads(sd.run("health", "--json").stdout)
    late_checks = {c["name"]: c for c in late["checks"]}
    assert late_checks[f"late:{name}"]["status"] == "fail"
    assert "has not started" in late_checks[f"late:{name}"]["message"]
    assert late["score"] < report["score"]
