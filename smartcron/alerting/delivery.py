"""Sending notices through apprise channels (mail, chat, webhooks), and channel tests."""

from __future__ import annotations

import logging
import socket

from smartcron.alerting.notices import Notice
from smartcron.errors import InvalidInput, OperationFailed
from smartcron.model.config import Config

log = logging.getLogger("smartcron.alerts")


def send(urls: list[str], notice: Notice) -> bool:
    """Send a notice to the URLs; return True if every channel accepted it."""
    if not urls:
        return False
    import apprise

    sender = apprise.Apprise()
    for url in urls:
        if not sender.add(url):
            log.error("alert channel URL is not understood by apprise: %s", url.split("://")[0])
            return False
    return bool(sender.notify(title=notice.title, body=notice.body))


def test_channel(config: Config, name: str) -> None:
    """Send a test message through one channel, or raise with what to fix."""
    if name not in config.channels:
        known = ", ".join(config.channels) or "none configured"
        raise InvalidInput("CHANNEL", name, f"not a configured channel (known: {known})")
    notice = Notice(
        f"smartcron test alert from {socket.gethostname()}",
        "If you can read this, smartcron can reach you through this channel.",
    )
    if not send([config.channels[name]], notice):
        raise OperationFailed(
            f"channel {name!r} did not accept the test message; check its URL "
            "and that the service is reachable (apprise logged the reason above)"
        )
