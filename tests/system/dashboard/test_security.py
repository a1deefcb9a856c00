"""The dashboard's hostile-input cases of issue 13, on SQLite and MariaDB: sessions that end on
the server (logout, password and role changes, user removal, timeouts), redirects that never
leave the site, forwarded addresses believed only from trusted proxies, environment values
hidden from all but an admin who asks, paging and ids that cannot overflow."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from smartcron.dashboard import create_app
from smartcron.db.schema import audit_log, sessions
from smartcron.model import config

from support import TestDB, invoke
from support.dashboard import PASSWORD, add_run, add_task, add_user, csrf_token, login

SECRET = "s3cr3t-token-value"


def _app(db: TestDB, **settings: str) -> Flask:
    env = {"SMARTCRON_CONFIG": "", "SMARTCRON_DATABASE_URL": db.url}
    env |= {f"SMARTCRON_{k.upper()}": v for k, v in settings.items()}
    return create_app(config.load(environ=env), {"TESTING": True, "SESSION_COOKIE_SECURE": False})


@pytest.fixture
def app(db: TestDB) -> Iterator[Flask]:
    add_task(db.engine, "pos-sync", env={"API_TOKEN": SECRET, "REGION": "nz"})
    add_user(db.engine, "vera", "viewer")
    add_user(db.engine, "otto", "operator")
    add_user(db.engine, "ada", "admin")
    yield _app(db)


@pytest.fixture(autouse=True)
def _fresh_address_throttle() -> None:
    from smartcron.dashboard import auth

    auth._failures.clear()


def _cli(db: TestDB, *args: str, input: str | None = None) -> Any:
    from click.testing import CliRunner

    runner = CliRunner(env={"SMARTCRON_DATABASE_URL": db.url, "SMARTCRON_CONFIG": ""})
    return invoke(runner, *args, input=input)


def _cookie(client: FlaskClient) -> str:
    found = client.get_cookie("smartcron_session")
    assert found is not None
    return found.value


def _replay(app: Flask, cookie: str) -> tuple[int, int]:
    """Send a saved session cookie from a fresh client: (status of a page, of the API)."""
    thief = app.test_client()
    thief.set_cookie("smartcron_session", cookie)
    return thief.get("/tasks").status_code, thief.get("/api/v1/tasks").status_code


# 2. Sessions end on the server.


def test_session_saved_cookie_is_refused_after_logout(app: Flask, db: TestDB) -> None:
    client = app.test_client()
    login(client, "otto")
    saved = _cookie(client)
    assert _replay(app, saved) == (200, 200)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert _replay(app, saved) == (302, 401)
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sessions)).scalar() == 0


def test_session_saved_cookie_is_refused_after_a_password_change(app: Flask, db: TestDB) -> None:
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, "otto")
    login(phone, "otto")
    saved = _cookie(phone)
    form = {
        "current": PASSWORD,
        "new": "a brand new password",
        "confirm": "a brand new password",
        "csrf_token": csrf_token(laptop, "/account/password"),
    }
    assert laptop.post("/account/password", data=form).status_code == 302
    assert laptop.get("/tasks").status_code == 200  # this browser got a fresh session
    assert _replay(app, saved) == (302, 401)  # the other one ended
    # By an administrator on the command line: every session of the user ends.
    kept = _cookie(laptop)
    changed = _cli(db, "user", "passwd", "otto", "--password-stdin", input="yet another one\n")
    assert changed.exit_code == 0 and "1 open dashboard session(s) ended" in changed.stdout
    assert _replay(app, kept) == (302, 401)


def test_session_ends_when_the_role_changes_or_the_user_is_removed(app: Flask, db: TestDB) -> None:
    client = app.test_client()
    login(client, "otto")
    saved = _cookie(client)
    result = _cli(db, "user", "role", "otto", "viewer")
    assert result.exit_code == 0 and "otto' is now viewer" in result.stdout
    assert _replay(app, saved) == (302, 401)
    login(client, "otto")
    token = csrf_token(client, "/tasks/pos-sync")
    assert client.post("/tasks/pos-sync/pause", data={"csrf_token": token}).status_code == 403
    saved = _cookie(client)
    assert _cli(db, "user", "rm", "otto").exit_code == 0
    assert _replay(app, saved) == (302, 401)


def test_session_idle_and_absolute_timeouts(db: TestDB) -> None:
    from smartcron.ops.sessions import Timeouts, session_user, start_session

    add_user(db.engine, "vera", "viewer")
    timeouts = Timeouts(idle=dt.timedelta(minutes=30), max_age=dt.timedelta(hours=2))
    start = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    with db.engine.begin() as conn:
        uid = conn.execute(sa.text("SELECT id FROM users WHERE username = 'vera'")).scalar_one()
        token = start_session(conn, uid, start)

    def at(minutes: int, activity: bool = True) -> bool:
        with db.engine.begin() as conn:
            moment = start + dt.timedelta(minutes=minutes)
            return session_user(conn, token, timeouts, activity=activity, now=moment) is not None

    # Page views every 20 minutes keep it alive; a background refresh does not.
    assert at(20) and at(40) and at(59, activity=False)
    assert at(60) and at(89) and at(118)
    assert not at(121)  # two hours after the login, whatever happened since
    with db.engine.begin() as conn:
        token = start_session(conn, uid, start)
    assert at(25, activity=False) and at(29, activity=False)
    assert not at(31)  # 31 minutes without a page view
    assert not at(1)  # the expired session was deleted: it does not come back


def test_session_timeouts_are_settings(db: TestDB) -> None:
    add_user(db.engine, "vera", "viewer")
    app = _app(db, session_idle_timeout="1", session_max_age="2")
    client = app.test_client()
    login(client, "vera")
    assert client.get("/tasks").status_code == 200
    with db.engine.begin() as conn:
        conn.execute(
            sessions.update().values(last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5))
        )
    response = client.get("/tasks")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# 3. Redirects only to paths of this site.

# As they appear in the URL (percent-encoded); Flask decodes them.
HOSTILE_NEXT = [
    "/%09/evil.example/",
    "/%0A/evil.example/",
    "//evil.example/",
    "/%5Cevil.example/",
    "%5C%5Cevil.example/",
    "https://evil.example/",
    "%20//evil.example/",
    "/%00/evil.example/",
    "javascript:alert(1)",
    "",
]


@pytest.mark.parametrize("raw", HOSTILE_NEXT)
def test_redirect_after_login_never_leaves_the_site(app: Flask, raw: str) -> None:
    client = app.test_client()
    token = csrf_token(client)
    response = client.post(
        f"/login?next={raw}",
        data={"username": "vera", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/", raw


@pytest.mark.parametrize("raw", HOSTILE_NEXT)
def test_redirect_after_an_action_never_leaves_the_site(app: Flask, raw: str) -> None:
    from urllib.parse import unquote

    client = app.test_client()
    login(client, "otto")
    token = csrf_token(client, "/alerts")
    # No such alert: the action fails, and the redirect back still happens.
    response = client.post("/alerts/999/ack", data={"csrf_token": token, "next": unquote(raw)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/alerts", raw


def test_redirect_keeps_a_local_path(app: Flask) -> None:
    client = app.test_client()
    token = csrf_token(client)
    response = client.post(
        "/login",
        query_string={"next": "/tasks/pos-sync?outcome=failures"},
        data={"username": "vera", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/tasks/pos-sync?outcome=failures"


# 4. Forwarded addresses only from trusted proxies.


def _failed_logins(client: FlaskClient, count: int, forwarded: Any) -> int:
    """Try `count` wrong passwords; return how many were refused by the address block."""
    blocked = 0
    for i in range(count):
        token = csrf_token(client)
        page = client.post(
            "/login",
            data={"username": "nobody", "password": "wrong password", "csrf_token": token},
            headers={"X-Forwarded-For": forwarded(i)},
        ).get_data(as_text=True)
        blocked += "Too many failed logins from this address" in page
    return blocked


def test_forwarded_for_is_ignored_without_trusted_proxies(app: Flask) -> None:
    # From loopback, a different forged X-Forwarded-For on every attempt: still one address.
    blocked = _failed_logins(app.test_client(), 60, lambda i: f"203.0.113.{i}")
    assert blocked == 40  # the first 20 failures count, the other 40 are blocked


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(db: TestDB) -> None:
    add_user(db.engine, "vera", "viewer")
    client = _app(db, trusted_proxies="10.9.9.9").test_client()  # not the client's 127.0.0.1
    assert _failed_logins(client, 60, lambda i: f"203.0.113.{i}") == 40
    from smartcron.dashboard import auth

    auth._failures.clear()
    trusted = _app(db, trusted_proxies="127.0.0.0/8").test_client()
    # A client behind the proxy that forges its own header: the proxy appends the real
    # address, and that is the one counted.
    assert _failed_logins(trusted, 60, lambda i: f"198.51.100.{i}, 203.0.113.7") == 40
    auth._failures.clear()
    assert _failed_logins(trusted, 60, lambda i: f"203.0.113.{i}") == 0


# 5. Environment values: only an admin who asks.


def test_environment_values_are_hidden_from_viewers_and_operators(app: Flask, db: TestDB) -> None:
    for user in ("vera", "otto"):
        client = app.test_client()
        login(client, user)
        for path in ("/tasks/pos-sync", "/tasks/pos-sync?show_env=1"):
            page = client.get(path).get_data(as_text=True)
            assert SECRET not in page and "API_TOKEN=(hidden)" in page, (user, path)
        for path in ("/api/v1/tasks", "/api/v1/tasks/pos-sync?show_env=1"):
            body = client.get(path).get_data(as_text=True)
            assert SECRET not in body and "(hidden)" in body, (user, path)
    admin = app.test_client()
    login(admin, "ada")
    assert SECRET not in admin.get("/tasks/pos-sync").get_data(as_text=True)  # until asked
    assert SECRET not in admin.get("/api/v1/tasks").get_data(as_text=True)
    assert SECRET in admin.get("/tasks/pos-sync?show_env=1").get_data(as_text=True)
    assert admin.get("/api/v1/tasks/pos-sync?show_env=1").json["env"]["API_TOKEN"] == SECRET
    # A viewer's API token does not unlock them either.
    token = _cli(db, "user", "token", "vera").stdout.strip()
    body = app.test_client().get(
        "/api/v1/tasks?show_env=1", headers={"Authorization": f"Bearer {token}"}
    )
    assert body.status_code == 200 and SECRET not in body.get_data(as_text=True)


def test_stdin_is_hidden_like_environment_values(app: Flask, db: TestDB) -> None:
    add_task(db.engine, "feed", stdin=f"password={SECRET}\n")
    for user in ("vera", "otto"):
        client = app.test_client()
        login(client, user)
        page = client.get("/tasks/feed?show_env=1").get_data(as_text=True)
        assert SECRET not in page and "<code>(hidden)</code>" in page, user
        assert "standard input are hidden" in page
        for path in ("/api/v1/tasks", "/api/v1/tasks/feed?show_env=1"):
            assert SECRET not in client.get(path).get_data(as_text=True), (user, path)
        assert client.get("/api/v1/tasks/feed").json["stdin"] == "(hidden)"
    admin = app.test_client()
    login(admin, "ada")
    assert SECRET not in admin.get("/tasks/feed").get_data(as_text=True)  # until asked
    assert SECRET in admin.get("/tasks/feed?show_env=1").get_data(as_text=True)
    assert admin.get("/api/v1/tasks/feed?show_env=1").json["stdin"] == f"password={SECRET}\n"
    assert SECRET not in _cli(db, "task", "show", "feed").stdout
    assert SECRET in _cli(db, "task", "show", "feed", "--show-env").stdout
    edited = _cli(db, "task", "edit", "feed", "--stdin", "password=rotated-value-42")
    assert edited.exit_code == 0, edited.stderr
    with db.engine.connect() as conn:
        details = " ".join(str(r.details) for r in conn.execute(sa.select(audit_log)))
    assert SECRET not in details and "rotated-value-42" not in details
    assert '"stdin": "changed"' in details


def test_environment_values_never_reach_the_audit_log_or_the_cli_json(
    app: Flask, db: TestDB
) -> None:
    edited = _cli(db, "task", "edit", "pos-sync", "--env", "API_TOKEN=rotated-value-42")
    assert edited.exit_code == 0, edited.stderr
    assert _cli(db, "task", "rm", "pos-sync", "--yes").exit_code == 0
    with db.engine.connect() as conn:
        details = " ".join(str(r.details) for r in conn.execute(sa.select(audit_log)))
    assert SECRET not in details and "rotated-value-42" not in details
    assert "changed API_TOKEN" in details  # which variable changed is still said
    add_task(db.engine, "again", env={"API_TOKEN": SECRET})
    for args in (
        ("task", "list", "--json"),
        ("task", "show", "again", "--json"),
        ("task", "show", "again"),
        ("export",),
    ):
        out = _cli(db, *args)
        if args == ("export",):
            assert SECRET in out.stdout  # a task file for `smartcron import` keeps everything
            continue
        assert out.exit_code == 0 and SECRET not in out.stdout and "(hidden)" in out.stdout
    assert SECRET in _cli(db, "task", "show", "again", "--json", "--show-env").stdout


# 7. Paging and ids cannot overflow.

HUGE = "9223372036854775807"


@pytest.mark.parametrize(
    "path",
    [
        f"/tasks?page={HUGE}",
        f"/tasks/pos-sync?page={HUGE}",
        f"/runs?page={HUGE}",
        f"/audit?page={HUGE}",
        f"/api/v1/runs?page={HUGE}",
        f"/runs?page={'9' * 5000}",
        "/runs?page=-5",
        "/runs?page=%EF%BC%91",  # a full-width digit one
    ],
)
def test_paging_parameters_are_clamped(app: Flask, db: TestDB, path: str) -> None:
    add_run(db.engine, "pos-sync")
    client = app.test_client()
    login(client, "otto")
    assert client.get(path).status_code == 200, path


@pytest.mark.parametrize(
    "path", [f"/runs/{HUGE}0", "/runs/99999999999999999999999/log.txt", "/runs/0/log.json"]
)
def test_ids_in_urls_beyond_the_database_are_404(app: Flask, path: str) -> None:
    client = app.test_client()
    login(client, "otto")
    assert client.get(path).status_code == 404, path
    token = csrf_token(client, "/alerts")
    assert client.post(f"/alerts/{HUGE}0/ack", data={"csrf_token": token}).status_code == 404
