"""Every alert carries its evidence, readable and safe: the run's last output lines (stdout and
stderr), the plain meaning, the task's local time and UTC, where to look next; e-mail with a
text part that keeps its lines and an escaped HTML part; webhooks typed by severity."""

from __future__ import annotations

import email
import email.policy
import json
import time
from email.message import EmailMessage
from typing import cast

import pytest
import sqlalchemy as sa

from smartcron.db.schema import outbox

from support.receivers import Inbox
from support.systemd import SystemdEnv, start_watchdog

MISSING = "/bin/sh: 1: /opt/retail/bin/not-there: not found"


def _parts(raw: str) -> tuple[str, str]:
    message = cast(EmailMessage, email.message_from_string(raw, policy=email.policy.default))
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None, "expected a text and an HTML part"
    return text.get_content(), html.get_content()


def test_evidence_failing_task_alert_quotes_its_stderr_in_webhook_and_mail(
    sd: SystemdEnv, webhook: tuple[str, Inbox], smtp: tuple[str, Inbox]
) -> None:
    script = sd.script(
        "report.sh",
        "#!/bin/sh\necho 'building the sales report'\necho '<h1>x</h1> <a href=\"http://evil.example\">invoice</a>'\n"
        f"echo '{MISSING}' >&2\nexit 127\n",
    )
    name = sd.add(
        "report", "--command", str(script), "--schedule", "@yearly",
        "--timezone", "Pacific/Auckland",
    )  # fmt: skip
    assert sd.run("sync").exit_code == 0
    watchdog = start_watchdog(sd, str(sd.engine.url), {"hook": webhook[0], "mail": smtp[0]}, "4h")
    try:
        sd.run("task", "run", name, "--wait")
        hook = webhook[1].wait(1, timeout=30)
        mail = smtp[1].wait(1, timeout=30)
    finally:
        watchdog.stop()
    assert len(hook) == 1 and len(mail) == 1
    # The webhook: the evidence, typed as a failure.
    assert hook[0]["type"] == "failure"
    assert MISSING in hook[0]["body"] and "building the sales report" in hook[0]["body"]
    assert "NZDT" in hook[0]["body"] and "UTC)" in hook[0]["body"]  # the task's time and UTC
    assert f"smartcron logs {name} --run" in hook[0]["body"]
    assert "command not found" in hook[0]["body"]  # the plain meaning of 127
    # The e-mail: subject with task, outcome and host; parts parsed as a mail client would.
    assert name in mail[0]["title"] and "failed" in mail[0]["title"] and " on " in mail[0]["title"]
    text, html = _parts(mail[0]["raw"])
    lines = text.splitlines()
    assert any(line.strip() == MISSING for line in lines)  # on a line of its own
    assert any(line.strip() == "building the sales report" for line in lines)
    assert "<pre>" in html and "&lt;h1&gt;x&lt;/h1&gt;" in html
    assert "<h1>x</h1>" not in html and 'href="http://evil.example"' not in html


def test_evidence_waits_for_output_a_short_moment_only(
    sd: SystemdEnv, webhook: tuple[str, Inbox]
) -> None:
    # A task that prints nothing: the alert must not wait long for output that never comes.
    name = sd.add("quiet", "--command", "/bin/false", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    watchdog = start_watchdog(sd, str(sd.engine.url), {"hook": webhook[0]}, "4h")
    try:
        began = time.monotonic()
        sd.run("task", "run", name, "--wait")
        got = webhook[1].wait(1, timeout=30)
        took = time.monotonic() - began
    finally:
        watchdog.stop()
    assert got and "No output." in got[0]["body"]
    assert took < 15, f"the alert took {took:.1f} s"


def test_delivery_failure_is_recorded_retried_and_falls_back(
    sd: SystemdEnv, webhook: tuple[str, Inbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The task's own channel is down (nothing listens there); the other configured channel
    # gets the alert, and the failure of the first is written on the message.
    dead = "json://127.0.0.1:9/down"
    monkeypatch.setenv("SMARTCRON_CHANNELS", json.dumps({"ops": dead, "hook": webhook[0]}))
    name = sd.add("payroll", "--command", "/bin/false", "--schedule", "@yearly", "--channel", "ops")
    assert sd.run("sync").exit_code == 0
    watchdog = start_watchdog(sd, str(sd.engine.url), {"ops": dead, "hook": webhook[0]}, "4h")
    try:
        sd.run("task", "run", name, "--wait")
        got = webhook[1].wait(1, timeout=30)
    finally:
        watchdog.stop()
    assert got and name in got[0]["title"]
    with sd.engine.connect() as conn:
        message = conn.execute(sa.select(outbox).where(outbox.c.kind == "failure")).one()
    assert message.state == "sent" and message.sent_via == ["hook"]
    assert message.last_error.startswith("ops: ")


def test_delivery_nowhere_is_a_failing_health_check(sd: SystemdEnv) -> None:
    name = sd.add("bank", "--command", "/bin/false", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    watchdog = start_watchdog(sd, str(sd.engine.url), {"ops": "json://127.0.0.1:9/down"}, "4h")
    try:
        sd.run("task", "run", name, "--wait")
        deadline = time.monotonic() + 30
        attempts = 0
        while time.monotonic() < deadline and attempts < 1:
            with sd.engine.connect() as conn:
                attempts = conn.execute(sa.select(sa.func.max(outbox.c.attempts))).scalar() or 0
            time.sleep(0.3)
    finally:
        watchdog.stop()
    assert attempts >= 1
    result = sd.run("health", "--json")
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["alert-delivery"]["status"] == "fail"
    assert (
        "ops:" in checks["alert-delivery"]["message"]
        and name in checks["alert-delivery"]["message"]
    )
    listing = sd.run("alerts")
    assert "NOT delivered" in listing.stdout


def test_delivery_is_shown_on_the_dashboards_alerts_page(
    sd: SystemdEnv, webhook: tuple[str, Inbox]
) -> None:
    from smartcron.dashboard import create_app
    from smartcron.model import config

    from support.dashboard import add_user, login

    name = sd.add("bank", "--command", "/bin/false", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    watchdog = start_watchdog(sd, str(sd.engine.url), {"ops": "json://127.0.0.1:9/down"}, "4h")
    try:
        sd.run("task", "run", name, "--wait")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with sd.engine.connect() as conn:
                if conn.execute(sa.select(sa.func.max(outbox.c.attempts))).scalar():
                    break
            time.sleep(0.3)
    finally:
        watchdog.stop()
    cfg = config.load(
        environ={"SMARTCRON_CONFIG": "", "SMARTCRON_DATABASE_URL": str(sd.engine.url)}
    )
    app = create_app(cfg, {"TESTING": True, "SESSION_COOKIE_SECURE": False})
    add_user(sd.engine, "vera", "viewer")
    client = app.test_client()
    login(client, "vera")
    page = client.get("/alerts").get_data(as_text=True)
    assert "NOT delivered yet" in page and "ops: " in page
