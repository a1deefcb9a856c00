"""Configuration: /etc/smartcron/smartcron.toml, overridden by SMARTCRON_<NAME> variables.

Every setting is a field of `Config` with its help text in the field metadata; docs/configuration.md
must describe each one (a test enforces it), so the docs cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smartcron.errors import InvalidInput
from smartcron.model.groups import check_groups_setting
from smartcron.model.setting_checks import (
    DEFAULT_SERVICE_USER,
    MAX_BACKUPS_KEPT,
    MAX_RETENTION_DAYS,
    check_absolute,
    check_clock_time,
    check_default_user,
    check_digest_settings,
    check_duration,
    check_host_down_after,
    check_host_name_setting,
    check_listen,
    check_networks,
    check_optional_absolute,
    check_service_user,
    check_timespan,
    check_url,
    check_weekday,
    check_zone_setting,
    coerce_env,
    file_values,
    whole_number,
)

DEFAULT_CONFIG_PATH = Path("/etc/smartcron/smartcron.toml")
DEFAULT_DATABASE_URL = "sqlite:////var/lib/smartcron/smartcron.db"
DEFAULT_TASK_USER = "nobody"  # the default of the default_user setting
ENV_PREFIX = "SMARTCRON_"
# Variables with the prefix that are not settings; they are never reported as unknown.
NON_SETTING_ENV = {"SMARTCRON_CONFIG"}


# The services that must be restarted for a change of a setting to take effect; every other
# setting applies on `systemctl reload` (docs/configuration.md, "Reloading").
WATCHDOG = "smartcron-watchdog"
DASHBOARD = "smartcron-dashboard"


def _setting(
    default: Any,
    help: str,
    check: Any = None,
    mask: str | None = None,
    restart: tuple[str, ...] = (),
) -> Any:
    """A setting: its default, help, check, how its value is masked (model/masking.py) and
    the services a change needs restarted (model/reload.py)."""
    metadata = {"help": help, "check": check, "mask": mask, "restart": restart}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Config:
    """The effective configuration. Field names are the setting names."""

    database_url: str = _setting(
        DEFAULT_DATABASE_URL,
        "SQLAlchemy URL of the task database: sqlite:////path/file.db (the embedded default) or "
        "mysql+pymysql://user:password@host/dbname for MySQL 8 / MariaDB 10.6+.",
        check_url,
        mask="password",
        restart=(WATCHDOG, DASHBOARD),  # the engine, its pool and the migration check
    )
    unit_dir: str = _setting(
        "/etc/systemd/system",
        "Directory where `smartcron sync` writes the generated smartcron-*.service/.timer files.",
        check_absolute,
    )
    timer_accuracy: str = _setting(
        "1s",
        "AccuracySec= of every generated timer. systemd's own default (1min) lets a job start up "
        "to a minute late; 1s keeps runs within about a second of the schedule.",
        check_timespan,
    )
    journal_directory: str = _setting(
        "",
        "Journal directory the watchdog reads (journalctl -D). Empty: the system journal. "
        "Only needed for a private systemd, such as the test sandbox.",
        restart=(WATCHDOG,),  # the watchdog's journal reader is opened once
    )
    channels: dict[str, str] = field(
        default_factory=dict,
        metadata={
            "help": "Alert channels: a table of name = apprise URL (mailto://, json://, "
            "slack://, msteams://, ntfy://, ...). Tasks choose channels by name; a task "
            "without channels uses all of them.",
            "check": None,
            "mask": "channels",
        },
    )
    priority_channels: dict[str, str] = field(
        default_factory=dict,
        metadata={
            "help": "Channels by task priority: a table of priority = comma-separated "
            "channel names, used for tasks that name no channels.",
            "check": None,
        },
    )
    renotify_interval: str = _setting(
        "4h",
        "While a failure lasts, repeat its alert this often (a duration: 30m, 4h, 1d).",
        check_duration,
    )
    dashboard_url: str = _setting(
        "",
        "Base URL of the dashboard, for links in alerts (e.g. https://cron.example.com).",
    )
    heartbeat_url: str = _setting(
        "",
        "Dead man's switch: an URL the watchdog fetches every minute, so an external monitor "
        "(healthchecks.io, Uptime Kuma, ...) notices when the whole host is down.",
        mask="endpoint",
    )
    backup_dir: str = _setting(
        "/var/lib/smartcron/backups",
        "Directory for `smartcron backup`; its free space is one of the health checks.",
        check_absolute,
    )
    backup_keep_daily: int = _setting(
        7,
        "Backups kept: the newest of each of this many days (1 to 10000).",
        whole_number(MAX_BACKUPS_KEPT),
    )
    backup_keep_weekly: int = _setting(
        4,
        "Backups kept besides: the newest of each of this many ISO weeks (1 to 10000).",
        whole_number(MAX_BACKUPS_KEPT),
    )
    retention_days: int = _setting(
        90,
        "`smartcron prune` rolls up runs older than this into daily totals and deletes them, "
        "with resolved alerts and health checks (1 to 36500).",
        whole_number(MAX_RETENTION_DAYS),
    )
    dashboard_listen: str = _setting(
        "127.0.0.1:8080",
        "Address and port the dashboard listens on (host:port). Plain HTTP (no certificate) "
        "is served only on a loopback address.",
        check_listen,
        restart=(DASHBOARD,),  # the listening socket is opened once
    )
    tls_certificate: str = _setting(
        "/etc/smartcron/dashboard.crt",
        "PEM certificate (chain) the dashboard serves HTTPS with; install.sh creates a "
        "self-signed one. Empty: plain HTTP, allowed only on a loopback address.",
        check_optional_absolute,
        restart=(DASHBOARD,),  # checked against dashboard_listen when the socket opens
    )
    tls_key: str = _setting(
        "/etc/smartcron/dashboard.key",
        "PEM private key of tls_certificate (readable by the smartcron account).",
        check_optional_absolute,
        restart=(DASHBOARD,),
    )
    trusted_proxies: str = _setting(
        "",
        "Reverse proxies whose X-Forwarded-For/-Proto headers are believed: comma-separated "
        "addresses or networks. Empty: none, every client is its own address.",
        check_networks,
    )
    session_idle_timeout: str = _setting(
        "1h",
        "A dashboard session ends after this long without a page view (a duration).",
        check_duration,
    )
    session_max_age: str = _setting(
        "12h",
        "A dashboard session ends this long after the login, whatever happens (a duration).",
        check_duration,
    )
    secret_key: str = _setting(
        "",
        "Key that signs dashboard sessions. install.sh writes a random one; if empty, one is "
        "generated once and kept in the database.",
        mask="value",
    )
    secure_cookies: bool = _setting(
        True,
        "Mark the dashboard's session cookie Secure (sent over HTTPS only; browsers also accept "
        "it from http://localhost). Set false only for plain-HTTP access on a trusted network.",
    )
    default_user: str = _setting(
        DEFAULT_TASK_USER,
        "The account a new task runs as when it names none; never root (a task that needs "
        "root says --user root).",
        check_default_user,
    )
    signing_key_file: str = _setting(
        "/etc/smartcron/signing.key",
        "Key (root's alone) that signs task definitions; `smartcron sync` runs only what it "
        "signed. install.sh creates it.",
        check_absolute,
    )
    service_user: str = _setting(
        DEFAULT_SERVICE_USER,
        "The account smartcron's own services run as: the watchdog, the dashboard, the "
        "maintenance job and the fallback alert unit (install.sh creates it). Empty, or the "
        "default account missing: they run as root (a development machine); any other "
        "account must exist.",
        check_service_user,
    )
    host_name: str = field(
        default_factory=lambda: machine_host_name(),
        metadata={
            "help": "This host's name among the hosts that share the database (task hosts, "
            "runs, alerts, `smartcron hosts`). Default: the machine's hostname, lowercased.",
            "check": check_host_name_setting,
            # The watchdog registered under it and every row it writes carries it; the
            # dashboard's "run now" keeps deciding by the same name until both restart.
            "restart": (WATCHDOG, DASHBOARD),
        },
    )
    host_down_after: str = _setting(
        "2m",
        "A host whose watchdog heartbeat is older than this is down: the other hosts' "
        "watchdogs raise one host-down alert (a duration, at least 30s).",
        check_host_down_after,
    )
    digest_time: str = _setting(
        "",
        'Send a digest of the previous day at this local time ("HH:MM", e.g. "07:30"): '
        "runs by outcome, failures, late and skipped runs, open alerts, backups, health. "
        "Empty: no digest.",
        check_clock_time,
    )
    digest_weekly: str = _setting(
        "",
        "Also send a digest of the last seven days on this weekday (Mon ... Sun), at "
        "digest_time. Empty: daily digests only.",
        check_weekday,
    )
    digest_channels: list[str] = field(
        default_factory=list,
        metadata={
            "help": "The channels the digest goes to, by name. Empty: every channel.",
            "check": None,
        },
    )
    digest_timezone: str = _setting(
        "",
        "The time zone of the digest's days and of digest_time (IANA). Empty: the host's.",
        check_zone_setting,
    )
    concurrency_groups: dict[str, dict[str, int]] = field(
        default_factory=dict,
        metadata={
            "help": "Concurrency groups (docs/groups.md): a table per group, e.g. "
            "[concurrency_groups.reports] max_concurrent = 2, the number of the group's tasks "
            "that may run at once on a host (1 to 1000). A group not named here has 1. In the "
            'environment: JSON, {"reports": {"max_concurrent": 2}}.',
            "check": check_groups_setting,
            "nested": True,
        },
    )
    # Where this configuration came from, for messages; not a setting.
    source: str = field(default="built-in defaults", metadata={"internal": True})
    # Where each setting's value came from: "default", "file PATH" or "env VAR" (config show).
    origins: Mapping[str, str] = field(
        default_factory=dict, compare=False, metadata={"internal": True}
    )


class InvalidSettings(InvalidInput):
    """Every wrong setting of a configuration, named at once (the first one is the field)."""

    def __init__(self, problems: list[InvalidInput]) -> None:
        first = problems[0]
        super().__init__(first.field, first.value, first.allowed)
        self.problems = problems
        self.args = ("; ".join(str(p) for p in problems),)


def machine_host_name() -> str:
    """Return the machine's hostname as the host_name setting's default (lowercased)."""
    return socket.gethostname().strip().lower()


def is_loopback(host: str) -> bool:
    """Return True for an address that only this host can reach (127.0.0.0/8, ::1,
    localhost)."""
    import ipaddress

    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def dashboard_tls(config: Config, host: str) -> tuple[str, str] | None:
    """Given the configuration and the address the dashboard binds, return its certificate and
    key files, or None for plain HTTP; raise InvalidInput when plain HTTP would leave the host
    (a password sent over the office network in clear text)."""
    if config.tls_certificate and not config.tls_key:
        raise InvalidInput("tls_key", "", "the key of tls_certificate is needed for HTTPS")
    if config.tls_certificate:
        return config.tls_certificate, config.tls_key
    if not is_loopback(host):
        raise InvalidInput(
            "tls_certificate",
            "",
            f"plain HTTP is served only on a loopback address, not on {host}: set "
            "tls_certificate and tls_key (install.sh creates a self-signed pair), or listen on "
            "127.0.0.1 behind a TLS reverse proxy",
        )
    return None


def priority_routes(config: Config) -> dict[str, list[str]]:
    """Return the priority_channels setting as {priority: [channel names]}."""
    return {
        priority: [n.strip() for n in names.split(",") if n.strip()]
        for priority, names in config.priority_channels.items()
    }


def _route_problems(
    channels: dict[str, str], routes: dict[str, str], where: str
) -> list[InvalidInput]:
    """Every priority routed must be a task priority, every channel named must exist."""
    from smartcron.model.task import PRIORITIES

    problems = []
    for priority, names in routes.items():
        field = f"{where}: priority_channels.{priority}"
        if priority not in PRIORITIES:
            problems.append(InvalidInput(field, priority, f"one of {', '.join(PRIORITIES)}"))
        for name in (n.strip() for n in names.split(",") if n.strip()):
            if name not in channels:
                known = ", ".join(channels) or "none configured"
                problems.append(
                    InvalidInput(
                        field, name, f"a channel from the `channels` setting (configured: {known})"
                    )
                )
    return problems


def settings() -> list[dataclasses.Field[Any]]:
    """Return the user-facing settings, in declaration order."""
    return [f for f in dataclasses.fields(Config) if not f.metadata.get("internal")]


def load(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Given an optional config path and environment, return the effective Config, which
    records where each setting came from (`origins`).

    The path comes from the argument, else SMARTCRON_CONFIG, else the default. A missing default
    file is fine (built-in defaults apply); a missing file that was asked for is an error.
    Every wrong setting is reported at once (InvalidSettings), not only the first.
    """
    env = os.environ if environ is None else environ
    explicit = path if path is not None else env.get("SMARTCRON_CONFIG")
    config_path = Path(explicit) if explicit else DEFAULT_CONFIG_PATH
    values: dict[str, Any] = {}
    origins = {f.name: "default" for f in settings()}
    sources: list[str] = []
    problems: list[InvalidInput] = []
    if config_path.exists():
        values, problems = file_values(_read_toml(config_path), _known(), config_path)
        origins.update(dict.fromkeys(values, f"file {config_path}"))
        sources.append(str(config_path))
    elif explicit:
        raise InvalidInput("--config", str(config_path), "the file does not exist")
    for f in settings():
        var = ENV_PREFIX + f.name.upper()
        if var in env:
            try:
                values[f.name] = coerce_env(f, env[var], var)
            except InvalidInput as exc:
                problems.append(exc)
                values.pop(f.name, None)
            origins[f.name] = f"env {var}"
            sources.append(var)
    for f in settings():
        check = f.metadata.get("check")
        problem = check(f.name, values[f.name]) if f.name in values and check else None
        if problem:
            where = origins[f.name].split(" ", 1)[1]
            where = where if where.startswith(ENV_PREFIX) else f"{where}: key {f.name!r}"
            problems.append(InvalidInput(where, values[f.name], problem))
    if "host_name" in values:
        values["host_name"] = str(values["host_name"]).strip().lower()
    problems += _route_problems(
        values.get("channels", {}), values.get("priority_channels", {}), ", ".join(sources)
    )
    problems += check_digest_settings(values, ", ".join(sources))
    if problems:
        raise InvalidSettings(problems)
    return Config(**values, source=", ".join(sources) or "built-in defaults", origins=origins)


def _known() -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in settings()}


def _read_toml(config_path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(config_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(str(config_path), "(file)", f"not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise InvalidInput(str(config_path), "(file)", f"cannot be read: {why}") from None
