"""Where an alert goes: the channels a task names, else those of its priority, else all."""

from __future__ import annotations

from smartcron.model.config import Config
from smartcron.model.task import Task


def channel_urls(config: Config, task: Task | None) -> list[str]:
    """Return the apprise URLs for a task: the channels it names, else those of its priority
    (`priority_channels`), else every channel."""
    if task and task.channels:
        names = list(task.channels)
    elif task and task.priority in config.priority_channels:
        names = [n.strip() for n in config.priority_channels[task.priority].split(",") if n.strip()]
    else:
        names = list(config.channels)
    return [config.channels[n] for n in names if n in config.channels]
