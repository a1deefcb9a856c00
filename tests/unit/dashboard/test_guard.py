"""What the dashboard believes about a request (dashboard/guard.py): redirect targets,
client addresses behind proxies, page numbers. Pure functions."""

from __future__ import annotations

import pytest

from smartcron.dashboard.guard import (
    MAX_PAGE,
    client_address,
    networks,
    page_number,
    safe_next,
)


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example/",
        "/\n/evil.example/",
        "/\r/evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "https://evil.example/",
        "http:/evil.example",
        " /x",
        "/ x",
        "/\x00",
        "javascript:alert(1)",
        "evil.example",
        "/caf\u00e9",
        "",
        None,
    ],
)
def test_safe_next_refuses_anything_but_a_local_path(target: str | None) -> None:
    assert safe_next(target, "/") == "/"


@pytest.mark.parametrize(
    "target", ["/", "/tasks", "/tasks/pos-sync?outcome=failures&page=2", "/%2F"]
)
def test_safe_next_keeps_a_local_path(target: str) -> None:
    assert safe_next(target, "/") == target


@pytest.mark.parametrize(
    ("raw", "page"),
    [("1", 1), ("7", 7), ("0", 1), ("-3", 1), ("x", 1), ("", 1), (None, 1),
     ("9223372036854775807", MAX_PAGE), ("9" * 5000, MAX_PAGE), ("\uff11", 1), (" 2 ", 2)],
)  # fmt: skip
def test_page_number_is_clamped(raw: str | None, page: int) -> None:
    assert page_number(raw) == page


def test_client_address_believes_only_trusted_proxies() -> None:
    none = networks("")
    local = networks("127.0.0.1, ::1")
    chain = networks("10.0.0.0/24,127.0.0.1")
    assert client_address("127.0.0.1", "203.0.113.7", none) == "127.0.0.1"
    assert client_address("198.51.100.1", "203.0.113.7", local) == "198.51.100.1"
    assert client_address("127.0.0.1", "203.0.113.7", local) == "203.0.113.7"
    # The client forged its own entry; the proxy appended the real one.
    assert client_address("127.0.0.1", "1.2.3.4, 203.0.113.7", local) == "203.0.113.7"
    # Two trusted hops: the rightmost untrusted entry is the client.
    assert client_address("127.0.0.1", "1.2.3.4, 203.0.113.7, 10.0.0.5", chain) == "203.0.113.7"
    assert client_address("::1", "", local) == "::1"
