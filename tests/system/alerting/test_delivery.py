"""Alerts delivered to a real local SMTP server and HTTP webhook: dedup, reminders, recovery,
and the OnFailure= fallback while the watchdog is down."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa

from smartcron.db.engine import make_engine
from smartcron.db.migrate import upgrade
from smartcron.db.schema import alerts, outbox
from smartcron.model import config
from smartcron.watchdog.service import Watchdog

from support.receivers import Inbox
from support.systemd import SystemdEnv, start_watchdog


def test_alert_dedup_reminder_and_recovery_reach_smtp_and_webhook(
    sd: SystemdEnv, webhook: tuple[str, Inbox], smtp: tuple[str, Inbox]
) -> None:
    flag = sd.shared / "broken"
    flag.write_text("x")
    script = sd.script(
        "flip.sh",
        f"#!/bin/sh\necho checking the bank feed\n"
        f"if [ -e {flag} ]; then echo 'bank said no' >&2; exit 3; fi\n",
    )
    name = sd.add("bank", "--command", str(script), "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    watchdog = start_watchdog(sd, str(sd.engine.url), {"hook": webhook[0], "mail": smtp[0]}, "4s")
    try:
        sd.run("task", "run", name, "--wait")
        first = webhook[1].wait(1)
        assert len(first) == 1 and f"smartcron: {name} failed" in first[0]["title"]
        body = first[0]["body"]
        assert "What happened: Failed with exit status 3" in body
        assert "UTC" in body and "Attempt: 1" in body and "Trigger: manual" in body
        assert f"Whole log: smartcron logs {name} --run" in body
        mail = smtp[1].wait(1)
        assert len(mail) == 1 and name in mail[0]["title"] and "exit status 3" in mail[0]["body"]
        # A second failure while the alert is open is counted, not sent again...
        sd.run("task", "run", name, "--wait")
        time.sleep(1.5)
        assert len(webhook[1].messages) == 1
        # ...until the reminder interval has passed.
        reminded = webhook[1].wait(2, timeout=15)
        assert len(reminded) == 2 and "still failing, reminder 1" in reminded[1]["title"]
        with sd.engine.connect() as conn:
            alert = conn.execute(sa.select(alerts)).one()
        assert alert.failure_count == 2 and alert.state == "notified"
        # Recovery: the next success resolves it with a notice.
        flag.unlink()
        sd.run("task", "run", name, "--wait")
        recovered = webhook[1].wait(3)
        assert "recovered" in recovered[2]["title"]
        assert "after 2 failed run(s)" in recovered[2]["body"]
        with sd.engine.connect() as conn:
            alert = conn.execute(sa.select(alerts)).one()
        assert alert.state == "resolved" and alert.resolved_at is not None
    finally:
        watchdog.stop()


def _install_fallback_env(sd: SystemdEnv, url: str, channels: dict[str, str]) -> None:
    """The fallback unit runs inside the sandbox: give it the test's database and channels."""
    dropin = sd.systemd.unit_dir / "smartcron-alert@.service.d"
    dropin.mkdir(exist_ok=True)
    (dropin / "test.conf").write_text(
        "[Service]\nEnvironment=SMARTCRON_CONFIG=\n"
        f"Environment=SMARTCRON_DATABASE_URL={url}\n"
        f"Environment='SMARTCRON_CHANNELS={json.dumps(channels)}'\n"
    )
    sd.systemd.systemctl("daemon-reload")


@pytest.fixture
def shared_db(sd: SystemdEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.engine.Engine]:
    """A database file that processes inside the sandbox can open too."""
    url = f"sqlite:///{sd.shared}/alerts.db"
    engine = make_engine(url)
    upgrade(engine)
    monkeypatch.setenv("SMARTCRON_DATABASE_URL", url)
    yield engine
    engine.dispose()
    shutil.rmtree(sd.systemd.unit_dir / "smartcron-alert@.service.d", ignore_errors=True)


