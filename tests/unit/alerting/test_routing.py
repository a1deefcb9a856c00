"""Which channels a task's alerts go to (pure)."""

from __future__ import annotations

from smartcron.alerting.routing import channel_urls
from smartcron.model.config import Config
from smartcron.model.validate import validate_task

CHANNELS = {"ops": "json://ops/x", "chat": "json://chat/x", "hook": "json://hook/x"}


def _task(**extra: object):  # type: ignore[no-untyped-def]
    return validate_task(
        {"name": "job", "command": ["/bin/true"], "schedule": "@daily", "timezone": "UTC", **extra}
    )


def test_channels_named_by_the_task_win() -> None:
    cfg = Config(channels=CHANNELS, priority_channels={"normal": "ops"})
    assert channel_urls(cfg, _task(channels=["chat"])) == ["json://chat/x"]


def test_channels_by_priority_when_the_task_names_none() -> None:
    cfg = Config(channels=CHANNELS, priority_channels={"critical": "ops, chat"})
    assert channel_urls(cfg, _task(priority="critical")) == ["json://ops/x", "json://chat/x"]
    assert channel_urls(cfg, _task(priority="low")) == list(CHANNELS.values())


def test_unknown_channel_names_are_ignored() -> None:
    cfg = Config(channels=CHANNELS)
    assert channel_urls(cfg, _task(channels=["nope"])) == []  # reported at send time
