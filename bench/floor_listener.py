"""The D-Bus floor of bench/collector.py: a bare pystemd handler that notes, for each task run
that ends, the wall-clock moment its Service signal (with ExecMainExitTimestamp) arrives.

It does what the watchdog's listener must do at the least (subscribe, receive, decode the
signals of smartcron's units) and nothing else: no state machine, no database. On SIGTERM it
prints one JSON line: the latencies exit -> signal received, in ms.

Usage: python bench/floor_listener.py   (DBUS_SYSTEM_BUS_ADDRESS names the bus)
"""

from __future__ import annotations

import json
import select
import signal
import time
from typing import Any

from pystemd.dbuslib import DBus
from pystemd.systemd1 import Manager

UNIT_PATH = b"/org/freedesktop/systemd1/unit/smartcron_2d"
latencies: list[float] = []
handled = [0]
seen: set[tuple[bytes, int]] = set()
stopping = False


def on_signal(msg: Any, error: Any = None, userdata: Any = None) -> None:
    received = time.time()
    handled[0] += 1
    path = msg.get_path() or b""
    if not path.startswith(UNIT_PATH):
        return
    msg.process_reply(False)
    interface, changed, _ = msg.body
    exited = changed.get(b"ExecMainExitTimestamp") if interface.endswith(b"Service") else None
    if exited and (path, exited) not in seen:
        seen.add((path, exited))
        latencies.append((received - exited / 1e6) * 1000)


def stop(*_: object) -> None:
    global stopping
    stopping = True


def main() -> None:
    signal.signal(signal.SIGTERM, stop)
    with DBus() as bus:
        Manager(bus=bus, _autoload=True).Manager.Subscribe()
        bus.match_signal(
            b"org.freedesktop.systemd1",
            None,
            b"org.freedesktop.DBus.Properties",
            b"PropertiesChanged",
            on_signal,
        )
        print("subscribed", flush=True)
        fd = bus.get_fd()
        while not stopping:
            select.select([fd], [], [], 0.1)
            quiet = 0
            while quiet < 8:  # sd-bus may hold read messages that select() cannot see
                before = handled[0]
                bus.process()
                quiet = 0 if handled[0] != before else quiet + 1
    print(json.dumps(sorted(latencies)), flush=True)


if __name__ == "__main__":
    main()
