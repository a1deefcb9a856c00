"""What a reload (`systemctl reload`, SIGHUP) of a running service changes: the settings that
apply at once, and those that need a restart of that service (the `restart` metadata of each
setting in model/config.py, the one place that says so)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

from smartcron.errors import SmartcronError
from smartcron.model.config import Config, settings


@dataclass(frozen=True)
class ReloadPlan:
    """The configuration to run with after a reload, and what changed."""

    config: Config  # the new settings, but those needing a restart kept as they run now
    applied: tuple[str, ...]  # changed settings that take effect now
    needs_restart: tuple[str, ...]  # changed settings kept until the service restarts


def needs_restart(service: str) -> list[str]:
    """Given a service name (config.WATCHDOG, config.DASHBOARD), return the settings that
    change only when it restarts."""
    return [f.name for f in settings() if service in f.metadata.get("restart", ())]


def plan_reload(running: Config, reread: Config, service: str) -> ReloadPlan:
    """Given the configuration a service runs with and the one just read (and validated) from
    the file, return what the service runs with after the reload: the new values, except
    that each setting that needs a restart of `service` keeps its running value."""
    frozen = set(needs_restart(service))
    changed = [f.name for f in settings() if getattr(running, f.name) != getattr(reread, f.name)]
    kept = {name: getattr(running, name) for name in changed if name in frozen}
    return ReloadPlan(
        config=dataclasses.replace(reread, **kept),
        applied=tuple(n for n in changed if n not in frozen),
        needs_restart=tuple(n for n in changed if n in frozen),
    )


def reload_config(
    running: Config, reread: Callable[[], Config], service: str
) -> tuple[Config, list[tuple[int, str]]]:
    """Given the running configuration, the start-up loader and the service, re-read and
    validate the file; return the configuration to run with (the running one if the file is
    invalid) and what to log as (logging level, message). Keys only, never values: a
    database URL or a channel URL can hold a password."""
    try:
        new = reread()
    except SmartcronError as exc:
        return running, [
            (
                logging.ERROR,
                f"reload failed, {service} keeps its current settings ({running.source}): "
                f"{exc}. Fix the file and run `systemctl reload {service}` again.",
            )
        ]
    plan = plan_reload(running, new, service)
    lines = [
        (
            logging.WARNING,
            f"reload: needs restart: {name} (changed, but the running value is kept until "
            f"`systemctl restart {service}`)",
        )
        for name in plan.needs_restart
    ]
    lines.append(
        (
            logging.INFO,
            f"reload: configuration re-read from {plan.config.source}; applied: "
            f"{', '.join(plan.applied) or 'nothing changed'}",
        )
    )
    return plan.config, lines
