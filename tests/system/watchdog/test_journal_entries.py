"""smartcron's own journal entries, in a real private systemd's journal: one per recorded run
(and per alert announced), findable by MESSAGE_ID and SMARTCRON_* fields, explained by the
catalog (journalctl -x).

The watchdog runs as a service inside the private systemd here, not in the test process: an
entry goes to the journald of the process that sends it, and only a watchdog inside the
sandbox sends to the sandbox's journald (the test process would send to the host's, if it
has one).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from smartcron.db.engine import make_engine
from smartcron.db.migrate import upgrade
from smartcron.db.schema import executions
from smartcron.db.state import JOURNAL_CURSOR, set_state
from smartcron.systemd.entries import MSG_ALERT_RAISED, MSG_RUN_RECORDED, EntryWriter
from smartcron.systemd.journal import Journal
from smartcron.watchdog.events import RunEvent
from smartcron.watchdog.writer import Writer

from support import TestDB, invoke
from support.systemd import SystemdEnv, journal_entries, wait_rows

CATALOG_INDEX = "/var/lib/systemd/catalog"  # where journalctl -x reads the catalog's index


@dataclasses.dataclass
class Boxed:
    sd: SystemdEnv
    host: str
    unit: str


@pytest.fixture
def boxed(sd: SystemdEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[Boxed]:
    """`smartcron watchdog` as a service inside the private systemd, on a SQLite database in
    a directory both sides see, with a host name of its own (SMARTCRON_HOST= tells its
    entries from those of other tests in the shared sandbox journal)."""
    url = f"sqlite:///{sd.shared}/smartcron.db"
    engine = make_engine(url)
    upgrade(engine)
    # Start after the shared journal's past: record only this test's runs.
    with engine.begin() as conn:
        cursor = Journal(str(sd.systemd.journal_dir)).current_cursor()
        set_state(conn, JOURNAL_CURSOR, cursor or "")
    monkeypatch.setenv("SMARTCRON_DATABASE_URL", url)
    env = dataclasses.replace(sd, engine=engine)
    box = Boxed(env, f"{sd.prefix}-host", f"{sd.prefix}-watchdog.service")
    settings = {
        "SMARTCRON_DATABASE_URL": url,
        "SMARTCRON_HOST_NAME": box.host,
        "SMARTCRON_CONFIG": os.environ["SMARTCRON_CONFIG"],
        "SMARTCRON_RENOTIFY_INTERVAL": "1d",
    }
    started = sd.systemd.run(
        ["systemd-run", f"--unit={box.unit}", "-p", "Type=notify"]
        + [f"--setenv={k}={v}" for k, v in settings.items()]
        + [sys.executable, "-m", "smartcron", "watchdog"],
        check=False,
    )
    assert started.returncode == 0, started.stderr + sd.systemd.journal("-u", box.unit)
    yield box
    sd.systemd.systemctl("stop", box.unit, check=False)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM tasks"))
    invoke(sd.runner, "sync")
    engine.dispose()


def test_journal_entries_list_exactly_the_failed_runs_with_catalog_text(
    boxed: Boxed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sd = boxed.sd
    ok = sd.add("ok", "--command", "/bin/true", "--schedule", "@yearly")
    bad = sd.add("bad", "--command", "/bin/sh -c 'exit 3'", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    for name in (ok, bad, ok, bad):
        sd.run("task", "run", name, "--wait")
    wait_rows(sd, ok, 2)
    rows = wait_rows(sd, bad, 2)
    with sd.engine.connect() as conn:
        mine = conn.execute(sa.select(executions).where(executions.c.host == boxed.host)).all()
    failed = {str(r.id): r for r in mine if r.outcome == "failed"}
    assert len(failed) == 2 and {r.task_name for r in failed.values()} == {bad}
    assert {str(r.id) for r in rows if r.outcome == "failed"} == set(failed)

    found = journal_entries(
        sd,
        f"MESSAGE_ID={MSG_RUN_RECORDED}",
        "SMARTCRON_OUTCOME=failed",
        f"SMARTCRON_HOST={boxed.host}",
        count=2,
    )
    assert sorted(e["SMARTCRON_RUN"] for e in found) == sorted(failed)
    for entry in found:
        run = failed[entry["SMARTCRON_RUN"]]
        assert entry["SMARTCRON_TASK"] == bad and entry["PRIORITY"] == "3"
        assert entry["MESSAGE"] == f"{bad}: {run.meaning}" and "exit status 3" in run.meaning
        assert entry["SMARTCRON_INVOCATION"] == run.invocation_id
    every = journal_entries(
        sd, f"MESSAGE_ID={MSG_RUN_RECORDED}", f"SMARTCRON_HOST={boxed.host}", count=4
    )
    assert sorted(e["SMARTCRON_RUN"] for e in every) == sorted(str(r.id) for r in mine)
    assert {e["PRIORITY"] for e in every if e["SMARTCRON_OUTCOME"] == "success"} == {"6"}
    # The first failure opened the task's alert, and its announcement has an entry of its own.
    alerted = journal_entries(
        sd, f"MESSAGE_ID={MSG_ALERT_RAISED}", f"SMARTCRON_TASK={bad}", count=1, timeout=30
    )
    assert len(alerted) == 1 and alerted[0]["SMARTCRON_ALERT_KIND"] == "failure"
    assert alerted[0]["SMARTCRON_RUN"] in failed and alerted[0]["SMARTCRON_NOTICE"] == "1"

    # The catalog, installed as `smartcron units install` does into a root of the test's own
    # and indexed there (journalctl --root=ROOT --update-catalog), explains the entries.
    # journalctl -x reads the index from /var/lib/systemd/catalog only, even with --root, so
    # it runs in a mount namespace of its own with the test's index mounted there.
    root = tmp_path / "root"
    monkeypatch.setenv("SMARTCRON_UNIT_DIR", str(tmp_path / "units"))
    installed = sd.run(
        "units", "install", "--catalog-dir", str(root / "usr/local/lib/systemd/catalog"),
        "--polkit-dir", str(tmp_path / "polkit"), "--journald-dir", str(tmp_path / "journald"),
    )  # fmt: skip
    assert installed.exit_code == 0, installed.output
    update = subprocess.run(
        ["journalctl", f"--root={root}", "--update-catalog"], capture_output=True, text=True
    )
    assert update.returncode == 0, update.stderr
    index = root / "var/lib/systemd/catalog"
    assert (index / "database").is_file() and Path(CATALOG_INDEX).is_dir()
    query = f"MESSAGE_ID={MSG_RUN_RECORDED} SMARTCRON_OUTCOME=failed SMARTCRON_HOST={boxed.host}"
    shown = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         f"mount --bind {index} {CATALOG_INDEX} && "
         f"journalctl -D {sd.systemd.journal_dir} -x --no-pager {query}"],
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert shown.count(f"smartcron recorded a run of {bad}: failed") == 2, shown
    for run_id in failed:
        assert f"smartcron logs {bad} --run {run_id}" in shown
    assert "Defined-By: smartcron" in shown


def test_journal_entry_refused_is_logged_and_the_run_kept(
    db: TestDB, caplog: pytest.LogCaptureFixture
) -> None:
    # journald refusing (a full socket buffer: EAGAIN) is the binding's OSError, which
    # journal.send turns into its reason; the writer must log it once and keep the run.
    def refuse(fields: dict[str, str]) -> str:
        return "Resource temporarily unavailable (errno 11)"

    writer = Writer(db.engine, Journal("/nonexistent"), entries=EntryWriter(send=refuse))
    writer.start()
    for n in (1, 2):
        done = {"result": "success", "exec_code": 1, "exec_status": 0}
        writer.submit(RunEvent("finished", f"job-{n}", f"{n:032x}", **done))  # type: ignore[arg-type]
    writer.stop()
    with caplog.at_level(logging.WARNING, logger="smartcron.journal"):
        writer.join(timeout=30)
    with db.engine.connect() as conn:
        outcomes = conn.execute(sa.select(executions.c.outcome)).scalars().all()
    assert outcomes == ["success", "success"]
    refusals = [r for r in caplog.records if "could not write smartcron's journal" in r.message]
    assert len(refusals) == 1 and "Resource temporarily unavailable" in refusals[0].message
    assert writer.entries.sent == 0 and writer.entries.problem
