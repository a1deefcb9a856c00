"""Secrets hidden from `smartcron config show`: every secret-like setting declares a mask."""

from __future__ import annotations

import re

import pytest

from smartcron.model import config
from smartcron.model.masking import mask_channel, mask_endpoint, mask_password, masked

# Settings whose names look secret but whose values are not: the link shown in every alert,
# and the names (not the URLs) of channels by priority.
PUBLIC = {"dashboard_url", "priority_channels", "digest_channels"}  # names, not URLs


def test_masking_every_secret_like_setting_declares_a_mask() -> None:
    looks_secret = re.compile(r"url|secret|password|token|channels|credential")
    unmasked = [
        f.name
        for f in config.settings()
        if looks_secret.search(f.name) and not f.metadata.get("mask") and f.name not in PUBLIC
    ]
    assert unmasked == []


def test_masking_every_declared_kind_is_known() -> None:
    for f in config.settings():
        kind = f.metadata.get("mask")
        sample = {"x": "json://u:p@h/t"} if kind == "channels" else "json://u:p@h/t"
        assert masked(kind, sample) != sample or kind is None, f.name


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mysql+pymysql://u:secret@db:3306/x", "mysql+pymysql://u:***@db:3306/x"),
        ("mysql+pymysql://u@db/x", "mysql+pymysql://u@db/x"),
        (
            "mysql+pymysql://u:p@[::1]:3306/x?charset=utf8",
            "mysql+pymysql://u:***@[::1]:3306/x?charset=utf8",
        ),
        (
            "mysql+pymysql://u@db/x?password=p&ssl_key=k",
            "mysql+pymysql://u@db/x?password=***&ssl_key=***",
        ),
        ("sqlite:////var/lib/smartcron/smartcron.db", "sqlite:////var/lib/smartcron/smartcron.db"),
        ("not a url:pw", "***"),
    ],
)
def test_masking_password_hides_only_the_password(url: str, shown: str) -> None:
    assert mask_password(url) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hc-ping.com/1234-uuid", "https://hc-ping.com/***"),
        ("https://user:pw@mon.example:8443/", "https://***:***@mon.example:8443/"),
        ("https://mon.example?key=1", "https://mon.example/***"),
    ],
)
def test_masking_endpoint_keeps_scheme_and_host(url: str, shown: str) -> None:
    assert mask_endpoint(url) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mailto://user:pw@mail.example?to=ops@example.com", "mailto://***:***@mail.example/***"),
        ("json://hook.example:8080/path", "json://hook.example:8080/***"),
        ("slack://TokenA/TokenB/TokenC", "slack://***"),
        ("tgram://123:bottoken/chat", "tgram://***"),
        ("ntfy://secret-topic", "ntfy://***"),
        ("garbage", "***"),
    ],
)
def test_masking_channel_hides_tokens_wherever_the_scheme_keeps_them(url: str, shown: str) -> None:
    assert mask_channel(url) == shown


def test_masking_leaves_empty_values_and_plain_settings() -> None:
    assert masked("value", "") == ""
    assert masked("channels", {}) == {}
    assert masked(None, "/etc/systemd/system") == "/etc/systemd/system"
    assert masked("value", "k3y") == "***"
