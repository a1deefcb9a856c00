"""`smartcron watchdog`: the long-running service that records every run.

The main loop owns the systemd watchdog ping: it pings only after checking that the D-Bus
listener and the writer are alive and not stuck, so a hung component gets the whole service
restarted by systemd (WatchdogSec=) instead of silently recording nothing.

SIGHUP (`systemctl reload`) re-reads the configuration in the main loop, never in the signal
handler: the listener and the writer keep running through it, so no run is missed.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron import __version__
from smartcron.alerting.delivery import enqueue, send_directly
from smartcron.alerting.engine import AlertEngine, sync_condition_alerts
from smartcron.alerting.liveness import check_hosts
from smartcron.alerting.notices import Notice, system_notice
from smartcron.db.engine import make_engine, redact
from smartcron.db.hosts import STOPPED, heartbeat, register_host
from smartcron.db.schema import utcnow
from smartcron.db.state import journal_cursor
from smartcron.db.tasks import list_tasks
from smartcron.errors import OperationFailed
from smartcron.model.config import WATCHDOG, Config
from smartcron.model.digest import Period
from smartcron.model.reload import reload_config
from smartcron.ops import digest, health
from smartcron.systemd.journal import Journal
from smartcron.watchdog.courier import Courier
from smartcron.watchdog.listener import SignalListener
from smartcron.watchdog.notify import Notifier
from smartcron.watchdog.reconcile import reconcile
from smartcron.watchdog.writer import CursorMark, Writer

log = logging.getLogger("smartcron.watchdog")
STUCK_AFTER = 30.0  # seconds without a D-Bus loop iteration
# While the writer has events waiting, alert evaluation waits (at most this long): both write
# to the database, and on SQLite each waits out the other's lock.
ALERTS_YIELD = 5.0


class Watchdog:
    """Wires the listener, the writer and the journal together; `serve()` runs the main loop."""

    def __init__(
        self,
        config: Config,
        *,
        reconcile_every: float = 300.0,
        reread: Callable[[], Config] | None = None,
    ) -> None:
        self.config = config
        self._reread = reread  # loads and validates the configuration as at start-up
        self._reload_requested = False
        self.engine = make_engine(config.database_url)
        self.journal = Journal(config.journal_directory)
        self._registered = False
        self.writer = Writer(self.engine, self.journal, host=config.host_name, heartbeat=self._beat)
        self.listener = SignalListener(self.writer.submit)
        self.notifier = Notifier()
        self.reconcile_every = reconcile_every
        self.alerts = AlertEngine(self.engine, config)
        self.courier = Courier(self.engine, config)
        self._direct_failed: Notice | None = None  # a direct alert that could not be sent
        self.db_alert_after = 300.0  # seconds of database outage before alerting directly
        self._db_alert_sent = False
        self._last_heartbeat = 0.0
        self.health_every = 60.0
        self._last_health = 0.0
        self.last_score: int | None = None
        self.digest_every = 60.0
        self._last_digest = 0.0  # the first round runs at start-up: a missed digest goes late
        self._digests_done: set[Period] = set()
        self._alert_error = ""
        self._last_alerts = 0.0
        self._stop = threading.Event()
        self._cursor: str | None = None

    def stop(self, *_: Any) -> None:
        self._stop.set()

    def request_reload(self, *_: Any) -> None:
        """The SIGHUP handler: only a flag. The main loop reloads within a second; taking a
        lock or logging here could deadlock with the code the signal interrupted."""
        self._reload_requested = True

    def reload(self) -> None:
        """Re-read the configuration; if it is valid, use it (but for the settings that need
        a restart); if not, keep the running one and log why."""
        if self._reread is None:
            log.warning("reload: this watchdog was started without a configuration loader")
            return
        config, lines = reload_config(self.config, self._reread, WATCHDOG)
        for level, message in lines:
            log.log(level, "%s", message)
        self._use(config)

    def _use(self, config: Config) -> None:
        """Swap in new settings. Config is immutable and each holder takes it by one
        assignment, so every pass of the alert loop or the courier sees all old or all new."""
        self.alerts.use(config)
        self.courier.config = config
        self.config = config

    def _reload_if_asked(self) -> None:
        if not self._reload_requested:
            return
        self._reload_requested = False
        self.notifier.reloading()
        try:
            self.reload()
        finally:
            self.notifier.ready()

    def _beat(self, conn: Connection) -> None:
        """In the writer thread: register this host once, then refresh its heartbeat."""
        if not self._registered or not heartbeat(conn, self.config.host_name):
            register_host(conn, self.config.host_name, __version__)
        self._registered = True

    def _say_stopped(self) -> None:
        """Mark this host's watchdog stopped (a clean stop is not a host that died)."""
        try:
            with self.engine.begin() as conn:
                heartbeat(conn, self.config.host_name, STOPPED)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("could not mark host %s stopped: %s", self.config.host_name, exc)

    def skip_journal_history(self) -> None:
        """Reconcile from the journal's end instead of the stored cursor (a watchdog that must
        not record the runs of a shared journal's past, such as a test's)."""
        self._cursor = self.journal.current_cursor()

    def reconcile(self) -> int:
        """Queue every run in the journal since the last cursor; return how many were found."""
        if self._cursor is None:
            try:
                with self.engine.connect() as conn:
                    self._cursor = journal_cursor(conn, self.config.host_name)
            except sa.exc.SQLAlchemyError:  # database down: fall back to the last 24 h
                self._cursor = None
        found = reconcile(self.journal.entries_since(self._cursor))
        for event in found.events:
            self.writer.submit(event)
        if found.cursor:
            self.writer.submit(CursorMark(found.cursor))
            self._cursor = found.cursor
        return len(found.events)

    def _alert_tick(self) -> None:
        """Evaluate alerts; with the database away, alert about that directly."""
        if self.writer.db_ok:
            if self.writer.backlog and time.monotonic() - self._last_alerts < ALERTS_YIELD:
                return  # runs are being written: record first, evaluate a moment later
            self._last_alerts = time.monotonic()
            self._db_alert_sent = False
            try:
                self._queue_failed_direct_alert()
                self.alerts.tick()
                self._alert_error = ""
            except (OperationFailed, sa.exc.SQLAlchemyError) as exc:
                if str(exc) != self._alert_error:
                    log.error("alert evaluation failed, will retry: %s", exc)
                self._alert_error = str(exc)
            return
        down = self.writer.db_down_since
        if down and not self._db_alert_sent and time.monotonic() - down > self.db_alert_after:
            notice = system_notice(
                "smartcron: cannot reach its database",
                [
                    (
                        "What happened",
                        "The watchdog has not been able to write to "
                        f"{redact(self.config.database_url)} for "
                        f"{time.monotonic() - down:.0f} s: {self.writer.last_error}.",
                    ),
                    (
                        "",
                        "Runs are kept in memory and will be written when it returns; alerts "
                        "for failed runs wait until then. Check the database server.",
                    ),
                ],
            )
            failed = send_directly(self.config, notice)
            self._db_alert_sent = True
            if failed:
                log.error("could not alert that the database is unreachable: %s", failed)
                self._direct_failed = notice

    def _queue_failed_direct_alert(self) -> None:
        """A direct alert that could not be sent goes to the outbox once the database is
        back: recorded, retried and shown like every other message."""
        if self._direct_failed is not None:
            with self.engine.begin() as conn:
                enqueue(conn, self._direct_failed, list(self.config.channels))
            self._direct_failed = None

    def _health_tick(self) -> None:
        """Every minute: run the health checks, store them, raise late/long-run alerts."""
        if not self.writer.db_ok or time.monotonic() - self._last_health < self.health_every:
            return
        self._last_health = time.monotonic()
        try:
            checks = health.run_checks(self.config, self.engine, backlog=self.writer.backlog)
            health.store_checks(self.engine, checks)
            with self.engine.connect() as conn:
                tasks = {t.name: t for t in list_tasks(conn)}
            for kind in ("late", "long-run"):
                problems = {
                    c.name.split(":", 1)[1]: c.message
                    for c in checks
                    if c.name.startswith(f"{kind}:") and c.status != "ok"
                }
                sync_condition_alerts(self.engine, kind, problems, tasks)
            self.last_score = health.score(checks)
            for line in check_hosts(self.config, self.engine):
                log.info("liveness: %s", line)
        except (OperationFailed, sa.exc.SQLAlchemyError) as exc:
            log.error("health checks failed, will retry: %s", exc)

    def _digest_tick(self) -> None:
        """Every minute: queue the digest whose time has come, if no watchdog has (the courier
        thread sends it, so a slow mail server never holds up this loop)."""
        if not self.writer.db_ok or time.monotonic() - self._last_digest < self.digest_every:
            return
        self._last_digest = time.monotonic()
        try:
            for line in digest.tick(self.config, self.engine, utcnow(), self._digests_done):
                log.info("digest: %s", line)
        except (OperationFailed, sa.exc.SQLAlchemyError) as exc:
            log.error("the digest could not be prepared, will retry: %s", exc)

    def _heartbeat(self) -> None:
        """Dead man's switch: fetch heartbeat_url every minute while healthy."""
        url = self.config.heartbeat_url
        if not url or time.monotonic() - self._last_heartbeat < 60:
            return
        self._last_heartbeat = time.monotonic()
        import urllib.request

        try:
            with urllib.request.urlopen(url, timeout=10):  # noqa: S310 - operator's own URL
                pass
        except OSError as exc:
            log.warning("heartbeat to %s failed: %s", url.split("?")[0], exc)

    def status_line(self) -> str:
        db = "db ok" if self.writer.db_ok else f"DATABASE DOWN ({self.writer.last_error[:60]})"
        return (
            f"recorded {self.writer.written} run event(s); {self.writer.backlog} pending "
            f"write(s); {db}"
        )

    def healthy(self) -> str | None:
        """Return why the service is not healthy, or None."""
        if not self.listener.is_alive():
            return self.listener.error or "the D-Bus listener stopped"
        if time.monotonic() - self.listener.heartbeat > STUCK_AFTER:
            return f"the D-Bus loop has not turned for {STUCK_AFTER:.0f} s"
        if not self.writer.is_alive():
            return "the database writer stopped"
        if not self.courier.is_alive():
            return "the alert courier stopped"
        return None

    def serve(self) -> int:
        """Run until stopped; return the exit status (non-zero makes systemd restart us)."""
        try:
            self.alerts.initialize()
        except sa.exc.SQLAlchemyError as exc:  # database down: the first tick will do it
            log.error("database unavailable at start-up: %s", getattr(exc, "orig", exc))
        self.writer.start()
        self.listener.start()
        self.courier.start()
        if not self.listener.subscribed.wait(15):
            log.error("could not subscribe to systemd over D-Bus: %s", self.listener.error)
            return 1
        # Subscribed first, then read the journal: a run that ends in between is seen twice
        # at worst, and rows are idempotent by invocation id.
        log.info("reconciled %d run(s) from the journal", self.reconcile())
        self.notifier.ready()
        last_reconcile = time.monotonic()
        while not self._stop.is_set():
            problem = self.healthy()
            if problem:
                log.error("stopping so that systemd restarts the watchdog: %s", problem)
                return 1
            self._reload_if_asked()
            if self.notifier.watchdog_due():
                self.notifier.watchdog()
            self.notifier.status(self.status_line())
            if time.monotonic() - last_reconcile > self.reconcile_every:
                self.reconcile()
                last_reconcile = time.monotonic()
            self._alert_tick()
            self._health_tick()
            self._digest_tick()
            self._heartbeat()
            self._stop.wait(1.0)
        self.notifier.stopping()
        self.listener.stop()
        self.courier.stop()
        self.writer.stop()
        self.writer.join(timeout=10)
        self._say_stopped()
        return 0


def run(config: Config, reread: Callable[[], Config] | None = None) -> int:
    """Entry point of `smartcron watchdog`; `reread` loads the configuration again on SIGHUP."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        watchdog = Watchdog(config, reread=reread)
    except OperationFailed as exc:
        log.error("%s", exc)
        return 1
    signal.signal(signal.SIGTERM, watchdog.stop)
    signal.signal(signal.SIGINT, watchdog.stop)
    signal.signal(signal.SIGHUP, watchdog.request_reload)
    return watchdog.serve()
