"""Maintenance windows in the gate, the unit files and the held-alert summary, on an SQLite
file: a skip window ends the run with its name recorded, a retry goes ahead, only covered
tasks get ExecCondition=, and the summary escapes what it quotes in HTML."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcron.alerting.hold import summary_notice
from smartcron.db.engine import make_engine
from smartcron.db.migrate import upgrade
from smartcron.db.schema import executions
from smartcron.db.tasks import list_tasks
from smartcron.db.windows import add_window, windowed_tasks
from smartcron.model import config
from smartcron.model.windows import check_window
from smartcron.ops.gate import GO, SKIP, run_gate
from smartcron.systemd import units

from support.dashboard import add_task

NOW = dt.datetime(2026, 12, 6, 1, 30, tzinfo=dt.UTC)  # Sunday 02:30 in Berlin


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path}/gate.db")
    upgrade(eng)
    add_task(eng, "dump", schedule="*-*-* *:*:0/5", hosts="*", category="db")
    add_task(eng, "mail", schedule="*-*-* *:*:0/5", hosts="*")
    window = check_window({"name": "db-upgrade", "when": "Sun 02:00-06:00",
                           "timezone": "Europe/Berlin", "categories": ["db"],
                           "actions": ["skip"]})  # fmt: skip
    with eng.begin() as conn:
        add_window(conn, window, "test")
    yield eng
    eng.dispose()


def _gate(engine: Engine, task: str, restarts: int = 0) -> tuple[int, str]:
    cfg = config.load(
        environ={"SMARTCRON_HOST_NAME": "a", "SMARTCRON_DATABASE_URL": "sqlite:////unused.db"}
    )
    env = {"INVOCATION_ID": f"inv{task}{restarts}", "TRIGGER_UNIT": f"smartcron-{task}.timer"}
    return run_gate(cfg, engine, task, environ=env, now=NOW, restarts=restarts)


def test_windows_gate_skips_a_covered_task_and_records_the_window(engine: Engine) -> None:
    status, line = _gate(engine, "dump")
    assert status == SKIP and "maintenance window db-upgrade" in line
    with engine.connect() as conn:
        row = conn.execute(sa.select(executions)).one()
    assert row.outcome == "skipped-window" and row.task_name == "dump"
    assert row.meaning.startswith("Skipped: maintenance window db-upgrade (Sun 02:00-06:00")
    assert "until 2026-12-06 06:00 CET" in row.meaning


def test_windows_gate_lets_other_tasks_and_retries_go_ahead(engine: Engine) -> None:
    assert _gate(engine, "mail")[0] == GO
    assert _gate(engine, "dump", restarts=1)[0] == GO


def _gate_at(engine: Engine, task: str, fired: dt.datetime, now: dt.datetime) -> tuple[int, str]:
    """The gate of a run its timer started at `fired`, deciding at `now` (a loaded host)."""
    cfg = config.load(
        environ={"SMARTCRON_HOST_NAME": "a", "SMARTCRON_DATABASE_URL": "sqlite:////unused.db"}
    )
    env = {"INVOCATION_ID": f"inv{task}{fired:%H%M}", "TRIGGER_UNIT": f"smartcron-{task}.timer"}
    return run_gate(cfg, engine, task, environ=env, now=now, restarts=0, started=fired)


def test_windows_gate_decides_by_the_runs_slot_and_by_now(engine: Engine) -> None:
    add_task(engine, "vacuum", schedule="*-*-* *:0/5:00", hosts="*", category="db")
    end = dt.datetime(2026, 12, 6, 5, 0, tzinfo=dt.UTC)  # db-upgrade ends 06:00 in Berlin
    late = dt.timedelta(seconds=40)
    # The 05:55 (Berlin) run, its gate after the window: the slot is inside, so skipped.
    slot = end - dt.timedelta(minutes=5)
    status, line = _gate_at(engine, "vacuum", slot + dt.timedelta(seconds=0.2), end + late)
    assert status == SKIP and "maintenance window db-upgrade" in line
    assert f"which the run of {slot.isoformat()} falls in" in line
    # The 06:00 run is after the window: it goes ahead.
    assert _gate_at(engine, "vacuum", end, end + late)[0] == GO
    # The 01:55 run, started late inside the window: it does not run during the maintenance.
    start = dt.datetime(2026, 12, 6, 1, 0, tzinfo=dt.UTC)
    before = start - dt.timedelta(minutes=5)
    assert _gate_at(engine, "vacuum", before, start + late)[0] == SKIP
    with engine.connect() as conn:
        rows = conn.execute(sa.select(executions).order_by(executions.c.id)).all()
    assert [r.outcome for r in rows] == ["skipped-window", "skipped-window"]
    assert "which the run of" not in rows[1].meaning  # now was inside: no slot to name


def test_windows_only_covered_tasks_get_the_gate(engine: Engine) -> None:
    with engine.connect() as conn:
        tasks = {t.name: t for t in list_tasks(conn)}
        windowed = windowed_tasks(conn, tasks.values())
    assert windowed == {"dump"}
    gated = units.render(tasks["dump"], windowed=True).files["smartcron-dump.service"]
    plain = units.render(tasks["dump"]).files["smartcron-dump.service"]
    assert "ExecCondition=+" in gated and ' gate dump "--if-db-down" run' in gated
    assert "ExecCondition" not in plain
    assert units.fingerprint(tasks["dump"], "1s", (), True) != units.fingerprint(
        tasks["dump"], "1s"
    )


def test_windows_summary_lists_each_held_alert_escaped_in_html() -> None:
    rows = [
        SimpleNamespace(task_name="till-<1>", kind="failure", severity="failure", title="t",
                        created_at=NOW, text_body="What happened: exit <b>3</b> & more\n"),
        SimpleNamespace(task_name="till-2", kind="recovery", severity="success", title="t2",
                        created_at=NOW, text_body="Recovered: till-2 succeeded again.\n"),
    ]  # fmt: skip
    window = check_window({"name": "quiet", "when": "Sun 02:00-06:00", "timezone": "UTC",
                           "tasks": ["*"], "actions": ["hold_alerts"]})  # fmt: skip
    notice = summary_notice("quiet", window, rows)
    assert notice.title == "smartcron: maintenance window quiet ended: 2 held alert(s)"
    assert notice.severity == "failure" and notice.task is None
    assert "till-<1> (failure, 2026-12-06 01:30:00 UTC): exit <b>3</b> & more" in notice.text
    assert "Recovered: till-2 succeeded again." in notice.text
    assert "exit &lt;b&gt;3&lt;/b&gt; &amp; more" in notice.html and "<b>3</b>" not in notice.html
    assert "till-&lt;1&gt;" in notice.html
