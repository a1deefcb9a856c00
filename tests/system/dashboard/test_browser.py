"""The dashboard in a real browser (Debian's Chromium driven by Playwright), served by gunicorn
(`smartcron dashboard`) on a real database, with tasks in the private systemd.

Screenshots of every page go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smartcron.watchdog.service import Watchdog

from support import EMPTY_CONFIG, ROOT, free_port, need
from support.dashboard import PASSWORD, add_alert, add_run, add_user
from support.systemd import SystemdEnv, wait_rows

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "test-artifacts" / "screenshots"


@pytest.fixture
def server(sd: SystemdEnv) -> Iterator[str]:
    """gunicorn serving the dashboard on the test's database, talking to the private systemd."""
    port = free_port()
    env = {
        **os.environ,
        "SMARTCRON_DATABASE_URL": str(sd.engine.url),
        "SMARTCRON_CONFIG": str(EMPTY_CONFIG),
        "SMARTCRON_UNIT_DIR": str(sd.systemd.unit_dir),
        "SMARTCRON_JOURNAL_DIRECTORY": str(sd.systemd.journal_dir),
        "DBUS_SYSTEM_BUS_ADDRESS": sd.systemd.bus_address,
    }
    smartcron = Path(sys.executable).with_name("smartcron")
    proc = subprocess.Popen(
        [str(smartcron), "dashboard", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError(
            f"dashboard did not start: {proc.stderr.read().decode() if proc.stderr else ''}"
        )
    yield url
    proc.terminate()
    proc.wait(timeout=15)


@pytest.fixture
def browser() -> Iterator[Any]:
    need(
        os.path.exists(CHROMIUM),
        f"{CHROMIUM} is missing (Debian packages chromium, chromium-driver)",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _login(page: Any, url: str, user: str) -> None:
    page.goto(f"{url}/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def test_dashboard_in_chromium_staff_workflow(
    sd: SystemdEnv, recorder: Watchdog, server: str, browser: Any
) -> None:
    name = sd.add("shop-sync", "--command", "/bin/echo synced", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    add_user(sd.engine, "otto", "operator")
    failed = add_run(
        sd.engine,
        name,
        "failed",
        meaning="Failed with exit status 3 (a test failure).",
        output_tail="connecting to POS\n<script>alert('xss')</script><b>not bold</b>\nERROR: POS unreachable",
        # Old enough that the journal has no output for it: the stored tail is shown.
        started_at=__import__("datetime").datetime(
            2026, 1, 5, 3, 0, tzinfo=__import__("datetime").UTC
        ),
    )
    alert_id = add_alert(sd.engine, name, summary=f"{name} failed: exit status 3")
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    page.goto(f"{server}/tasks")
    assert "/login" in page.url
    _shot(page, "login")
    _login(page, server, "otto")
    _shot(page, "overview")
    page.goto(f"{server}/tasks")
    assert page.locator(f"a:text-is('{name}')").count() == 1
    _shot(page, "tasks")

    # A failed run: its meaning and its log, with the HTML in the output shown as text.
    page.goto(f"{server}/runs/{failed}")
    assert "Failed with exit status 3" in page.inner_text("p.verdict")
    log = page.inner_text("#log")
    assert "<script>alert('xss')</script><b>not bold</b>" in log and "ERROR: POS unreachable" in log
    assert page.locator("#log b").count() == 0 and page.locator("#log script").count() == 0
    # The last error line stands next to the meaning, as text.
    assert page.inner_text("p.last-error") == "Last error line: ERROR: POS unreachable"
    page.fill("#log-search", "error")
    assert page.inner_text("#log-hits") == "1 matching line(s)"
    _shot(page, "run")
    assert dialogs == []

    # Acknowledge the alert (before Run now: its success would resolve it as a recovery).
    page.goto(f"{server}/alerts")
    page.locator(f"#alert-{alert_id} button:text-is('Acknowledge')").click()
    assert f"Alert {alert_id} acknowledged." in page.inner_text("p.flash")
    assert "by otto" in page.inner_text(f"#alert-{alert_id}")
    _shot(page, "alerts")

    # Run now: the run appears in the task's history.
    page.goto(f"{server}/tasks/{name}")
    page.click("button:text-is('Run now')")
    assert "Started task" in page.inner_text("p.flash")
    rows = wait_rows(sd, name, count=2)
    assert rows[-1].trigger == "manual" and rows[-1].outcome == "success"
    # The run table refreshes in place (no reload): the new run shows up by itself.
    page.locator(f"a:text-is('#{rows[-1].id}')").wait_for(timeout=20_000)
    assert "Started task" in page.inner_text("p.flash")  # still the same page load
    _shot(page, "task")

    # Pause and resume act on the real timer.
    page.click("button:text-is('Pause')")
    assert "is paused" in page.inner_text("p.flash")
    assert (
        sd.systemd.systemctl("is-active", f"smartcron-{name}.timer", check=False).stdout.strip()
        == "inactive"
    )
    page.click("button:text-is('Resume')")
    assert "active again" in page.inner_text("p.flash")
    # A run recorded while the page is open appears without a reload (live regions).
    live = add_run(sd.engine, name, "failed", meaning="Recorded while the page was open.")
    page.locator(f"a:text-is('#{live}')").wait_for(timeout=20_000)
    assert "active again" in page.inner_text("p.flash")  # the same page load
    assert (
        sd.systemd.systemctl("is-active", f"smartcron-{name}.timer", check=False).stdout.strip()
        == "active"
    )

    for path, shot in [("/runs", "runs"), ("/health", "health"), ("/audit", "audit")]:
        page.goto(f"{server}{path}")
        _shot(page, shot)
    assert "task.run" in page.inner_text("main") and "alert.ack" in page.inner_text("main")

    # The charts have axes with values, and a hover title on every bar.
    page.goto(f"{server}/")
    chart = page.locator("svg.chart")
    assert chart.locator("text.axis-title").text_content() == "runs"
    ticks = chart.locator("text.tick").all_text_contents()
    assert "0" in ticks and any(t.endswith(":00") for t in ticks), ticks
    assert chart.locator("g.bar").count() == 24
    assert "succeeded" in chart.locator("g.bar title").last.text_content()
    page.goto(f"{server}/tasks/{name}")
    durations = page.locator("#live-durations svg.chart")
    assert durations.locator("text.axis-title").text_content() == "duration"
    assert durations.locator("g.bar title").first.text_content().startswith("run #")
    _shot(page, "task-chart")
    # A favicon, served like the other static files.
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon and page.request.get(f"{server}{icon}").status == 200

    # Phone width: no page is wider than the screen, and no table needs sideways scrolling
    # (wide tables become one card per row).
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    _login(phone, server, "otto")
    for path, shot in [
        ("/", "phone-overview"),
        ("/tasks", "phone-tasks"),
        ("/runs", "phone-runs"),
        (f"/runs/{failed}", "phone-run"),
        (f"/tasks/{name}", "phone-task"),
        ("/alerts", "phone-alerts"),
        ("/health", "phone-health"),
        ("/hosts", "phone-hosts"),
        ("/audit", "phone-audit"),
    ]:
        phone.goto(f"{server}{path}")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, path
        boxes = phone.locator("div.scroll")
        for i in range(boxes.count()):
            wide = boxes.nth(i).evaluate("e => e.scrollWidth - e.clientWidth")
            assert wide <= 1, (path, i, wide)
        _shot(phone, shot)


def _healthz(url: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:  # noqa: S310
                return int(answer.status)
        except OSError:
            time.sleep(0.3)
    return 0


def test_dashboard_unit_serves_from_systemd_and_restarts(sd: SystemdEnv) -> None:
    from smartcron.db.engine import make_engine
    from smartcron.db.migrate import upgrade
    from smartcron.model import config
    from smartcron.systemd.own_units import OwnUnits

    port = free_port()
    unit = f"{sd.prefix}-smartcron-dashboard.service"
    db_url = f"sqlite:///{sd.shared}/dashboard.db"  # where the sandbox can see it
    upgrade(make_engine(db_url))
    settings = {
        "SMARTCRON_CONFIG": "",
        "SMARTCRON_SERVICE_USER": "",  # runs as the test (root), whatever accounts the host has
        "SMARTCRON_DATABASE_URL": db_url,
        "SMARTCRON_DASHBOARD_LISTEN": f"127.0.0.1:{port}",
        "SMARTCRON_TLS_CERTIFICATE": "",  # plain HTTP on loopback (the install test: HTTPS)
    }
    program = str(Path(sys.executable).with_name("smartcron"))
    own = OwnUnits.for_config(config.load(environ=settings), program)
    text = own.render("smartcron-dashboard.service.j2", environment=settings)
    path = sd.systemd.unit_dir / unit
    path.write_text(text)
    proc = sd.systemd.run(["systemd-analyze", "verify", "--man=no", str(path)], check=False)
    assert "smartcron-dashboard" not in proc.stderr, proc.stderr
    # The test's interpreter lives under /root and its database under /var/tmp: the unit,
    # rendered for this installation, keeps both visible (no drop-in needed).
    sd.systemd.systemctl("daemon-reload")
    try:
        sd.systemd.systemctl("start", unit)
        journal = lambda: sd.systemd.journal("-u", unit, "-o", "cat")[-3000:]  # noqa: E731
        assert _healthz(f"http://127.0.0.1:{port}", 30) == 200, journal()
        # Restart=always: a killed dashboard comes back by itself.
        main_pid = sd.systemd.show(unit, "MainPID")["MainPID"]
        sd.systemd.run(["kill", "-9", main_pid])
        time.sleep(3)
        assert _healthz(f"http://127.0.0.1:{port}", 30) == 200, journal()
        assert sd.systemd.show(unit, "NRestarts")["NRestarts"] != "0"
    finally:
        sd.systemd.systemctl("stop", unit, check=False)
        path.unlink(missing_ok=True)

        sd.systemd.systemctl("daemon-reload")


def test_dashboard_follows_the_log_of_a_running_run(
    sd: SystemdEnv, recorder: Watchdog, server: str, browser: Any
) -> None:
    import sqlalchemy as sa

    from smartcron.db.schema import executions

    name = sd.add(
        "slowlog", "--command", "/bin/sh -c 'echo first line; sleep 10; echo second line'",
        "--schedule", "@yearly",
    )  # fmt: skip
    assert sd.run("sync").exit_code == 0
    add_user(sd.engine, "vera", "viewer")
    assert sd.run("task", "run", name).exit_code == 0
    deadline = time.monotonic() + 15
    run_id = None
    while run_id is None and time.monotonic() < deadline:
        with sd.engine.connect() as conn:
            run_id = conn.execute(
                sa.select(executions.c.id).where(
                    executions.c.task_name == name, executions.c.outcome == "running"
                )
            ).scalar()
        time.sleep(0.1)
    assert run_id is not None, "no running row"
    page = browser.new_page()
    _login(page, server, "vera")
    page.goto(f"{server}/runs/{run_id}")
    assert page.locator("#log[data-follow]").count() == 1
    assert "second line" not in page.inner_text("#log")  # the run sleeps 10 s before it
    # The page polls the log while the run goes on, then reloads with the final outcome.
    # (Locators, not wait_for_function: the page's CSP forbids evaluating strings.)
    page.locator("#log", has_text="second line").wait_for(timeout=20_000)
    page.locator("p.verdict .outcome", has_text="success").wait_for(timeout=20_000)
    assert "first line" in page.inner_text("#log")
    _shot(page, "run-followed")


def test_dashboard_in_chromium_task_page_shows_a_chain(
    sd: SystemdEnv, recorder: Watchdog, server: str, browser: Any
) -> None:
    first = sd.add("bank-import", "--command", "/bin/true", "--schedule", "@yearly")
    second = sd.add("payroll-export", "--command", "/bin/true", "--after", first)
    assert sd.run("sync").exit_code == 0
    assert sd.run("task", "run", first, "--wait").exit_code == 0
    wait_rows(sd, second)
    add_user(sd.engine, "otto", "operator")
    page = browser.new_page()
    _login(page, server, "otto")
    page.goto(f"{server}/tasks/{second}")
    chain = page.locator("p.chain")
    assert chain.inner_text().startswith(f"Chain: {first} → {second}")
    assert chain.locator(f"a:text-is('{first}')").count() == 1
    assert page.locator("td:text-is('chain')").count() >= 1  # the run's trigger
    _shot(page, "task-chain")
    page.set_viewport_size({"width": 390, "height": 844})
    _shot(page, "task-chain-phone")
    # A join: the chain view draws every arrow, each box linking to its task.
    stock = sd.add("stock-count", "--command", "/bin/true", "--schedule", "@yearly")
    report = sd.add("month-report", "--command", "/bin/true", "--after", f"{second},{stock}")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{server}/chains")
    graph = page.locator("svg.graph")
    assert graph.count() == 1
    assert graph.locator("path").count() == 3  # bank -> payroll, payroll -> report, stock -> report
    for task in (first, second, stock, report):
        assert graph.locator(f"a[href='/tasks/{task}']").count() == 1
    _shot(page, "chains")
    page.goto(f"{server}/tasks/{report}")
    assert "have all succeeded since its last run" in page.inner_text("p.chain")
    assert page.locator("svg.graph rect.here").count() == 1
    _shot(page, "task-join")
