"""The smartcron CLI wired to a private systemd, and waiting for recorded runs."""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine

from smartcron.db.schema import executions
from smartcron.db.state import JOURNAL_CURSOR, set_state
from smartcron.model import config
from smartcron.systemd.journal import Journal
from smartcron.systemd.own_units import OwnUnits
from smartcron.systemd.sandbox import PrivateSystemd
from smartcron.watchdog.service import Watchdog

from support import invoke

SMARTCRON = str(Path(sys.executable).with_name("smartcron"))


@dataclass
class SystemdEnv:
    """A CLI wired to the private systemd: its unit directory, its bus and a SQLite store."""

    __test__ = False
    runner: CliRunner
    systemd: PrivateSystemd
    prefix: str
    shared: Path
    engine: Engine

    def run(self, *args: str) -> Result:
        return invoke(self.runner, *args)

    def name(self, short: str) -> str:
        return f"{self.prefix}-{short}"

    def script(self, name: str, body: str) -> Path:
        """Write an executable script where the private systemd can run it."""
        path = self.shared / name
        path.write_text(body)
        path.chmod(0o755)
        return path

    def add(self, short: str, *args: str) -> str:
        name = self.name(short)
        result = self.run("task", "add", name, *args)
        assert result.exit_code == 0, result.stderr
        return name


def wait_rows(sd: SystemdEnv, task: str, count: int = 1, timeout: float = 30) -> list[Any]:
    """Wait until `count` finished runs of `task` are recorded; return all its rows."""
    deadline = time.monotonic() + timeout
    rows: list[Any] = []
    while time.monotonic() < deadline:
        with sd.engine.connect() as conn:
            rows = conn.execute(
                sa.select(executions)
                .where(executions.c.task_name == task)
                .order_by(executions.c.id)
            ).fetchall()
        if len([r for r in rows if r.outcome != "running"]) >= count:
            return rows
        time.sleep(0.1)
    raise AssertionError(
        f"{task}: expected {count} finished run(s), have {[r.outcome for r in rows]}"
    )


def start_watchdog(sd: SystemdEnv, url: str, channels: dict[str, str], renotify: str) -> Watchdog:
    """Start the watchdog in this process with these channels; the caller stops it."""
    cfg = config.load(
        environ={
            "SMARTCRON_CONFIG": "",
            "SMARTCRON_DATABASE_URL": url,
            "SMARTCRON_JOURNAL_DIRECTORY": str(sd.systemd.journal_dir),
            "SMARTCRON_CHANNELS": json.dumps(channels),
            "SMARTCRON_RENOTIFY_INTERVAL": renotify,
        }
    )
    watchdog = Watchdog(cfg)
    watchdog.skip_journal_history()
    threading.Thread(target=watchdog.serve, daemon=True).start()
    assert watchdog.listener.subscribed.wait(15)
    return watchdog


def journal_entries(sd: SystemdEnv, *matches: str, count: int, timeout: float = 20) -> list[Any]:
    """Wait until the private journal has `count` entries matching (journalctl's FIELD=VALUE
    matches); return them all, as journalctl's JSON objects."""
    deadline = time.monotonic() + timeout
    found: list[Any] = []
    while time.monotonic() < deadline:
        out = sd.systemd.journal("-o", "json", *matches)
        found = [json.loads(line) for line in out.splitlines() if line.strip()]
        if len(found) >= count:
            break
        time.sleep(0.2)
    return found


def start_from_now(engine: Engine, journal_dir: Path) -> None:
    """Make a fresh watchdog read the shared sandbox journal from now, not 24 h back."""
    with engine.begin() as conn:
        set_state(conn, JOURNAL_CURSOR, Journal(str(journal_dir)).current_cursor() or "")


@contextmanager
def own_unit(sd: SystemdEnv, name: str, settings: dict[str, str], **render: str) -> Iterator[str]:
    """Install one of smartcron's own units (its real template, rendered for this test's
    installation and `settings`) in the private systemd as PREFIX-NAME; yield the unit's name,
    then stop and remove it."""
    # Rendered for this test's installation: its data lives under /var/tmp and its interpreter
    # may live under /root (pyenv), and the hardening keeps both visible.
    own = OwnUnits.for_config(config.load(environ=settings), SMARTCRON)
    unit = f"{sd.prefix}-{name}"
    (sd.systemd.unit_dir / unit).write_text(
        own.render(f"{name}.j2", environment=settings, **render)
    )
    sd.systemd.systemctl("daemon-reload")
    try:
        yield unit
    finally:
        sd.systemd.systemctl("stop", unit, check=False)
        (sd.systemd.unit_dir / unit).unlink(missing_ok=True)
        shutil.rmtree(sd.systemd.unit_dir / f"{unit}.d", ignore_errors=True)
        sd.systemd.systemctl("daemon-reload")
