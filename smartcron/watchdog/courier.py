"""The courier thread: sends the outbox's due messages, so that a slow or unreachable alert
channel never holds up the watchdog's main loop (which pings systemd's watchdog)."""

from __future__ import annotations

import logging
import threading
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcron.alerting.delivery import deliver_due
from smartcron.model.config import Config

log = logging.getLogger("smartcron.courier")


class Courier(threading.Thread):
    """Every second, deliver the pending messages whose time has come."""

    def __init__(self, engine: Engine, config: Config, every: float = 1.0) -> None:
        super().__init__(name="smartcron-courier", daemon=True)
        self.engine = engine
        self.config = config
        self.every = every
        self.heartbeat = time.monotonic()
        self.sent = 0
        self.error = ""
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            self.heartbeat = time.monotonic()
            try:
                self.sent += deliver_due(self.engine, self.config)
                self.error = ""
            except sa.exc.SQLAlchemyError as exc:  # the database is away: the writer says so
                if str(exc) != self.error:
                    log.error("cannot read the outbox, will retry: %s", getattr(exc, "orig", exc))
                self.error = str(exc)
            self._stopping.wait(self.every)
