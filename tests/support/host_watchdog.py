"""Run inside a test host (support/hosts.py): the watchdog on this host's configuration and
its systemd's bus, with the heartbeat and the liveness check made faster than in production
(TEST_HEARTBEAT_EVERY, TEST_HEALTH_EVERY seconds), so a host-down alert comes seconds after
host_down_after instead of up to a minute later. Everything else is the real watchdog."""

from __future__ import annotations

import logging
import os
import signal
import sys

from smartcron.model import config
from smartcron.watchdog.service import Watchdog


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    watchdog = Watchdog(config.load())
    watchdog.writer.heartbeat_every = float(os.environ.get("TEST_HEARTBEAT_EVERY", "1"))
    watchdog.health_every = float(os.environ.get("TEST_HEALTH_EVERY", "2"))
    watchdog.skip_journal_history()  # the host's journal is fresh; nothing of the past
    signal.signal(signal.SIGTERM, watchdog.stop)
    return watchdog.serve()


if __name__ == "__main__":
    sys.exit(main())
