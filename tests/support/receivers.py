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
