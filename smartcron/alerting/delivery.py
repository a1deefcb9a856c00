"""Delivering messages: the outbox, channels tried in order, retries with backoff.

A notice is written to the `outbox` table in the transaction that decided it (never a message
for a state that was not stored), then delivered by whoever leases the row: the watchdog's
courier thread, or the OnFailure= fallback for the alert it raised. Delivery tries the
channels routing chose; if none accepts, every other configured channel ("fallback"); if none
accepts either, the row is retried with a growing delay (1, 2, 4 ... 60 min) for a day and then
marked failed. Every attempt's per-channel error is kept on the row, where the CLI, the
dashboard and the health check read it.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcron.alerting.hold import HELD, holding_window
from smartcron.alerting.notices import INFO, Notice, render
from smartcron.db.schema import outbox, utcnow
from smartcron.errors import InvalidInput, OperationFailed
from smartcron.model.config import Config

log = logging.getLogger("smartcron.alerts")
LEASE = dt.timedelta(minutes=2)  # longer than any send takes; a crashed sender's lease ends
GIVE_UP_AFTER = dt.timedelta(days=1)
MAX_BACKOFF = dt.timedelta(hours=1)
PENDING, SENT, FAILED = "pending", "sent", "failed"


def send_to(url: str, notice: Notice) -> str:
    """Send a notice through one apprise URL; return "" if accepted, else apprise's reason.

    Channels that prefer HTML (e-mail) get the escaped HTML body, so they build a text part
    with its line breaks and an HTML part with the output in a <pre>; others get plain text.
    """
    import apprise

    sender = apprise.Apprise()
    if not sender.add(url):
        return "apprise does not understand this channel URL (check its scheme and fields)"
    preferred = sender[0].notify_format
    html = (
        preferred[0] if isinstance(preferred, tuple) else preferred
    ) == apprise.NotifyFormat.HTML
    with apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call]
        accepted = sender.notify(
            title=notice.title,
            body=notice.html if html else notice.text,
            body_format=apprise.NotifyFormat.HTML if html else apprise.NotifyFormat.TEXT,
            notify_type=apprise.NotifyType(notice.severity),
        )
    if accepted:
        return ""
    said = [line.strip() for line in captured.getvalue().splitlines() if line.strip()]
    return said[-1] if said else "the channel refused the message"


def enqueue(
    conn: Connection,
    notice: Notice,
    channels: list[str],
    alert_id: int | None = None,
    *,
    hold: bool = True,
) -> int:
    """Write a notice to the outbox in the caller's transaction; return its id. A notice
    about a task that a maintenance window with hold_alerts covers now is written as held
    (alerting/hold.py: sent in the window's summary when it ends); hold=False for the
    summary itself."""
    now = utcnow()
    window = holding_window(conn, notice.task, now) if hold else None
    result = conn.execute(
        outbox.insert().values(
            alert_id=alert_id,
            task_name=notice.task,
            kind=notice.kind,
            severity=notice.severity,
            title=notice.title[:255],
            text_body=notice.text,
            html_body=notice.html,
            channels=channels,
            state=HELD if window else PENDING,
            held_for=window,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def lease(engine: Engine, message_id: int) -> Any:
    """Take the right to send one pending message now; return its row, or None if another
    sender holds it (or it is no longer pending)."""
    now = utcnow()
    with engine.begin() as conn:
        taken = conn.execute(
            outbox.update()
            .where(
                outbox.c.id == message_id,
                outbox.c.state == PENDING,
                sa.or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now),
            )
            .values(lease_until=now + LEASE)
        ).rowcount
        if taken != 1:
            return None
        return conn.execute(sa.select(outbox).where(outbox.c.id == message_id)).one()


def _backoff(attempts: int) -> dt.timedelta:
    return min(dt.timedelta(minutes=2 ** max(0, attempts - 1)), MAX_BACKOFF)


def deliver(engine: Engine, config: Config, row: Any) -> bool:
    """Send a leased message: its channels, then every other one; record what happened."""
    notice = Notice(row.kind, row.severity, row.title, row.text_body, row.html_body, row.task_name)
    routed = [name for name in row.channels if name in config.channels]
    others = [name for name in config.channels if name not in routed]
    errors: list[str] = [f"{n}: not a configured channel" for n in row.channels if n not in routed]
    accepted: list[str] = []
    for group in (routed, others):
        for name in group:
            reason = send_to(config.channels[name], notice)
            if reason:
                errors.append(f"{name}: {reason}")
            else:
                accepted.append(name)
        if accepted:
            break  # the other channels are a fallback only
    if not config.channels:
        errors.append("no alert channel is configured (the `channels` setting)")
    now = utcnow()
    attempts = row.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "lease_until": None}
    if accepted:
        values.update(state=SENT, sent_at=now, sent_via=accepted, last_error="; ".join(errors))
    else:
        gave_up = now - row.created_at >= GIVE_UP_AFTER or not config.channels
        values.update(
            state=FAILED if gave_up else PENDING,
            next_attempt_at=now + _backoff(attempts),
            last_error="; ".join(errors),
        )
        log.error(
            "message %d (%r) could not be delivered (attempt %d): %s",
            row.id,
            row.title,
            attempts,
            values["last_error"],
        )
    with engine.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.id == row.id).values(**values))
    return bool(accepted)


def deliver_due(engine: Engine, config: Config, limit: int = 50) -> int:
    """Deliver every pending message whose time has come; return how many were sent."""
    now = utcnow()
    with engine.connect() as conn:
        due = conn.execute(
            sa.select(outbox.c.id)
            .where(outbox.c.state == PENDING, outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.id)
            .limit(limit)
        ).scalars()
        ids = list(due)
    sent = 0
    for message_id in ids:
        row = lease(engine, message_id)
        if row is not None and deliver(engine, config, row):
            sent += 1
    return sent


def send_directly(config: Config, notice: Notice) -> str:
    """Send through every channel without the database (it is down): "" or why it failed."""
    if not config.channels:
        return "no alert channel is configured"
    errors = [f"{n}: {r}" for n, url in config.channels.items() if (r := send_to(url, notice))]
    return "" if len(errors) < len(config.channels) else "; ".join(errors)


def test_channel(config: Config, name: str) -> None:
    """Send a test message through one channel, or raise with what to fix."""
    if name not in config.channels:
        known = ", ".join(config.channels) or "none configured"
        raise InvalidInput("CHANNEL", name, f"not a configured channel (known: {known})")
    notice = render(
        "test",
        INFO,
        f"smartcron test alert from {socket.gethostname()}",
        [("", "If you can read this, smartcron can reach you through this channel.")],
        None,
    )
    reason = send_to(config.channels[name], notice)
    if reason:
        raise OperationFailed(
            f"channel {name!r} did not accept the test message: {reason}. Check its URL "
            "and that the service is reachable."
        )
