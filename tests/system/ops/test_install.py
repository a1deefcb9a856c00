"""install.sh for real: inside a private systemd whose /etc, /opt, /usr/local and /var/lib are
copy-on-write overlays (PrivateSystemd.isolate_for_install), so the host is left untouched.

One test walks the whole life: dry run, install, a task that runs and is recorded by the
watchdog (running as the smartcron user), the dashboard over HTTPS with the generated
certificate (and Chromium logging in through it), what the smartcron account may and may not
do (polkit, the database), the maintenance run, a second install that keeps everything, and
the uninstall that keeps the data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartcron.systemd.entries import CATALOG_DIR, CATALOG_NAME, MSG_RUN_RECORDED
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


def _tls(box: PrivateSystemd) -> ssl.SSLContext:
    """A client context that trusts exactly the certificate install.sh generated (and checks
    that it names 127.0.0.1)."""
    context = ssl.create_default_context(cafile=str(box.root / "etc/smartcron/dashboard.crt"))
    return context


def _request(
    port: int,
    method: str,
    path: str,
    cookie: str = "",
    body: str = "",
    *,
    context: ssl.SSLContext,
) -> tuple[int, str, str]:
    """One HTTPS request without following redirects; return (status, body, session cookie)."""
    import http.client

    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    headers = {"Cookie": cookie} if cookie else {}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        # Over HTTPS the CSRF check also wants a same-site Referer, as browsers send it.
        headers["Referer"] = f"https://127.0.0.1:{port}{path}"
    conn.request(method, path, body=body or None, headers=headers)
    answer = conn.getresponse()
    text = answer.read().decode()
    set_cookie = answer.getheader("Set-Cookie") or ""
    conn.close()
    return answer.status, text, set_cookie.split(";", 1)[0] or cookie


def _dashboard_run_now(port: int, password: str, task: str, context: ssl.SSLContext) -> None:
    """Log in as admin and press Run now, as a browser would (session cookie, CSRF token)."""
    import urllib.parse

    def request(method: str, path: str, cookie: str = "", body: str = "") -> tuple[int, str, str]:
        return _request(port, method, path, cookie, body, context=context)

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


def _plain_http_refused(port: int) -> bool:
    """Return True when the port does not answer plain HTTP (it speaks TLS only)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status != 200
    except (OSError, http.client.HTTPException):
        return True
    finally:
        conn.close()


