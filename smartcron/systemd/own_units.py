"""smartcron's own units: the watchdog, the dashboard, the maintenance job and timer, and the
fallback alert template, with one hardening block (unit_templates/_hardening.j2) for all.

`OwnUnits.for_config` decides what each service may see and write: the data directory, the
SQLite database's directory and the backup directory are writable; /tmp, /var/tmp and /home
stay hidden unless smartcron itself (its program or its data) lives there, as a checkout or a
test run does. The polkit rule that lets the `smartcron` account start task units is here too.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sqlalchemy.engine.url import make_url

from smartcron.errors import InvalidInput
from smartcron.model.config import Config
from smartcron.model.setting_checks import account_exists, check_service_user
from smartcron.systemd.units import (
    TARGET,
    exec_argument,
    jinja,
    render_target,
    smartcron_executable,
)

ALERT_UNIT = "smartcron-alert@.service"
JOURNALD_DIR = "/etc/systemd/journald.conf.d"
JOURNALD_DROPIN = "50-smartcron.conf"
DATA_DIR = "/var/lib/smartcron"
TMP_DIRS = ("/tmp", "/var/tmp")  # noqa: S108 - only compared against, never written
HOME_DIRS = ("/home", "/root", "/run/user")


def own_user(account: str) -> str | None:
    """Given the service_user setting, return the account smartcron's own services run as, or
    None (run as root) when it is empty or install.sh has not created the default account;
    raise InvalidInput for any other account that does not exist (never root by a typo)."""
    problem = check_service_user("service_user", account)
    if problem:
        raise InvalidInput("service_user", account, problem)
    if not account or not account_exists(account):
        return None  # not installed (a developer's machine): run as the caller
    return account


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root + "/") for root in roots)


@dataclass(frozen=True)
class OwnUnits:
    """What smartcron's own units are rendered with."""

    smartcron: str  # the ExecStart= word that runs this installation's `smartcron`
    user: str | None
    writable: tuple[str, ...]
    private_tmp: bool
    protect_home: str  # "yes", or "read-only" when smartcron lives under /home or /root

    @classmethod
    def for_config(cls, config: Config, smartcron: str | None = None) -> OwnUnits:
        """Given the configuration, return how this installation's own units look."""
        program = smartcron or smartcron_executable()
        writable = [DATA_DIR, config.backup_dir]
        url = make_url(config.database_url)
        if url.get_backend_name() == "sqlite" and url.database:
            writable.append(str(Path(url.database).parent))
        # What the services must be able to see: the program, its Python and its data.
        seen = [os.path.realpath(p) for p in (program, sys.prefix, sys.executable)]
        seen += [os.path.realpath(Path(__file__).parent), *writable]
        return cls(
            smartcron=exec_argument(program),
            user=own_user(config.service_user),
            writable=tuple(dict.fromkeys(writable)),
            private_tmp=not any(_under(p, TMP_DIRS) for p in seen),
            protect_home="read-only" if any(_under(p, HOME_DIRS) for p in seen) else "yes",
        )

    def render(
        self,
        template: str,
        *,
        watchdog_sec: str = "30s",
        environment: dict[str, str] | None = None,
        after: str = "",
    ) -> str:
        """Return one of the own units' text from its template."""
        for key, value in (environment or {}).items():
            if any(ch in value for ch in '"\\\n%$') or not key.isidentifier():
                raise InvalidInput(f"environment {key}", value, "plain values only in the unit")
        text = (
            jinja()
            .get_template(template)
            .render(
                smartcron=self.smartcron,
                user=self.user,
                writable=self.writable,
                private_tmp=self.private_tmp,
                protect_home=self.protect_home,
                watchdog_sec=watchdog_sec,
                environment=sorted((environment or {}).items()),
                after=after,
            )
        )
        return str(text).rstrip("\n") + "\n"

    def services(self) -> dict[str, str]:
        """Return the watchdog, dashboard and maintenance units by file name."""
        return {
            name: self.render(f"{name}.j2")
            for name in (
                "smartcron-watchdog.service",
                "smartcron-dashboard.service",
                "smartcron-maintenance.service",
                "smartcron-maintenance.timer",
            )
        }

    def shared_files(self) -> dict[str, str]:
        """Return the unit files every task relies on: the tasks target and the alert
        template."""
        return {TARGET: render_target(), ALERT_UNIT: self.render(f"{ALERT_UNIT}.j2")}


def journald_dropin() -> str:
    """Return the journald drop-in that keeps every line of a task's output (see inside)."""
    return (resources.files("smartcron.unit_templates") / "journald.conf.j2").read_text()


def polkit_rule(unit_dir: str = "/etc/systemd/system") -> str:
    """Given the unit directory, return the polkit rule that lets the smartcron user
    start/stop the units smartcron generated for tasks, and nothing else."""
    text = (resources.files("smartcron.unit_templates") / "50-smartcron.rules").read_text()
    return text.replace("@UNIT_DIR@", json.dumps(unit_dir)[1:-1])


def template_names() -> list[str]:
    """Return every unit template shipped (for tests and doctor)."""
    return sorted(
        p.name
        for p in resources.files("smartcron.unit_templates").iterdir()
        if p.name.endswith(".j2")
    )
