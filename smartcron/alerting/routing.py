"""Where an alert goes: the channels a task names, else those of its priority, else all.

Channel names are checked where they are written (task add/edit, import, the config's
priority routing: model/validate.check_channels and model/config); a name that is still
unknown at send time (the config changed since) is reported on the message, never dropped.
"""

from __future__ import annotations

from smartcron.model.config import Config, priority_routes
from smartcron.model.task import Task


def channel_names(config: Config, task: Task | None) -> list[str]:
    """Return the channel names a task's messages go to, in order: the channels it names,
    else those of its priority (`priority_channels`), else every channel."""
    if task and task.channels:
        return list(task.channels)
    routes = priority_routes(config)
    if task and task.priority in routes:
        return routes[task.priority]
    return list(config.channels)


def channel_urls(config: Config, task: Task | None) -> list[str]:
    """Return the apprise URLs of the channels `channel_names` chose that are configured."""
    return [config.channels[n] for n in channel_names(config, task) if n in config.channels]
