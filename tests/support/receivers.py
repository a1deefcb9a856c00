"""Real alert receivers on loopback: an HTTP webhook and (in the tests) aiosmtpd."""

from __future__ import annotations

import threading
import time


class Inbox:
    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []  # title, body and what else the receiver saw
        self.lock = threading.Lock()

    def add(self, title: str, body: str, **extra: str) -> None:
        with self.lock:
            self.messages.append({"title": title, "body": body, **extra})

    def wait(self, count: int, timeout: float = 20) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < count:
            time.sleep(0.1)
        return list(self.messages)


def plain_part(raw: str) -> str:
    """Return the plain-text part of a received e-mail, decoded, as a mail client shows it."""
    import email
    import email.policy
    from email.message import EmailMessage
    from typing import cast

    message = cast(EmailMessage, email.message_from_string(raw, policy=email.policy.default))
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "expected a plain-text part"
    return str(part.get_content())
