"""The dashboard with Flask's test client on SQLite and MariaDB: login on every route, roles,
CSRF, escaping, throttling, the API, /metrics; and the `smartcron user` commands."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from smartcron.dashboard import PUBLIC_ENDPOINTS, create_app
from smartcron.db.schema import audit_log, executions, tasks
from smartcron.model import config

from support import TestDB, invoke
from support.dashboard import (
    PASSWORD,
    add_alert,
    add_run,
    add_task,
    add_user,
    csrf_token,
    login,
)

SAMPLE_ARGS = {
    "name": "pos-sync",
    "run_id": 1,
    "alert_id": 1,
    "verb": "ack",
    "change": "pause",
    "filename": "app.js",
}


@pytest.fixture
def app(db: TestDB) -> Iterator[Flask]:
    cfg = config.load(environ={"SMARTCRON_CONFIG": "", "SMARTCRON_DATABASE_URL": db.url})
    app = create_app(cfg, {"TESTING": True, "SESSION_COOKIE_SECURE": False})
    add_task(db.engine, "pos-sync", category="sales")
    add_user(db.engine, "vera", "viewer")
    add_user(db.engine, "otto", "operator")
    yield app


@pytest.fixture(autouse=True)
def _fresh_address_throttle() -> None:
    from smartcron.dashboard import auth

    auth._failures.clear()  # per-process state: each test starts with no failed logins


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _urls(app: Flask) -> list[tuple[str, str, str]]:
    """Every (endpoint, method, url) of the app, discovered from its URL map."""
    out = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            args = {a: SAMPLE_ARGS[a] for a in rule.arguments}
            url = app.url_for(rule.endpoint, **args)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                out.append((rule.endpoint, method, url))
    return out


def test_dashboard_every_route_requires_login(app: Flask, client: FlaskClient) -> None:
    urls = _urls(app)
    assert len(urls) > 15
    # An anonymous visitor with a valid CSRF token (the login page hands one out): only the
    # login check stands between them and the action.
    token = csrf_token(client)
    checked = 0
    for endpoint, method, url in urls:
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        data = {"csrf_token": token} if method != "GET" else None
        response = client.open(url, method=method, data=data)
        if url.startswith(("/api/", "/metrics")):
            assert response.status_code == 401, (method, url)
        else:
            assert response.status_code == 302, (method, url)
            assert response.headers["Location"].startswith("/login"), (method, url)
        checked += 1
    assert checked == len([u for u in urls if u[0] not in PUBLIC_ENDPOINTS])
    assert {"static", "auth.login", "api.healthz"} == set(PUBLIC_ENDPOINTS)


def test_dashboard_healthz_answers_without_login(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok", "database": "ok"}


def test_dashboard_login_then_every_page_renders(
    app: Flask, client: FlaskClient, db: TestDB
) -> None:
    run_id = add_run(db.engine, "pos-sync", "failed")
    add_alert(db.engine, "pos-sync")
    assert login(client, "otto").status_code == 302
    for path in [
        "/",
        "/tasks",
        "/tasks/pos-sync",
        "/runs",
        f"/runs/{run_id}",
        "/alerts",
        "/health",
        "/audit",
        "/hosts",
        "/chains",
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Content-Security-Policy" in response.headers
    assert "Failed with exit status 1." in client.get(f"/runs/{run_id}").get_data(as_text=True)


def test_dashboard_run_page_shows_the_concurrency_group_wait(
    app: Flask, client: FlaskClient, db: TestDB
) -> None:
    waited = add_run(db.engine, "report", "success", wait_seconds=3.24)
    plain = add_run(db.engine, "report", "success")
    assert login(client, "otto").status_code == 302
    page = client.get(f"/runs/{waited}").get_data(as_text=True)
    assert "Waited for its concurrency group" in page and "3.2 s" in page
    assert "Waited for its concurrency group" not in client.get(f"/runs/{plain}").get_data(
        as_text=True
    )


def test_dashboard_wrong_password_is_refused_and_audited(client: FlaskClient, db: TestDB) -> None:
    response = login(client, "otto", "wrong password!")
    assert response.status_code == 200 and "Wrong username or password." in response.get_data(
        as_text=True
    )
    assert client.get("/").status_code == 302
    with db.engine.connect() as conn:
        actions = [r.action for r in conn.execute(sa.select(audit_log))]
    assert "login.failed" in actions


def test_dashboard_locks_an_account_after_five_failures(client: FlaskClient) -> None:
    for _ in range(5):
        login(client, "vera", "not the password")
    response = login(client, "vera", PASSWORD)  # the right password, from the guesser
    assert "Wrong username or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_dashboard_lock_does_not_lock_out_the_owner_or_tell_names(app: Flask) -> None:
    """A guesser's failures close the account to the guesser, not to its owner elsewhere, and
    a locked account, a wrong password and a name that does not exist read the same."""

    def attempt(address: str, user: str, password: str) -> str:
        client = app.test_client()
        token = csrf_token(client)
        page = client.post(
            "/login",
            data={"username": user, "password": password, "csrf_token": token},
            environ_base={"REMOTE_ADDR": address},
        )
        if page.status_code != 200:
            return "logged in"
        said = re.search(r'role="alert">([^<]*)<', page.get_data(as_text=True))
        return said.group(1) if said else ""

    import secrets

    # Addresses of their own: the per-address counts live in this process across tests.
    guesser, owner = (f"198.51.{secrets.randbelow(250)}.{secrets.randbelow(250)}" for _ in "ab")
    answers = {attempt(guesser, name, "guess") for name in ["vera"] * 8 + ["ghost"] * 8}
    assert len(answers) == 1  # the same words for the locked account and the unknown one
    assert attempt(guesser, "vera", PASSWORD) != "logged in"  # still the guesser
    assert attempt(owner, "vera", PASSWORD) == "logged in"  # the owner, elsewhere


def test_dashboard_login_never_redirects_off_site(client: FlaskClient) -> None:
    token = csrf_token(client)
    response = client.post(
        "/login?next=//evil.example/x",
        data={"username": "vera", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_dashboard_post_without_csrf_token_is_rejected(client: FlaskClient, db: TestDB) -> None:
    login(client, "otto")
    response = client.post("/tasks/pos-sync/pause", data={})
    assert response.status_code == 400 and "token" in response.get_data(as_text=True)
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(tasks.c.paused)).scalar() is False


def test_dashboard_viewer_cannot_run_pause_or_ack(client: FlaskClient, db: TestDB) -> None:
    alert_id = add_alert(db.engine, "pos-sync")
    login(client, "vera")
    token = csrf_token(client, "/tasks/pos-sync")
    for path in ["/tasks/pos-sync/run", "/tasks/pos-sync/pause", f"/alerts/{alert_id}/ack"]:
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path
    page = client.get("/tasks/pos-sync").get_data(as_text=True)
    assert "Run now" not in page and "Pause" not in page
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(tasks.c.paused)).scalar() is False
        assert not [
            r
            for r in conn.execute(sa.select(audit_log.c.action))
            if r.action != "task.add" and r.action.startswith(("task.", "alert."))
        ]


def test_dashboard_operator_acknowledges_an_alert(client: FlaskClient, db: TestDB) -> None:
    alert_id = add_alert(db.engine, "pos-sync")
    login(client, "otto")
    token = csrf_token(client, "/alerts")
    response = client.post(f"/alerts/{alert_id}/ack", data={"csrf_token": token})
    assert response.status_code == 302
    page = client.get("/alerts").get_data(as_text=True)
    assert f"Alert {alert_id} acknowledged." in page and "by otto" in page


def test_dashboard_escapes_task_output_and_config(client: FlaskClient, db: TestDB) -> None:
    add_task(db.engine, "evil", description='<img src=x onerror="alert(1)">')
    run_id = add_run(
        db.engine,
        "evil",
        "failed",
        meaning="<script>alert('meaning')</script>",
        output_tail="<script>alert('tail')</script><b>bold</b>",
    )
    login(client, "otto")
    for path in ["/tasks", "/tasks/evil", f"/runs/{run_id}", "/"]:
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page and "<b>bold" not in page, (
            path
        )
    assert "&lt;script&gt;alert(&#39;meaning&#39;)&lt;/script&gt;" in client.get(
        f"/runs/{run_id}"
    ).get_data(as_text=True)


def test_dashboard_api_and_metrics_take_a_bearer_token(client: FlaskClient, db: TestDB) -> None:
    add_run(db.engine, "pos-sync", "failed")
    result = invoke_cli(db, "user", "token", "vera")
    token = result.stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    tasks_json = client.get("/api/v1/tasks", headers=headers)
    assert tasks_json.status_code == 200
    assert (
        tasks_json.json[0]["name"] == "pos-sync"
        and tasks_json.json[0]["last_run"]["outcome"] == "failed"
    )
    runs = client.get("/api/v1/runs?task=pos-sync", headers=headers).json
    assert runs["runs"][0]["meaning"] == "Failed with exit status 1."
    assert client.get("/api/v1/alerts", headers=headers).status_code == 200
    assert client.get("/api/v1/health", headers=headers).status_code == 200
    metrics = client.get("/metrics", headers=headers).get_data(as_text=True)
    assert 'smartcron_runs_total{task="pos-sync",host="",outcome="failed"} 1\n' in metrics
    assert 'smartcron_task_up{task="pos-sync",host=""} 0\n' in metrics
    assert (
        client.get("/api/v1/tasks", headers={"Authorization": "Bearer sc_wrong"}).status_code == 401
    )
    revoked = invoke_cli(db, "user", "token", "vera", "--revoke")
    assert revoked.exit_code == 0 and "Revoked 1 API token(s)" in revoked.stdout
    assert client.get("/api/v1/tasks", headers=headers).status_code == 401


def invoke_cli(db: TestDB, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    runner = CliRunner(env={"SMARTCRON_DATABASE_URL": db.url, "SMARTCRON_CONFIG": ""})
    return invoke(runner, *args, input=input)


def test_user_commands_add_passwd_rm(client: FlaskClient, db: TestDB) -> None:
    added = invoke_cli(
        db, "user", "add", "anna", "--role", "admin", "--password-stdin", input="a long password\n"
    )
    assert added.exit_code == 0, added.stderr
    assert login(client, "anna", "a long password").status_code == 302
    short = invoke_cli(db, "user", "add", "bob", "--password-stdin", input="short\n")
    assert short.exit_code == 2 and "password" in short.stderr and "at least 10" in short.stderr
    bad_role = invoke_cli(
        db, "user", "add", "bob", "--role", "root", "--password-stdin", input="x" * 12
    )
    assert bad_role.exit_code == 2
    assert (
        invoke_cli(
            db, "user", "passwd", "anna", "--password-stdin", input="another password\n"
        ).exit_code
        == 0
    )
    assert invoke_cli(db, "user", "rm", "anna").exit_code == 0
    # The removed user's session ends at the next request.
    assert client.get("/").status_code == 302
    missing = invoke_cli(db, "user", "rm", "anna")
    assert missing.exit_code == 1 and "no user named 'anna'" in missing.stderr
    listing = invoke_cli(db, "user", "list").stdout
    assert re.search(r"otto\s+operator", listing)


def test_runs_by_hour_counts_each_hour_from_indexes(app: Flask, db: TestDB) -> None:
    import datetime as dt

    from smartcron.db.runs import runs_by_hour

    now = dt.datetime(2026, 11, 27, 12, 40, tzinfo=dt.UTC)
    for minutes, outcome in [
        (10, "success"),
        (20, "failed"),
        (5 * 60, "success"),
        (30 * 60, "failed"),
    ]:
        add_run(db.engine, "pos-sync", outcome, started_at=now - dt.timedelta(minutes=minutes))
    add_run(db.engine, "pos-sync", "running", started_at=now - dt.timedelta(minutes=1))
    with db.engine.connect() as conn:
        hours = runs_by_hour(conn, now)
    assert len(hours) == 24 and hours[-1][0] == dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
    assert hours[-1][1:] == (1, 1)  # the running run is neither
    assert hours[-6][1:] == (1, 0)  # 07:40 falls in the 07:00 hour
    assert sum(ok + bad for _h, ok, bad in hours) == 3  # 30 h ago is outside the chart


def test_all_tasks_notices_pause_add_and_delete(app: Flask, db: TestDB) -> None:
    from smartcron.dashboard import queries
    from smartcron.db.tasks import delete_task, set_task_paused

    with db.engine.begin() as conn:
        assert [t.paused for t in queries.all_tasks(conn)] == [False]
        set_task_paused(conn, "pos-sync", True, "t")
        assert [t.paused for t in queries.all_tasks(conn)] == [True]
    add_task(db.engine, "bank-import")
    with db.engine.begin() as conn:
        assert [t.name for t in queries.all_tasks(conn)] == ["bank-import", "pos-sync"]
        delete_task(conn, "bank-import", "t")
        assert [t.name for t in queries.all_tasks(conn)] == ["pos-sync"]


def test_dashboard_throttles_by_the_address_a_trusted_proxy_forwards(db: TestDB) -> None:
    cfg = config.load(
        environ={
            "SMARTCRON_CONFIG": "",
            "SMARTCRON_DATABASE_URL": db.url,
            "SMARTCRON_TRUSTED_PROXIES": "127.0.0.1",  # the test client's address
        }
    )
    client = create_app(cfg, {"TESTING": True, "SESSION_COOKIE_SECURE": False}).test_client()

    def attempt(forwarded: str) -> str:
        token = csrf_token(client)
        return client.post(
            "/login",
            data={"username": "nobody", "password": "wrong password", "csrf_token": token},
            headers={"X-Forwarded-For": forwarded},
        ).get_data(as_text=True)

    for _ in range(20):
        attempt("203.0.113.7")
    assert "Too many failed logins from this address" in attempt("203.0.113.7")
    # Another client behind the same proxy is not blocked by the first one's failures.
    assert "Wrong username or password." in attempt("198.51.100.9")


def test_dashboard_one_time_password_must_be_replaced_first(
    client: FlaskClient, db: TestDB
) -> None:
    from smartcron.ops import users

    with db.engine.begin() as conn:
        users.add_user(conn, "root-admin", "admin", PASSWORD, "test", must_change=True)
    login(client, "root-admin")
    for path in ["/", "/tasks", "/alerts", "/api/v1/tasks"]:
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == "/account/password"
    page = client.get("/account/password").get_data(as_text=True)
    assert "one-time password" in page
    token = csrf_token(client, "/account/password")

    def change(current: str, new: str, confirm: str) -> str:
        form = {"current": current, "new": new, "confirm": confirm, "csrf_token": token}
        return client.post("/account/password", data=form).get_data(as_text=True)

    assert "current password is wrong" in change(
        "nope", "a new long password", "a new long password"
    )
    assert "differ" in change(PASSWORD, "a new long password", "another long password")
    assert "at least 10" in change(PASSWORD, "short", "short")
    response = client.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "new": "a new long password",
            "confirm": "a new long password",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert client.get("/tasks").status_code == 200
    with db.engine.connect() as conn:
        row = users.get_user(conn, "root-admin")
        actions = [r.action for r in conn.execute(sa.select(audit_log)) if r.target == "root-admin"]
    assert row.must_change_password is False and "user.passwd" in actions
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert login(client, "root-admin", "a new long password").status_code == 302


def test_user_add_must_change_password_flag(db: TestDB) -> None:
    added = invoke_cli(
        db, "user", "add", "first", "--role", "admin", "--password-stdin", "--must-change-password",
        input="one time password\n",
    )  # fmt: skip
    assert added.exit_code == 0 and "must choose a new password" in added.stdout


def test_dashboard_shows_task_settings_as_people_write_them(
    client: FlaskClient, db: TestDB
) -> None:
    import shlex

    from markupsafe import escape

    argv = ["/bin/echo", "two words", "it's"]
    add_task(db.engine, "export", command=argv, env={"A": "1"})
    login(client, "vera")
    page = client.get("/tasks/export").get_data(as_text=True)
    config = page.split("<h2>Configuration</h2>")[1].split("</table>")[0]
    assert f"<code>{escape(shlex.join(argv))}</code>" in config
    assert "<code>A=(hidden)</code>" in config and "<code>final-failure, late</code>" in config
    assert "<code>yes</code>" in config  # catch_up
    assert "[" not in config and "{" not in config and "False" not in config


def test_dashboard_task_page_shows_the_chain(client: FlaskClient, db: TestDB) -> None:
    add_task(db.engine, "bank-import")
    add_task(db.engine, "payroll", schedule="", after=["bank-import"])
    add_run(db.engine, "payroll", outcome="not-run", meaning="Not run: bank-import failed.")
    login(client, "vera")
    page = client.get("/tasks/payroll").get_data(as_text=True)
    assert (
        'Chain: <a href="/tasks/bank-import">bank-import</a> &rarr; <strong>payroll</strong>'
        in page
    )
    assert "runs when bank-import succeeds; recorded as not run when it fails" in page
    assert "No schedule of its own" in page
    head = client.get("/tasks/bank-import").get_data(as_text=True)
    assert '<strong>bank-import</strong> &rarr; <a href="/tasks/payroll">payroll</a>' in head
    for url in ("/", "/tasks", "/runs", "/health", "/status.json"):
        assert client.get(url).status_code == 200, url


def test_dashboard_hosts_page_and_runs_filtered_by_host(client: FlaskClient, db: TestDB) -> None:
    import datetime as dt

    from smartcron.db.hosts import register_host

    now = dt.datetime.now(dt.UTC)
    with db.engine.begin() as conn:
        register_host(conn, "till-1", "1.2.3", now)
        register_host(conn, "<b>wh</b>", "1.2.3", now - dt.timedelta(hours=1))
    on_till = add_run(db.engine, "pos-sync", host="till-1", meaning="ran on the till")
    add_run(db.engine, "pos-sync", host="<b>wh</b>", meaning="ran in the warehouse")
    assert login(client, "otto").status_code == 302
    page = client.get("/hosts").get_data(as_text=True)
    assert "till-1" in page and "&lt;b&gt;wh&lt;/b&gt;" in page and "<b>wh</b>" not in page
    assert re.search(r"till-1.*?o-success\">up<", page, re.S)
    assert "DOWN" in page  # quiet for an hour, beyond host_down_after
    runs = client.get("/runs?host=till-1").get_data(as_text=True)
    assert f"#{on_till}<" in runs and "ran on the till" in runs
    assert "ran in the warehouse" not in runs
    assert 'data-label="Host">till-1<' in runs  # the host column shows with several hosts


def test_task_list_filters_and_sorts_by_each_tasks_latest_run(
    client: FlaskClient, db: TestDB
) -> None:
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    add_task(db.engine, "bank-import", category="finance")
    add_task(db.engine, "cleanup", category="cleanup")
    add_run(db.engine, "pos-sync", "failed", started_at=now - dt.timedelta(hours=2))
    add_run(db.engine, "pos-sync", "success", started_at=now - dt.timedelta(hours=1))
    add_run(db.engine, "bank-import", "success", started_at=now - dt.timedelta(hours=3))
    add_run(db.engine, "bank-import", "failed", started_at=now - dt.timedelta(minutes=5))
    assert login(client, "vera").status_code == 302

    def names(query: str) -> list[str]:
        page = client.get(f"/tasks?{query}").get_data(as_text=True)
        return re.findall(r'data-label="Task"><a href="/tasks/([^"]+)"', page)

    assert names("") == ["bank-import", "cleanup", "pos-sync"]
    assert names("state=failing") == ["bank-import"]  # its latest run failed; pos-sync's not
    assert names("state=ok") == ["cleanup", "pos-sync"]
    assert names("sort=state") == ["bank-import", "cleanup", "pos-sync"]  # failing < ok
    assert names("sort=last") == ["bank-import", "pos-sync", "cleanup"]  # never run: last
    page = client.get("/tasks").get_data(as_text=True)
    assert re.search(r'<tr class="st-failing">\s*<td data-label="Task"><a href="/tasks/bank', page)
    assert re.search(r'<tr class="st-ok">\s*<td data-label="Task"><a href="/tasks/pos-sync', page)


def test_dashboard_sends_hsts_only_over_tls(client: FlaskClient) -> None:
    plain = client.get("/login")
    assert "Strict-Transport-Security" not in plain.headers
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_dashboard_snapshot_reads_one_moment_of_the_database(app: Flask, db: TestDB) -> None:
    # A page's statements agree with each other: a run committed while the page is being
    # built is in none of them (SQLite read each statement afresh).
    from smartcron.dashboard import snapshot

    add_run(db.engine, "report", "success")
    count = sa.select(sa.func.count()).select_from(executions)
    with app.app_context(), snapshot() as conn:
        before = conn.execute(count).scalar_one()
        add_run(db.engine, "report", "failed")
        assert conn.execute(count).scalar_one() == before
    with db.engine.connect() as conn:
        assert conn.execute(count).scalar_one() == before + 1


def test_dashboard_renders_a_run_recorded_without_a_start(client: FlaskClient, db: TestDB) -> None:
    # Rows written before 2026-12-04 for a run that timed out waiting for a concurrency group
    # slot have no started_at: the task page's durations chart and the run page render them.
    run_id = add_run(
        db.engine,
        "pos-sync",
        outcome="timeout",
        started_at=None,
        duration_s=4.0,
        result="timeout",
        exit_code=None,
        meaning="Timed out: still running at the task's timeout of 4s, so systemd stopped it.",
        wait_seconds=3.9,
    )
    login(client, "vera")
    assert client.get("/tasks/pos-sync").status_code == 200
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert "<tr><th>Started</th><td>-</td></tr>" in page
    for url in ("/", "/tasks", "/runs"):
        assert client.get(url).status_code == 200, url
