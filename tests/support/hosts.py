"""Several smartcron "hosts" on one machine, sharing one database: each is a private systemd
in its own PID, mount and UTS namespace (its own hostname, its own cgroup), with its own
configuration file and its own watchdog process running inside it, on its systemd's bus.

Killing a host (`Hosts.kill`) SIGKILLs its systemd, which takes its watchdog and its running
units with it, as a host losing power; `Hosts.boot` brings it back (a fresh /run: the host
syncs its units again, as the maintenance timer would after a reboot).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcron.db.schema import hosts as hosts_table
from smartcron.systemd.sandbox import PrivateSystemd

from support import ROOT

PYTHON = sys.executable
SMARTCRON = str(Path(sys.executable).with_name("smartcron"))
WATCHDOG_SCRIPT = str(ROOT / "tests" / "support" / "host_watchdog.py")
# A clean environment for what runs inside a host: nothing of the test process's own
# SMARTCRON_* settings or D-Bus address leaks in.
BASE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


@dataclass
class Host:
    """One host: its private systemd, its configuration file and its watchdog."""

    name: str
    systemd: PrivateSystemd
    config_file: Path
    watchdog_log: Path
    watchdog: subprocess.Popen[bytes] | None = None
    boots: list[float] = field(default_factory=list)  # boot seconds, one per start

    @property
    def env(self) -> dict[str, str]:
        return {**BASE_ENV, "SMARTCRON_CONFIG": str(self.config_file)}

    def smartcron(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the smartcron CLI on this host (inside its namespaces, with its config)."""
        proc = subprocess.run(
            self.systemd.nsenter([SMARTCRON, *args]),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            env=self.env,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"host {self.name}: smartcron {' '.join(args)} exited {proc.returncode}: "
                f"{proc.stderr.strip() or proc.stdout.strip()}"
            )
        return proc

    def unit_exists(self, unit: str) -> bool:
        return (self.systemd.unit_dir / unit).exists()


def write_config(path: Path, *, host: str, url: str, key: Path, channels: dict[str, str]) -> None:
    """A host's smartcron.toml (TOML written as JSON values, which TOML accepts for these)."""
    lines = [
        f"database_url = {json.dumps(url)}",
        f"host_name = {json.dumps(host)}",
        'unit_dir = "/run/systemd/system"',  # the host's own /run, not the shared /etc
        f"signing_key_file = {json.dumps(str(key))}",
        'service_user = ""',
        'host_down_after = "30s"',
        "[channels]",
        *(f"{name} = {json.dumps(target)}" for name, target in channels.items()),
    ]
    path.write_text("\n".join(lines) + "\n")


class Hosts:
    """Start hosts named `names` on database `url`, each with its own config and watchdog."""

    def __init__(
        self,
        names: list[str],
        urls: dict[str, str],
        key_file: str,
        channels: dict[str, str],
        *,
        heartbeat_every: float = 1.0,
        health_every: float = 2.0,
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="smartcron-hosts-", dir="/var/tmp"))
        self.dir.chmod(0o755)
        # Where the tasks' scripts and what they write live: tasks run as nobody.
        self.shared = self.dir / "shared"
        self.shared.mkdir()
        self.shared.chmod(0o1777)
        self.heartbeat_every = heartbeat_every
        self.health_every = health_every
        self.hosts: dict[str, Host] = {}
        for name in names:
            home = self.dir / name
            home.mkdir()
            key = home / "signing.key"  # each host's own copy of root's key, as in production
            shutil.copyfile(key_file, key)
            key.chmod(0o600)
            config_file = home / "smartcron.toml"
            write_config(config_file, host=name, url=urls[name], key=key, channels=channels)
            self.hosts[name] = Host(
                name,
                PrivateSystemd(name=f"smartcron-host-{name}", hostname=name),
                config_file,
                home / "watchdog.log",
            )

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def boot(self, host: Host, engine: Engine) -> None:
        """Boot the host's systemd, give its units its configuration, start its watchdog and
        wait until the watchdog has registered the host in the database."""
        host.systemd.start(timeout=60)
        host.boots.append(host.systemd.boot_seconds)
        # The gate (ExecCondition=) of each unit reads the host's configuration.
        host.systemd.systemctl("set-environment", f"SMARTCRON_CONFIG={host.config_file}")
        env = {
            **host.env,
            "TEST_HEARTBEAT_EVERY": str(self.heartbeat_every),
            "TEST_HEALTH_EVERY": str(self.health_every),
        }
        began = time.time()
        host.watchdog = subprocess.Popen(
            # -P: the script's directory (support/, with its systemd.py) stays off sys.path.
            host.systemd.nsenter([PYTHON, "-P", WATCHDOG_SCRIPT]),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(host.watchdog_log, "ab"),  # noqa: SIM115 - kept for the process
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if host.watchdog.poll() is not None:
                break
            with engine.connect() as conn:
                row = conn.execute(
                    sa.select(hosts_table.c.last_seen_at, hosts_table.c.watchdog_state).where(
                        hosts_table.c.name == host.name
                    )
                ).first()
            if row is not None and row.last_seen_at.timestamp() >= began - 1:
                return
            time.sleep(0.2)
        raise AssertionError(
            f"host {host.name}: its watchdog did not register within 60 s; its log: "
            f"{host.watchdog_log.read_text(errors='replace')[-3000:]}"
        )

    def kill(self, host: Host) -> None:
        """SIGKILL the host's whole systemd: every process in it (its watchdog, its units)
        dies at once."""
        host.systemd.kill()
        if host.watchdog is not None:
            host.watchdog.wait(timeout=30)
            host.watchdog = None

    def close(self) -> None:
        for host in self.hosts.values():
            try:
                self.kill(host)
            finally:
                host.systemd.stop()
        if os.environ.get("SMARTCRON_KEEP_HOSTS") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def started_hosts(
    names: list[str],
    urls: dict[str, str],
    engine: Engine,
    key_file: str,
    channels: dict[str, str],
) -> Iterator[Hosts]:
    """Boot every host (each with its watchdog); kill them all at the end, whatever happens."""
    hosts = Hosts(names, urls, key_file, channels)
    try:
        for name in names:
            hosts.boot(hosts[name], engine)
        yield hosts
    finally:
        hosts.close()
