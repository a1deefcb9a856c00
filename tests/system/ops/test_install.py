"""install.sh for real: inside a private systemd whose /etc, /opt, /usr/local and /var/lib are
copy-on-write overlays (PrivateSystemd.isolate_for_install), so the host is left untouched.

One test walks the whole life: dry run, install, a task that runs and is recorded by the
watchdog (running as the smartcron user), the dashboard and the maintenance run, a second
install that keeps everything, and the uninstall that keeps the data.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartcron.systemd.sandbox import PrivateSystemd, available

from support import ROOT, free_port, need
from support.receivers import Inbox

INSTALL = str(ROOT / "install.sh")
ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
}


@pytest.fixture
def box() -> Iterator[PrivateSystemd]:
    reason = available()
    need(reason is None, f"cannot boot a private systemd: {reason}")
    instance = PrivateSystemd("smartcron-install-test")
    instance.start()
    instance.isolate_for_install()
    yield instance
    instance.stop()


def _sh(box: PrivateSystemd, command: str, timeout: float = 120) -> tuple[int, str]:
    proc = box.run(["bash", "-c", command], check=False, env=ENV, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def _request(
    port: int, method: str, path: str, cookie: str = "", body: str = ""
) -> tuple[int, str, str]:
    """One HTTP request without following redirects; return (status, body, session cookie).

    By hand, not with a cookie jar: the session cookie is Secure, which http.cookiejar would
    not send over plain HTTP even to 127.0.0.1 (browsers do).
    """
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Cookie": cookie} if cookie else {}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body or None, headers=headers)
    answer = conn.getresponse()
    text = answer.read().decode()
    set_cookie = answer.getheader("Set-Cookie") or ""
    conn.close()
    return answer.status, text, set_cookie.split(";", 1)[0] or cookie


def _dashboard_run_now(port: int, password: str, task: str) -> None:
    """Log in as admin and press Run now, as a browser would (session cookie, CSRF token)."""
    import urllib.parse

    def request(method: str, path: str, cookie: str = "", body: str = "") -> tuple[int, str, str]:
        return _request(port, method, path, cookie, body)

    def token(page: str) -> str:
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found, page[:500]
        return found.group(1)

    _status, page, cookie = request("GET", "/login")
    form = {"username": "admin", "password": password, "csrf_token": token(page)}
    status, _page, cookie = request("POST", "/login", cookie, urllib.parse.urlencode(form))
    assert status == 302, "login failed"
    # The first admin's password is one-time: every page leads to choosing a new one.
    status, _page, cookie = request("GET", f"/tasks/{task}", cookie)
    assert status == 302
    _status, page, cookie = request("GET", "/account/password", cookie)
    new = {"current": password, "new": password + "-mine", "confirm": password + "-mine"}
    status, _page, cookie = request(
        "POST",
        "/account/password",
        cookie,
        urllib.parse.urlencode({**new, "csrf_token": token(page)}),
    )
    assert status == 302, "password change failed"
    _status, page, cookie = request("GET", f"/tasks/{task}", cookie)
    status, _page, cookie = request(
        "POST", f"/tasks/{task}/run", cookie, urllib.parse.urlencode({"csrf_token": token(page)})
    )
    assert status == 302
    _status, page, _cookie = request("GET", f"/tasks/{task}", cookie)
    assert f"Started task &#39;{task}&#39;." in page, re.findall(r'class="flash[^<]*', page)


def test_install_runs_keeps_data_on_upgrade_and_uninstalls(
    box: PrivateSystemd, webhook: tuple[str, Inbox]
) -> None:
    port = free_port()
    host_passwd = Path("/etc/passwd").read_text()

    code, out = _sh(box, f"bash {INSTALL} --dry-run --listen 127.0.0.1:{port}", 300)
    assert code == 0, out
    assert "would run: useradd" in out and "would run: systemctl enable" in out
    assert _sh(box, "test -e /opt/smartcron || getent passwd smartcron")[0] != 0

    code, out = _sh(box, f"bash {INSTALL} --listen 127.0.0.1:{port}", 900)
    assert code == 0, out[-5000:]
    password = re.search(r"Dashboard login: admin / (\S+)", out)
    assert password, out[-3000:]
    assert "All checks passed." in out
    for unit in (
        "smartcron-watchdog.service",
        "smartcron-dashboard.service",
        "smartcron-maintenance.timer",
    ):
        assert box.show(unit, "ActiveState")["ActiveState"] == "active", unit
    assert box.show("smartcron-watchdog.service", "User")["User"] == "smartcron"
    assert box.show("smartcron-dashboard.service", "User")["User"] == "smartcron"
    assert _request(port, "GET", "/healthz")[0] == 200
    status, _page, _cookie = _request(port, "GET", "/tasks")
    assert status == 302  # to the login page: nothing without a session
    config = _sh(box, "stat -c '%a %U %G' /etc/smartcron/smartcron.toml")[1].strip()
    assert config == "640 root smartcron"

    # A task added afterwards runs, and the watchdog (as smartcron) records it.
    code, out = _sh(
        box,
        "smartcron task add hello --command '/bin/echo hello from the sandbox' "
        "--schedule '@yearly' && smartcron sync && smartcron task run hello --wait",
    )
    assert code == 0, out
    deadline, runs = time.monotonic() + 30, []
    while time.monotonic() < deadline and not runs:
        code, out = _sh(box, "smartcron runs hello --json")
        runs = (
            [r for r in json.loads(out or "[]") if r["outcome"] == "success"] if code == 0 else []
        )
        time.sleep(0.5)
    assert runs and runs[0]["trigger"] == "manual", out
    code, out = _sh(box, "smartcron logs hello --last")
    assert "hello from the sandbox" in out
    # The services' account reads task output too (systemd-journal group).
    code, out = _sh(box, "runuser -u smartcron -- smartcron logs hello --last")
    assert "hello from the sandbox" in out and "stored with the run" not in out, out

    # Run now from the dashboard: the unprivileged dashboard starts the unit through polkit.
    _dashboard_run_now(port, password.group(1), "hello")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(runs) < 2:
        runs = json.loads(_sh(box, "smartcron runs hello --json")[1] or "[]")
        time.sleep(0.5)
    assert len(runs) == 2 and runs[0]["trigger"] == "manual", runs
    # It went through polkit (started on demand over D-Bus), which applied 50-smartcron.rules.
    assert box.show("polkit.service", "ActiveState")["ActiveState"] == "active"

    # A failing task: its OnFailure= alert unit runs as smartcron, hardened, records it and
    # delivers it to the configured channel (a webhook on the host's loopback).
    code, _out = _sh(
        box,
        f"printf '\\n[channels]\\nhook = \"{webhook[0]}\"\\n' >> /etc/smartcron/smartcron.toml "
        "&& systemctl restart smartcron-watchdog",
    )
    assert code == 0
    code, out = _sh(
        box,
        "smartcron task add broken --command /bin/false --schedule '@yearly' && smartcron sync "
        "&& smartcron task run broken --wait",
    )
    assert code == 1 and "failed" in out, out
    alert_unit = "smartcron-alert@smartcron-broken.service.service"
    deadline, result = time.monotonic() + 30, {}
    while time.monotonic() < deadline:
        result = box.show(alert_unit, "Result", "ActiveState", "User")
        if result.get("ActiveState") in ("inactive", "failed") and result.get("Result"):
            break
        time.sleep(0.5)
    journal = _sh(box, f"journalctl -u {alert_unit} -o cat --no-pager | tail -20")[1]
    assert result.get("Result") == "success", journal
    assert result.get("User") == "smartcron"
    assert "in the journal" not in journal, journal  # it found the run, with its details
    alerts: list[dict[str, object]] = []
    while time.monotonic() < deadline + 10 and not alerts:
        alerts = json.loads(_sh(box, "smartcron alerts --json")[1])
        time.sleep(0.5)
    assert [a["task"] for a in alerts] == ["broken"], (alerts, journal)
    delivered = webhook[1].wait(1, timeout=30)
    assert delivered and "broken" in delivered[0]["title"], journal

    # The daily maintenance, run now: prune, backup, units check, all as the smartcron user.
    code, out = _sh(box, "systemctl start smartcron-maintenance.service", 300)
    assert code == 0, _sh(box, "journalctl -u smartcron-maintenance --no-pager | tail -30")[1]
    code, out = _sh(box, "ls /var/lib/smartcron/backups")
    assert re.search(r"smartcron-\d{8}T\d{6}Z\.sqlite3", out) and ".tasks.yaml" in out

    # Running install.sh again upgrades in place: config, tasks, runs and users stay.
    before = _sh(box, "sha256sum /etc/smartcron/smartcron.toml")[1]
    code, out = _sh(box, f"bash {INSTALL} --listen 127.0.0.1:{port}", 900)
    assert code == 0, out[-5000:]
    assert "kept existing /etc/smartcron/smartcron.toml" in out and "none added" in out
    assert _sh(box, "sha256sum /etc/smartcron/smartcron.toml")[1] == before
    assert len(json.loads(_sh(box, "smartcron runs hello --json")[1])) >= 1
    assert box.show("smartcron-hello.timer", "ActiveState")["ActiveState"] == "active"

    # Uninstall: units and the venv go; config and data stay.
    code, out = _sh(box, f"bash {INSTALL} --uninstall", 300)
    assert code == 0, out
    for unit in ("smartcron-watchdog.service", "smartcron-hello.timer", "smartcron-hello.service"):
        assert box.show(unit, "LoadState")["LoadState"] == "not-found", unit
    assert _sh(box, "test -e /opt/smartcron")[0] != 0
    assert _sh(box, "ls /etc/systemd/system | grep smartcron")[1].strip() == ""
    assert (
        _sh(
            box, "test -s /var/lib/smartcron/smartcron.db && test -f /etc/smartcron/smartcron.toml"
        )[0]
        == 0
    )

    # --purge also removes the config, the data and the account.
    code, out = _sh(box, f"bash {INSTALL} --uninstall --purge", 300)
    assert code == 0, out
    assert _sh(box, "test -e /etc/smartcron || test -e /var/lib/smartcron")[0] != 0
    assert _sh(box, "getent passwd smartcron")[0] != 0

    # The host saw none of it.
    assert Path("/etc/passwd").read_text() == host_passwd
    assert not Path("/etc/systemd/system/smartcron-watchdog.service").exists()
    assert not Path("/opt/smartcron").exists() and not os.path.lexists("/usr/local/bin/smartcron")


def test_install_refuses_a_host_without_systemd_as_pid_1() -> None:
    import subprocess

    # unshare gives the script a PID namespace whose PID 1 is bash, not systemd.
    proc = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "bash", INSTALL, "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "not systemd" in proc.stderr and "scripts/sandbox" in proc.stderr
