"""sd_notify for the watchdog service: READY=1, RELOADING=1, WATCHDOG=1 and STATUS=.

sdnotify swallows every error unless debug=True; this wrapper turns it on and logs a failure
(at most once a minute) instead of silently losing the readiness or watchdog messages.
"""

from __future__ import annotations

import logging
import os
import time

log = logging.getLogger("smartcron.notify")


class Notifier:
    """Talks to $NOTIFY_SOCKET when systemd set one; a no-op when run by hand."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
        # Ping at half the watchdog interval, as sd_watchdog_enabled(3) recommends.
        self.watchdog_interval = usec / 2_000_000 if usec else 0.0
        self._last_ping = 0.0
        self._last_error = 0.0
        self._notifier = None
        if self.enabled:
            import sdnotify

            self._notifier = sdnotify.SystemdNotifier(debug=True)

    def _send(self, message: str) -> None:
        if self._notifier is None:
            return
        try:
            self._notifier.notify(message)
        except OSError as exc:
            now = time.monotonic()
            if now - self._last_error > 60:
                log.error("sd_notify(%r) failed: %s", message.split("=")[0], exc)
                self._last_error = now

    def ready(self) -> None:
        self._send("READY=1")

    def reloading(self) -> None:
        """Say a reload has begun (READY=1 ends it). MONOTONIC_USEC is what systemd 253+
        (Type=notify-reload) matches against the time it sent the signal; 252 ignores it."""
        self._send(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")

    def status(self, text: str) -> None:
        self._send(f"STATUS={text}")

    def stopping(self) -> None:
        self._send("STOPPING=1")

    def watchdog_due(self) -> bool:
        return (
            bool(self.watchdog_interval)
            and time.monotonic() - self._last_ping >= self.watchdog_interval
        )

    def watchdog(self) -> None:
        """Ping systemd's watchdog. Call only from the main loop, so a stuck loop stops pinging."""
        self._send("WATCHDOG=1")
        self._last_ping = time.monotonic()
