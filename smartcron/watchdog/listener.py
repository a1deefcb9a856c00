"""The D-Bus listener thread: systemd's PropertiesChanged signals in, RunEvents out.

It subscribes to systemd, feeds the signals of smartcron's task units to the pure RunTracker
and hands the events to a sink (the writer's queue) without ever blocking: a client that falls
behind on signals can be disconnected by the bus.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from typing import Any

from smartcron.watchdog.events import RunTracker

log = logging.getLogger("smartcron.listener")


def _plain(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


class SignalListener(threading.Thread):
    """Subscribe to systemd and feed RunEvents to `sink` without ever blocking on it."""

    UNIT_PATH = b"/org/freedesktop/systemd1/unit/smartcron_2d"

    def __init__(self, sink: Any) -> None:
        super().__init__(name="smartcron-dbus", daemon=True)
        self.sink = sink
        self.tracker = RunTracker()
        self.subscribed = threading.Event()
        self.heartbeat = time.monotonic()
        self.handled = 0  # signals seen, to know when the bus is drained
        self.error = ""
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        from pystemd.dbusexc import DBusBaseError
        from pystemd.dbuslib import DBus, path_decode
        from pystemd.systemd1 import Manager

        self._path_decode = path_decode
        try:
            with DBus() as bus:
                Manager(bus=bus, _autoload=True).Manager.Subscribe()

                # pystemd stores metadata on the callback, so it must be a plain function.
                def on_signal(msg: Any, error: Any = None, userdata: Any = None) -> None:
                    self._on_signal(msg)

                bus.match_signal(
                    b"org.freedesktop.systemd1",
                    None,
                    b"org.freedesktop.DBus.Properties",
                    b"PropertiesChanged",
                    on_signal,
                )
                self.subscribed.set()
                fd = bus.get_fd()
                last_flush = time.monotonic()
                while not self._stopping.is_set():
                    # Sleep in select(), which releases the GIL: pystemd's bus.wait() holds it
                    # and would starve the writer thread. Then process until a few calls in a
                    # row handle no signal: sd-bus may already hold read messages in memory,
                    # which select() cannot see.
                    select.select([fd], [], [], 0.25)
                    quiet = 0
                    while quiet < 8:
                        before = self.handled
                        bus.process()
                        quiet = 0 if self.handled != before else quiet + 1
                        # Turning, even when signals never pause for 8 calls (a long burst):
                        # the main loop restarts a watchdog whose heartbeat stops.
                        self.heartbeat = time.monotonic()
                    now = time.monotonic()
                    self.heartbeat = now
                    if now - last_flush > 0.25:
                        for event in self.tracker.flush():
                            self.sink(event)
                        last_flush = now
        except DBusBaseError as exc:
            self.error = f"D-Bus connection to systemd failed: {exc}"
            log.error("%s", self.error)

    def _on_signal(self, msg: Any) -> None:
        self.handled += 1
        # Filter on the object path before decoding the body: systemd signals every unit's
        # changes (timers, its own units, other services), and only smartcron's task units
        # matter. get_path() reads one header; process_reply() decodes the whole message.
        path = msg.get_path() or b""
        if not path.startswith(self.UNIT_PATH):
            return
        msg.process_reply(False)
        unit = self._path_decode(path, b"/org/freedesktop/systemd1/unit").decode()
        interface, changed, _invalidated = msg.body
        values = {_plain(k): _plain(v) if k != b"InvocationID" else v for k, v in changed.items()}
        if interface == b"org.freedesktop.systemd1.Unit":
            events = self.tracker.unit_changed(unit, values)
        elif interface == b"org.freedesktop.systemd1.Service":
            events = self.tracker.service_changed(unit, values)
        else:
            return
        for event in events:
            self.sink(event)
