"""The digest from real watchdogs (in the private systemd): two hosts' watchdogs starting after
digest_time send the missed digest once, late and saying so, without holding up their loops."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import sqlalchemy as sa

from smartcron.db.schema import claims, outbox
from smartcron.model import config
from smartcron.watchdog.service import Watchdog

from support.receivers import Inbox, plain_part
from support.systemd import SystemdEnv


def _watchdog(sd: SystemdEnv, host: str, mail: str, at: str) -> Watchdog:
    cfg = config.load(
        environ={
            "SMARTCRON_CONFIG": "",
            "SMARTCRON_DATABASE_URL": sd.engine.url.render_as_string(hide_password=False),
            "SMARTCRON_JOURNAL_DIRECTORY": str(sd.systemd.journal_dir),
            "SMARTCRON_CHANNELS": json.dumps({"mail": mail}),
            "SMARTCRON_DIGEST_TIME": at,
            "SMARTCRON_DIGEST_TIMEZONE": "UTC",
            "SMARTCRON_HOST_NAME": host,
        }
    )
    watchdog = Watchdog(cfg)
    watchdog.skip_journal_history()
    threading.Thread(target=watchdog.serve, daemon=True).start()
    assert watchdog.listener.subscribed.wait(15), watchdog.listener.error
    return watchdog


def test_digest_missed_is_sent_once_late_by_two_starting_watchdogs(
    sd: SystemdEnv, smtp: tuple[str, Inbox]
) -> None:
    # Its time was two hours ago, while no watchdog ran.
    due = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    at = f"{due:%H:%M}"
    watchdogs = [_watchdog(sd, host, smtp[0], at) for host in ("web1", "web2")]
    try:
        mail = smtp[1].wait(1, timeout=30)
        time.sleep(3)  # time for a second message, were one sent
        assert all(w.healthy() is None for w in watchdogs)  # the loops kept turning
    finally:
        for watchdog in watchdogs:
            watchdog.stop()
    assert len(smtp[1].messages) == 1, [m["title"] for m in smtp[1].messages]
    assert mail[0]["title"].startswith("smartcron digest for ")
    text = plain_part(mail[0]["raw"])
    assert "This digest is late: it was due at " in text
    assert "the watchdog of web1 sent it" in text or "the watchdog of web2 sent it" in text
    with sd.engine.connect() as conn:
        held = conn.execute(sa.select(claims.c.host).where(claims.c.claim_key == "digest:daily"))
        kinds = conn.execute(sa.select(outbox.c.kind, outbox.c.state)).all()
    assert len(list(held)) == 1
    assert [tuple(k) for k in kinds] == [("digest", "sent")]