def _spki_pin(certificate: Path) -> str:
    """The base64 SHA-256 of a certificate's public key, as Chromium's
    --ignore-certificate-errors-spki-list takes it."""
    key = subprocess.run(
        ["openssl", "x509", "-pubkey", "-noout", "-in", str(certificate)],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"], input=key, capture_output=True,
        check=True,
    ).stdout  # fmt: skip
    import base64

    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def _browser_login(box: PrivateSystemd, port: int, user: str, password: str) -> None:
    """Log in with Debian's Chromium over HTTPS, trusting only the generated certificate."""
    chromium = "/usr/bin/chromium"
    need(os.path.exists(chromium), f"{chromium} is missing (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    pin = _spki_pin(box.root / "etc/smartcron/dashboard.crt")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", f"--ignore-certificate-errors-spki-list={pin}"],
        )
        try:
            page = browser.new_page()
            page.goto(f"https://127.0.0.1:{port}/")
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_selector("text=Log out", timeout=15000)
            assert page.url.startswith(f"https://127.0.0.1:{port}/"), page.url
            cookie = next(c for c in page.context.cookies() if c["name"] == "smartcron_session")
            assert cookie["secure"] and cookie["httpOnly"]
        finally:
            browser.close()


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
    # HTTPS out of the box, with the certificate install.sh made (and the fingerprint it
    # printed), which names 127.0.0.1; plain HTTP is not served.
    tls = _tls(box)
    assert f"Dashboard: https://127.0.0.1:{port}/" in out
    printed = re.search(r"Certificate SHA-256 fingerprint: ([0-9A-F:]{95})", out)
    assert printed, out[-2000:]
    served = ssl.get_server_certificate(("127.0.0.1", port))
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(served)).hexdigest().upper()
    assert printed.group(1) == ":".join(digest[i : i + 2] for i in range(0, 64, 2))
    assert _request(port, "GET", "/healthz", context=tls)[0] == 200
    status, _page, _cookie = _request(port, "GET", "/tasks", context=tls)
    assert status == 302  # to the login page: nothing without a session
    assert _plain_http_refused(port)
    config = _sh(box, "stat -c '%a %U %G' /etc/smartcron/smartcron.toml")[1].strip()
    assert config == "640 root smartcron"
    keys = _sh(box, "stat -c '%n %a %U %G' /etc/smartcron/signing.key /etc/smartcron/dashboard.key")
    assert keys[1].split("\n")[:2] == [
        "/etc/smartcron/signing.key 600 root root",
        "/etc/smartcron/dashboard.key 640 root smartcron",
    ], keys

    # Completion and smartcron(1), generated from the installed CLI, work as installed.
    complete = (
        "source /usr/share/bash-completion/completions/smartcron && COMP_WORDS=(smartcron sta)"
        ' && COMP_CWORD=1 && _smartcron_completion smartcron && echo "${COMPREPLY[@]}"'
    )
    assert _sh(box, complete)[1].strip() == "status"
    assert (
        _sh(box, "head -1 /usr/share/zsh/vendor-completions/_smartcron")[1]
        == "#compdef smartcron\n"
    )
    code, out = _sh(box, "MANPAGER=cat MANWIDTH=100 man --warnings smartcron")
    assert code == 0 and "smartcron config check [OPTIONS] FILE" in out, out[-2000:]
    # The Prometheus rules and the Grafana board, as in the checkout.
    for name in ("prometheus/smartcron.rules.yml", "grafana/smartcron.json"):
        code, out = _sh(box, f"cat /usr/share/smartcron/contrib/{name}")
        assert code == 0 and out == (ROOT / "contrib" / name).read_text(), name

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

    # The watchdog's journal entry for the run, explained by the catalog install.sh indexed.
    code, out = _sh(
        box, f"journalctl -x --no-pager MESSAGE_ID={MSG_RUN_RECORDED} SMARTCRON_TASK=hello"
    )
    assert code == 0 and "smartcron recorded a run of hello: success" in out, out

    # The task runs as the unprivileged default_user, not root.
    assert box.show("smartcron-hello.service", "User")["User"] == "nobody"

    # Run now from the dashboard: the unprivileged dashboard starts the unit through polkit.
    _dashboard_run_now(port, password.group(1), "hello", tls)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(runs) < 2:
        runs = json.loads(_sh(box, "smartcron runs hello --json")[1] or "[]")
        time.sleep(0.5)
    assert len(runs) == 2 and runs[0]["trigger"] == "manual", runs
    # It went through polkit (started on demand over D-Bus), which applied 50-smartcron.rules.
    assert box.show("polkit.service", "ActiveState")["ActiveState"] == "active"
    # The smartcron account may start and stop task units, and nothing else.
    as_smartcron = "runuser -u smartcron -- systemctl --no-ask-password"
    assert _sh(box, f"{as_smartcron} start smartcron-hello.service")[0] == 0
    # A unit root made by hand with a task-like name is not smartcron's to start.
    _sh(
        box,
        "printf '[Service]\\nExecStart=/bin/true\\n' "
        "> /etc/systemd/system/smartcron-handmade.service && systemctl daemon-reload",
    )
    for verb, unit in (
        ("start", "smartcron-handmade.service"),
        ("stop", "smartcron-maintenance.timer"),
        ("start", "smartcron-maintenance.service"),
        ("start", "smartcron-alert@smartcron-hello.service.service"),
        ("stop", "smartcron-watchdog.service"),
        ("stop", "ssh.service"),
    ):
        code, why = _sh(box, f"{as_smartcron} {verb} {unit}")
        assert code != 0 and ("Access denied" in why or "authentication" in why), (unit, why)
    assert box.show("smartcron-maintenance.timer", "ActiveState")["ActiveState"] == "active"
    _sh(box, "rm /etc/systemd/system/smartcron-handmade.service && systemctl daemon-reload")

    # Chromium logs in through HTTPS, trusting exactly the generated certificate.
    _browser_login(box, port, "admin", password.group(1) + "-mine")

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
        every = json.loads(_sh(box, "smartcron alerts --json")[1])
        alerts = [a for a in every if a["kind"] == "failure"]
        time.sleep(0.5)
    assert [a["task"] for a in alerts] == ["broken"], (alerts, journal)
    delivered = webhook[1].wait(1, timeout=30)
    assert delivered and "broken" in delivered[0]["title"], journal

    # The smartcron account writes the database directly, as a compromised dashboard could:
    # root's next sync does not run it, and says why.
    tamper = box.root / "run/smartcron-tamper.py"
    tamper.write_text(
        "import sqlite3\n"
        "db = sqlite3.connect('/var/lib/smartcron/smartcron.db')\n"
        "db.execute(\"UPDATE tasks SET command = '[\\\"/usr/bin/id\\\"]', run_user = 'root' \"\n"
        "           \"WHERE name = 'hello'\")\n"
        "db.commit()\n"
    )
    tamper.chmod(0o644)
    code, out = _sh(
        box, "runuser -u smartcron -- /opt/smartcron/bin/python /run/smartcron-tamper.py"
    )
    assert code == 0, out
    code, out = _sh(box, "smartcron sync")
    assert code == 1 and "refused: the definition in the database does not match" in out, out
    # Alerted at once, by root's sync itself, through the channel.
    delivered = webhook[1].wait(2, timeout=30)
    assert any("task hello changed outside smartcron" in m["title"] for m in delivered), delivered
    unit_text = _sh(box, "cat /etc/systemd/system/smartcron-hello.service")[1]
    assert "/usr/bin/id" not in unit_text and "User=nobody" in unit_text
    code, out = _sh(box, "smartcron doctor")
    assert code == 1 and "FAIL  definitions" in out and "hello" in out, out
    # Editing would sign the changed fields unseen: refused. Root removes the row and adds the
    # task again; everything is in order again.
    code, out = _sh(box, "smartcron task edit hello --timeout 5m")
    assert code == 1 and "is not the definition root signed" in out, out
    code, out = _sh(
        box,
        "smartcron task rm hello --yes && smartcron task add hello "
        "--command '/bin/echo hello from the sandbox' --schedule '@yearly' && smartcron sync",
    )  # fmt: skip
    assert code == 0, out
    alerts_now = json.loads(_sh(box, "smartcron alerts --json")[1])
    refused = [(a["task"], a["state"]) for a in alerts_now if a["kind"] == "refused-definition"]
    assert refused == [("hello", "resolved")], alerts_now  # resolved once set right

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
    gone = "/usr/share/man/man1/smartcron.1 /usr/share/bash-completion/completions/smartcron"
    assert _sh(box, f"ls {gone} /usr/share/zsh/vendor-completions/_smartcron")[0] != 0
    assert _sh(box, "test -e /usr/share/smartcron")[0] != 0
    assert _sh(box, "ls /etc/systemd/system | grep smartcron")[1].strip() == ""
    assert _sh(box, f"test -e {CATALOG_DIR}/{CATALOG_NAME}")[0] != 0
    assert MSG_RUN_RECORDED not in _sh(box, "journalctl --list-catalog")[1]
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
    assert not Path("/usr/share/man/man1/smartcron.1").exists()
    assert not Path("/usr/share/smartcron").exists()


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
