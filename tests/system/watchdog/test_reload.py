"""`systemctl reload smartcron-watchdog` for real: the installed unit in a private systemd, a
configuration file that moves alerts from one webhook receiver to another, a broken file, and
runs that finish while the watchdog reloads."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from smartcron.db.engine import make_engine
from smartcron.db.migrate import upgrade
from smartcron.db.schema import executions
from smartcron.model import config
from smartcron.systemd import units

from support.receivers import Inbox
from support.systemd import SystemdEnv, own_unit, start_from_now, wait_rows


@dataclass
class Installed:
    """The watchdog unit running in the private systemd, reading `file`."""

    sd: SystemdEnv
    unit: str
    file: Path
    engine: sa.engine.Engine

    def write(self, text: str) -> None:
        """Replace the configuration file atomically, as an editor's save would."""
        new = self.file.with_suffix(".new")
        new.write_text(text)
        new.replace(self.file)

    def log(self) -> str:
        return self.sd.systemd.journal("-u", self.unit, "-o", "cat")

    def wait_log(self, text: str, count: int = 1, timeout: float = 15) -> str:
        """Wait until the unit's journal holds `text` `count` times; return the journal."""
        deadline = time.monotonic() + timeout
        log = self.log()
        while log.count(text) < count and time.monotonic() < deadline:
            time.sleep(0.2)
            log = self.log()
        assert log.count(text) >= count, f"{text!r} x{count} not in the journal:\n{log[-3000:]}"
        return log

    def fail(self, task: str) -> None:
        """Run a task that fails (a oneshot: systemctl returns when it is over)."""
        self.sd.systemd.systemctl("start", units.service_name(task), check=False)


def _channels(url: str, extra: str = "") -> str:
    return f'{extra}[channels]\nhook = "{url}"\n'


@pytest.fixture
def installed(sd: SystemdEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[Installed]:
    """The real watchdog unit (install.sh's template) on a database and a configuration file
    the private systemd can see; the CLI's tasks go to the same database."""
    url = f"sqlite:///{sd.shared / 'reload.db'}"
    engine = make_engine(url)
    upgrade(engine)
    file = sd.shared / "smartcron.toml"
    file.write_text(f'database_url = "{url}"\n')
    monkeypatch.setenv("SMARTCRON_DATABASE_URL", url)
    settings = {"SMARTCRON_CONFIG": str(file), "SMARTCRON_SERVICE_USER": ""}
    with own_unit(sd, "smartcron-watchdog.service", settings) as unit:
        assert "ExecReload=" in (sd.systemd.unit_dir / unit).read_text()
        yield Installed(sd, unit, file, engine)
    monkeypatch.setenv("SMARTCRON_DATABASE_URL", str(sd.engine.url))
    engine.dispose()


def _finished(installed: Installed, task: str) -> int:
    with installed.engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(
                    executions.c.task_name == task, executions.c.outcome != "running"
                )
            ).scalar_one()
        )


def test_reload_moves_alerts_to_the_new_channel_and_keeps_them_on_a_broken_file(
    installed: Installed, webhook: tuple[str, Inbox], webhook_b: tuple[str, Inbox]
) -> None:
    sd, (url_a, inbox_a), (url_b, inbox_b) = installed.sd, webhook, webhook_b
    db = f'database_url = "sqlite:///{sd.shared / "reload.db"}"\n'
    installed.write(db + _channels(url_a))
    tasks = {t: sd.add(t, "--command", "/bin/false", "--schedule", "@yearly") for t in "abc"}
    ticker = sd.add("ticker", "--command", "/bin/sleep 0.3", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    start_from_now(installed.engine, sd.systemd.journal_dir)
    sd.systemd.systemctl("start", installed.unit)  # Type=notify: returns after READY=1
    first = sd.systemd.show(installed.unit, "MainPID", "ActiveState")
    assert first["ActiveState"] == "active"

    installed.fail(tasks["a"])
    assert len(inbox_a.wait(1, timeout=30)) == 1 and not inbox_b.messages

    # To receiver B, and a host_name that only a restart may change. Runs of the ticker end
    # while the watchdog reloads, three times over.
    installed.write(db + _channels(url_b, 'host_name = "renamed-host"\n'))
    for _ in range(3):
        sd.systemd.systemctl("start", "--no-block", units.service_name(ticker))
        sd.systemd.systemctl("reload", installed.unit)
        time.sleep(0.4)
    log = installed.wait_log("applied: channels", count=1)
    assert "needs restart: host_name" in log
    # Signals that arrive within one turn of the main loop are one reload (of the newest file).
    wait_rows(dataclasses.replace(sd, engine=installed.engine), ticker, count=3)
    time.sleep(1)
    assert _finished(installed, ticker) == 3  # each run once: none lost, none doubled

    installed.fail(tasks["b"])
    assert len(inbox_b.wait(1, timeout=30)) == 1
    assert len(inbox_a.messages) == 1
    assert tasks["b"] in inbox_b.messages[0]["title"] + inbox_b.messages[0]["body"]

    # A broken file: `systemctl reload` fails and says why; a bare SIGHUP is refused too.
    installed.write(db + _channels(url_a, 'renotify_interval = "often"\n'))
    refused = sd.systemd.systemctl("reload", installed.unit, check=False)
    assert refused.returncode != 0
    log = installed.wait_log("the running watchdog keeps its current settings")
    assert "renotify_interval" in log and "'often' is not valid" in log, log[-2500:]
    sd.systemd.systemctl("kill", "--kill-who=main", "--signal=HUP", installed.unit)
    log = installed.wait_log("reload failed, smartcron-watchdog keeps its current settings")
    said = [line for line in log.splitlines() if "reload failed" in line]
    assert "renotify_interval" in said[-1] and "'often' is not valid" in said[-1], said
    installed.fail(tasks["c"])
    assert len(inbox_b.wait(2, timeout=30)) == 2
    assert len(inbox_a.messages) == 1

    after = sd.systemd.show(installed.unit, "MainPID", "ActiveState", "NRestarts")
    assert after == {**first, "NRestarts": "0"}, "the watchdog was restarted, not reloaded"
    with installed.engine.connect() as conn:
        hosts = set(conn.execute(sa.select(executions.c.host)).scalars())
    assert hosts == {config.machine_host_name()}
