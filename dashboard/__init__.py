"""The staff dashboard: a Flask app (installed as `smartcron.dashboard`).

`create_app()` builds it from smartcron's configuration. Every route needs a logged-in user
except `/healthz`, the login page and the static files; `/api/v1` and `/metrics` also accept an
API token (`Authorization: Bearer ...`, see `smartcron user token`). Every form that changes
state carries a CSRF token (Flask-WTF).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Flask, Response, g, jsonify, redirect, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.engine import Connection, Engine

from smartcron.db.engine import database_problem, make_engine
from smartcron.db.state import SECRET_KEY, get_state, set_state
from smartcron.model import config as config_mod
from smartcron.model.outcome import OUTCOMES
from smartcron.ops import sessions, users

from . import charts, guard

# Reachable without logging in; everything else is checked in `_require_login`.
PUBLIC_ENDPOINTS = frozenset({"static", "auth.login", "api.healthz"})
# These also accept an API token instead of a session.
TOKEN_PREFIXES = ("/api/", "/metrics")

csrf = CSRFProtect()


def engine() -> Engine:
    """Return the app's database engine."""
    value: Engine = _ext()["engine"]
    return value


@contextmanager
def snapshot() -> Iterator[Connection]:
    """Yield a connection whose reads all see one moment of the database, for a page made
    of several statements (counts that add up, a latest run that is in the list).

    MariaDB does this by itself (REPEATABLE READ, from the first read). pysqlite opens no
    transaction for a SELECT, so on SQLite each statement saw the newest data: a run
    committed between two of them was in one count and not the other. A read-only BEGIN
    gives SQLite the same snapshot; the connection's end rolls it back.
    """
    with engine().connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")
        yield conn


def config() -> config_mod.Config:
    value: config_mod.Config = _ext()["config"]
    return value


def trusted_proxies() -> tuple[guard.Network, ...]:
    """Return the networks whose forwarded headers are believed (trusted_proxies)."""
    value: tuple[guard.Network, ...] = _ext()["trusted"]
    return value


def session_timeouts() -> sessions.Timeouts:
    value: sessions.Timeouts = _ext()["timeouts"]
    return value


def _ext() -> dict[str, Any]:
    from flask import current_app

    value: dict[str, Any] = current_app.extensions["smartcron"]
    return value


def _secret_key(cfg: config_mod.Config, eng: Engine) -> str:
    """Return the configured secret key, or the one generated once and kept in the database."""
    if cfg.secret_key:
        return cfg.secret_key
    with eng.begin() as conn:
        key = get_state(conn, SECRET_KEY)
        if key is None:
            key = secrets.token_urlsafe(48)
            set_state(conn, SECRET_KEY, key)
    return key


def create_app(
    cfg: config_mod.Config | None = None, overrides: dict[str, Any] | None = None
) -> Flask:
    """Given smartcron's configuration (default: loaded as the CLI does), return the app."""
    cfg = cfg or config_mod.load()
    eng = make_engine(cfg.database_url)
    app = Flask(__name__)
    timeouts = sessions.Timeouts.of(cfg)
    app.extensions["smartcron"] = {
        "config": cfg,
        "engine": eng,
        "trusted": guard.networks(cfg.trusted_proxies),
        "timeouts": timeouts,
    }
    app.config.update(
        SECRET_KEY=_secret_key(cfg, eng),
        SESSION_COOKIE_NAME="smartcron_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=cfg.secure_cookies,
        # The cookie's own lifetime; the server ends the session earlier (ops/sessions.py).
        PERMANENT_SESSION_LIFETIME=timeouts.max_age,
        # The CSRF token lives as long as the session; forms left open for hours still work.
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.config.update(overrides or {})
    csrf.init_app(app)
    app.url_map.converters["id"] = guard.IdConverter

    from . import actions, api, auth, pages

    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(actions.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # token-authenticated and read-only

    app.before_request(_require_login)
    app.after_request(_security_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(sa.exc.SQLAlchemyError, _database_error)
    app.jinja_env.filters["local"] = _local_time
    app.jinja_env.filters["duration"] = charts.human_duration
    app.jinja_env.filters["setting"] = _setting
    app.jinja_env.globals["can"] = lambda role: g.get("user") is not None and g.user.can(role)
    # The run filters offer every outcome explain() can give, from its one list.
    app.jinja_env.globals["outcome_filters"] = [
        ("", "all"),
        ("failures", "all failures"),
        *OUTCOMES.items(),
    ]
    return app


# Sent by app.js when a page refreshes itself: not a page view, for the idle timeout.
REFRESH_HEADER = "X-Smartcron-Refresh"


def _require_login() -> Response | None:
    g.user = None
    if request.endpoint == "static":
        return None  # public, and no database read per stylesheet or script
    token = session.get("sid")
    if isinstance(token, str):
        with engine().connect() as conn:
            g.user = sessions.session_user(
                conn, token, session_timeouts(), activity=REFRESH_HEADER not in request.headers
            )
            conn.commit()
        if g.user is None:
            # Logged out, timed out, password or role changed, user removed: it ends now.
            session.clear()
    if g.user is None and request.path.startswith(TOKEN_PREFIXES):
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            with engine().begin() as conn:
                g.user = users.user_of_token(conn, header[len("Bearer ") :].strip())
    if (
        g.user is not None
        and g.user.must_change_password
        and request.endpoint
        not in (
            *PUBLIC_ENDPOINTS,
            "auth.password",
            "auth.logout",
        )
    ):
        # A one-time password (install.sh's first admin) buys nothing but choosing a new one.
        return redirect(url_for("auth.password"))  # type: ignore[return-value]
    if g.user is not None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.path.startswith(TOKEN_PREFIXES):
        response = jsonify(
            error="login required: send `Authorization: Bearer <token>` "
            "(create one with `smartcron user token NAME`)"
        )
        response.status_code = 401
        return response
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))  # type: ignore[return-value]


def _security_headers(response: Response) -> Response:
    # Only our own scripts and styles: task output can never run as script in the page.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if request.is_secure:
        # Served over TLS (tls_certificate): browsers keep to https for this host a year.
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response


def _database_error(exc: sa.exc.SQLAlchemyError) -> tuple[str, int]:
    return database_problem(exc, str(engine().url)), 503


def _csrf_error(exc: CSRFError) -> tuple[str, int]:
    description = str(exc.description)
    if "referrer" in description.lower():
        # Over HTTPS a form must also come from this site's own pages (Flask-WTF's strict
        # referrer check); scripts should use the JSON API with a token instead.
        why = (
            "the request did not say it came from this site's own page (its Referer header "
            "is missing or names another site). Submit the form from the dashboard in a "
            "browser; scripts use the API with a token (docs/dashboard.md)."
        )
    else:
        why = "the form's security token was missing or stale. Reload the page and try again."
    return f"Refused: {description} {why}", 400


def _local_time(moment: dt.datetime | None, zone: str | None = None) -> str:
    if moment is None:
        return "-"
    tz = ZoneInfo(zone) if zone else None
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def _setting(value: Any, key: str = "") -> str:
    """Show a task field as people write it: the command as a shell line, yes/no, K=V."""
    import shlex

    if value is None or value in ([], {}, ""):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "command" and isinstance(value, list):
        return shlex.join(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}={v}" for k, v in value.items())
    return str(value)
