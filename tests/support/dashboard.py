"""Seeding and login helpers shared by the dashboard tests and the browser tests."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from smartcron.db import totals
from smartcron.db.schema import alerts, executions
from smartcron.db.tasks import insert_task
from smartcron.model.outcome import NOT_RUNS, RUNNING
from smartcron.model.validate import validate_task
from smartcron.ops import users

from support import signer

PASSWORD = "correct horse battery"


def add_user(engine: Engine, name: str, role: str) -> None:
    with engine.begin() as conn:
        users.add_user(conn, name, role, PASSWORD, "test")


def add_task(engine: Engine, name: str, **extra: Any) -> None:
    task = validate_task(
        {
            "name": name,
            "command": ["/bin/true"],
            "schedule": "*/5 * * * *",
            "timezone": "UTC",
            **extra,
        },
        check_host=False,
    )
    with engine.begin() as conn:
        insert_task(conn, task, "test", signer=signer())


def add_run(engine: Engine, task: str, outcome: str = "success", **extra: Any) -> int:
    now = dt.datetime.now(dt.UTC)
    values: dict[str, Any] = {
        "task_name": task,
        "invocation_id": uuid.uuid4().hex,
        "trigger": "timer",
        "attempt": 1,
        "started_at": now - dt.timedelta(seconds=5),
        "finished_at": now,
        "duration_s": 5.0,
        "result": "success" if outcome == "success" else "exit-code",
        "exit_code": 0 if outcome == "success" else 1,
        "outcome": outcome,
        "meaning": "Succeeded after 5.0 s."
        if outcome == "success"
        else "Failed with exit status 1.",
        "recorded_at": now,
        **extra,
    }
    with engine.begin() as conn:
        run_id = int(conn.execute(executions.insert().values(**values)).inserted_primary_key[0])  # type: ignore[index]
        # As watchdog/record.py counts each finished run; a gate's skip or a not-run row is
        # written without being counted (ops/gate.py, watchdog/chains.py).
        if values["outcome"] not in (RUNNING, *NOT_RUNS):
            totals.add_run(
                conn,
                task,
                values["outcome"],
                values["duration_s"],
                values["started_at"] or now,
                host=values.get("host"),
            )
        return run_id


def add_alert(engine: Engine, task: str, summary: str = "bank-import failed") -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                alerts.insert().values(
                    task_name=task,
                    kind="failure",
                    state="notified",
                    severity="error",
                    summary=summary,
                    opened_at=dt.datetime.now(dt.UTC),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def login(client: FlaskClient, name: str, password: str = PASSWORD) -> Any:
    token = csrf_token(client)
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token})


def migrate(engine: Engine, verb: str, revision: str) -> None:
    """Run alembic's `verb` ("upgrade" or "downgrade") to `revision` on the database."""
    from alembic import command

    from smartcron.db.migrate import _alembic_config

    with engine.begin() as conn:
        getattr(command, verb)(_alembic_config(conn), revision)