def test_onfailure_fallback_alerts_while_watchdog_is_down(
    sd: SystemdEnv, webhook: tuple[str, Inbox], shared_db: sa.engine.Engine
) -> None:
    name = sd.add(
        "payroll", "--command", "/bin/sh -c 'echo exporting; exit 2'", "--schedule", "@yearly"
    )
    assert sd.run("sync").exit_code == 0
    _install_fallback_env(sd, str(shared_db.url), {"hook": webhook[0]})
    sd.run("task", "run", name, "--wait")  # no watchdog is running
    got = webhook[1].wait(1, timeout=30)
    assert len(got) == 1, sd.systemd.journal("-u", "smartcron-alert@*", "-o", "cat")[-2000:]
    assert f"smartcron: {name} failed" in got[0]["title"]
    assert "exit status 2" in got[0]["body"]
    with shared_db.connect() as conn:
        alert = conn.execute(sa.select(alerts)).one()
    assert alert.state == "notified" and alert.task_name == name


def test_watchdog_and_fallback_together_send_one_alert(
    sd: SystemdEnv, webhook: tuple[str, Inbox], shared_db: sa.engine.Engine
) -> None:
    name = sd.add("pos", "--command", "/bin/sh -c 'exit 9'", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    _install_fallback_env(sd, str(shared_db.url), {"hook": webhook[0]})
    watchdog = start_watchdog(sd, str(shared_db.url), {"hook": webhook[0]}, "4h")
    try:
        sd.run("task", "run", name, "--wait")
        assert len(webhook[1].wait(1)) == 1
        time.sleep(5)  # whichever of the two came second must not have sent again
        assert len(webhook[1].messages) == 1
        with shared_db.connect() as conn:
            rows = conn.execute(sa.select(alerts)).fetchall()
        assert len(rows) == 1 and rows[0].notify_count == 1
    finally:
        watchdog.stop()


def test_fallback_without_channels_leaves_the_message_to_the_watchdog(
    sd: SystemdEnv, webhook: tuple[str, Inbox], shared_db: sa.engine.Engine
) -> None:
    # The fallback unit's environment names no channel (unlike the watchdog's): it must queue
    # the alert and leave it pending, not mark it failed for good after one hopeless try.
    name = sd.add("stock", "--command", "/bin/sh -c 'exit 4'", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    _install_fallback_env(sd, str(shared_db.url), {})
    sd.run("task", "run", name, "--wait")  # no watchdog yet: the fallback alone sees it
    deadline = time.monotonic() + 30
    pending: list[Any] = []
    while time.monotonic() < deadline and not pending:
        with shared_db.connect() as conn:
            pending = conn.execute(sa.select(outbox).where(outbox.c.task_name == name)).fetchall()
        time.sleep(0.2)
    assert [(r.state, r.attempts) for r in pending] == [("pending", 0)], pending
    log = sd.systemd.journal("-u", "smartcron-alert@*", "-o", "cat")
    assert "has no alert channel" in log, log[-2000:]
    watchdog = start_watchdog(sd, str(shared_db.url), {"hook": webhook[0]}, "4h")
    try:
        got = webhook[1].wait(1, timeout=30)
        assert len(got) == 1 and f"smartcron: {name} failed" in got[0]["title"]
    finally:
        watchdog.stop()


def test_alerts_test_command_reaches_the_channel(
    sd: SystemdEnv, webhook: tuple[str, Inbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTCRON_CHANNELS", json.dumps({"hook": webhook[0]}))
    result = sd.run("alerts", "test", "hook")
    assert result.exit_code == 0, result.stderr
    assert "test alert" in webhook[1].wait(1)[0]["title"]
    unknown = sd.run("alerts", "test", "nope")
    assert unknown.exit_code == 2 and "known: hook" in unknown.stderr


def test_heartbeat_url_is_fetched(sd: SystemdEnv) -> None:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cfg = config.load(
        environ={
            "SMARTCRON_CONFIG": "",
            "SMARTCRON_DATABASE_URL": str(sd.engine.url),
            "SMARTCRON_JOURNAL_DIRECTORY": str(sd.systemd.journal_dir),
            "SMARTCRON_HEARTBEAT_URL": f"http://127.0.0.1:{server.server_address[1]}/ping/abc",
        }
    )
    watchdog = Watchdog(cfg)
    threading.Thread(target=watchdog.serve, daemon=True).start()
    try:
        deadline = time.monotonic() + 15
        while not hits and time.monotonic() < deadline:
            time.sleep(0.1)
        assert hits == ["/ping/abc"]
    finally:
        watchdog.stop()
        server.shutdown()


def test_late_run_raises_a_late_alert(sd: SystemdEnv, webhook: tuple[str, Inbox]) -> None:
    import datetime as dt

    from smartcron.db.schema import tasks as tasks_table

    name = sd.add("nightly", "--command", "/bin/true", "--schedule", "*/5 * * * *")
    assert sd.run("sync").exit_code == 0
    with sd.engine.begin() as conn:  # it has existed for an hour and never ran
        conn.execute(
            sa.update(tasks_table)
            .where(tasks_table.c.name == name)
            .values(updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        )
    watchdog = start_watchdog(sd, str(sd.engine.url), {"hook": webhook[0]}, "4h")
    try:
        got = webhook[1].wait(1, timeout=30)
        assert got and f"smartcron: {name} is late" in got[0]["title"]
        assert "has not started" in got[0]["body"]
        with sd.engine.connect() as conn:
            alert = conn.execute(sa.select(alerts).where(alerts.c.kind == "late")).one()
        assert alert.task_name == name and alert.state == "notified"
    finally:
        watchdog.stop()


def test_long_run_raises_a_long_run_alert(sd: SystemdEnv, webhook: tuple[str, Inbox]) -> None:
    name = sd.add(
        "slow", "--command", "/bin/sleep 30", "--schedule", "@yearly", "--warn-after", "1s",
        "--alert-on", "long-run",
    )  # fmt: skip
    assert sd.run("sync").exit_code == 0
    watchdog = start_watchdog(sd, str(sd.engine.url), {"hook": webhook[0]}, "4h")
    watchdog.health_every = 1.0
    try:
        assert sd.run("task", "run", name).exit_code == 0
        got = webhook[1].wait(1, timeout=30)
        assert got and f"smartcron: {name} is long-run" in got[0]["title"]
        assert "longer than its warn_after" in got[0]["body"]
    finally:
        watchdog.stop()
        sd.systemd.systemctl("stop", f"smartcron-{name}.service", check=False)


def test_fallback_alerts_even_without_the_runs_details(
    sd: SystemdEnv, webhook: tuple[str, Inbox]
) -> None:
    from smartcron.watchdog.fallback import announce

    # A unit systemd reported as failed, but whose run the journal does not show (journal not
    # readable, or already rotated): the fallback must still say that it failed.
    cfg = config.load(
        environ={
            "SMARTCRON_CONFIG": "",
            "SMARTCRON_DATABASE_URL": str(sd.engine.url),
            "SMARTCRON_JOURNAL_DIRECTORY": str(sd.systemd.journal_dir),
            "SMARTCRON_CHANNELS": json.dumps({"hook": webhook[0]}),
        }
    )
    said = announce(cfg, sd.engine, "smartcron-ghost.service", wait=0.5)
    assert "no finished run of smartcron-ghost.service in the journal" in said
    assert said.endswith("sent")  # through the outbox, recorded like every message
    got = webhook[1].wait(1, timeout=10)
    assert got and "smartcron: ghost failed" in got[0]["title"]
    assert "systemctl status smartcron-ghost.service" in got[0]["body"]
