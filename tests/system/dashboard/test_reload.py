"""`systemctl reload smartcron-dashboard` for real: the installed unit in a private systemd,
gunicorn's new workers serving the edited settings, a broken file and a restart-only one."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartcron.db.engine import make_engine
from smartcron.db.migrate import upgrade

from support import free_port
from support.systemd import SystemdEnv, own_unit


def _cookie(port: int) -> str:
    """Return the session cookie the login page sets (its flags show secure_cookies)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as answer:
        return str(answer.headers.get("Set-Cookie", ""))


def _wait_serving(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _cookie(port)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _settings(db: str, port: int, secure: str) -> str:
    return (
        f'database_url = "{db}"\ntls_certificate = ""\n'
        f'dashboard_listen = "127.0.0.1:{port}"\nsecure_cookies = {secure}\n'
    )


@pytest.fixture
def dashboard_unit(sd: SystemdEnv) -> Iterator[tuple[str, Path]]:
    """The real dashboard unit, reading a configuration file; yields its name and file."""
    db = f"sqlite:///{sd.shared / 'dash.db'}"
    upgrade(make_engine(db))
    file = sd.shared / "smartcron.toml"
    file.write_text(f'database_url = "{db}"\n')
    settings = {"SMARTCRON_CONFIG": str(file), "SMARTCRON_SERVICE_USER": ""}
    with own_unit(sd, "smartcron-dashboard.service", settings) as unit:
        yield unit, file


def test_dashboard_reload_serves_new_settings_from_new_workers(
    sd: SystemdEnv, dashboard_unit: tuple[str, Path]
) -> None:
    unit, file = dashboard_unit
    db = f"sqlite:///{sd.shared / 'dash.db'}"
    port, other_port = free_port(), free_port()
    file.write_text(_settings(db, port, "true"))
    sd.systemd.systemctl("start", unit)
    _wait_serving(port)
    assert "Secure" in _cookie(port)
    pid = sd.systemd.show(unit, "MainPID")["MainPID"]

    # secure_cookies applies; dashboard_listen needs a restart and stays on the old port.
    file.write_text(_settings(db, other_port, "false"))
    sd.systemd.systemctl("reload", unit)
    deadline = time.monotonic() + 20
    while "Secure" in _cookie(port) and time.monotonic() < deadline:
        time.sleep(0.2)  # old workers finish their requests, then exit
    time.sleep(2)
    assert not any("Secure" in _cookie(port) for _ in range(10)), "an old worker still serves"
    log = sd.systemd.journal("-u", unit, "-o", "cat")
    assert "reload: configuration re-read" in log and "applied: secure_cookies" in log
    assert "needs restart: dashboard_listen" in log

    # A broken file: the dashboard keeps serving the settings it runs with, and says why.
    file.write_text(_settings(db, port, '"maybe"'))
    sd.systemd.systemctl("reload", unit)
    deadline = time.monotonic() + 15
    while "reload failed" not in log and time.monotonic() < deadline:
        time.sleep(0.2)
        log = sd.systemd.journal("-u", unit, "-o", "cat")
    failed = [line for line in log.splitlines() if "reload failed" in line]
    assert failed and "secure_cookies" in failed[0] and "'maybe'" in failed[0], log[-2000:]
    assert "smartcron-dashboard keeps its current settings" in failed[0]
    time.sleep(2)
    assert not any("Secure" in _cookie(port) for _ in range(5))
    assert sd.systemd.show(unit, "MainPID", "ActiveState") == {
        "MainPID": pid,
        "ActiveState": "active",
    }
