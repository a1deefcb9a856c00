"""Log in and out. Failures are throttled per account (in the database, see users.py) and per
client address (here, per worker), and every login and failure goes into the audit log.
Sessions live on the server (ops/sessions.py): logging out, or changing one's password, ends
them there, not only in this browser."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from smartcron.db.audit import audit
from smartcron.ops import users
from smartcron.ops.sessions import end_session, prune_sessions, start_session

from . import engine, guard, session_timeouts, trusted_proxies

bp = Blueprint("auth", __name__)

ADDRESS_LIMIT = 20  # failures per address ...
ADDRESS_WINDOW = 900.0  # ... within 15 minutes
_failures: defaultdict[str, deque[float]] = defaultdict(deque)
_lock = threading.Lock()


def _address_blocked(address: str, now: float) -> bool:
    with _lock:
        recent = _failures.get(address)
        if recent is None:
            return False
        while recent and now - recent[0] > ADDRESS_WINDOW:
            recent.popleft()
        if not recent:
            del _failures[address]  # keep only addresses with recent failures in memory
            return False
        return len(recent) >= ADDRESS_LIMIT


def _recent_failures(address: str, now: float) -> bool:
    """Return True if this address failed a login within the window (in this worker)."""
    with _lock:
        recent = _failures.get(address)
        return recent is not None and bool(recent) and now - recent[-1] <= ADDRESS_WINDOW


def _note_failure(address: str, now: float) -> None:
    with _lock:
        _failures[address].append(now)


def client_address() -> str:
    """Return the client's address: the connection's, or, from one of the trusted_proxies,
    the address that proxy forwards (guard.client_address)."""
    return guard.client_address(
        request.remote_addr, request.headers.get("X-Forwarded-For", ""), trusted_proxies()
    )


def _log_in(user_id: int) -> None:
    """Give this browser a fresh session of `user_id`, recorded on the server."""
    with engine().begin() as conn:
        prune_sessions(conn, session_timeouts())
        token = start_session(conn, user_id)
    session.clear()  # a fresh session: nothing from before the login survives
    session["sid"] = token
    session.permanent = True


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    error = ""
    if request.method == "POST":
        address = client_address()
        now = time.monotonic()
        username = request.form.get("username", "").strip()
        if _address_blocked(address, now):
            error = "Too many failed logins from this address; wait 15 minutes and try again."
        else:
            with engine().begin() as conn:
                user, error = users.authenticate(
                    conn,
                    username,
                    request.form.get("password", ""),
                    clean_client=not _recent_failures(address, now),
                )
            if user is not None:
                _log_in(user.id)
                target = guard.safe_next(request.args.get("next"), url_for("pages.overview"))
                return redirect(target)  # type: ignore[return-value]
            _note_failure(address, now)
    return render_template("login.html", error=error)


@bp.route("/account/password", methods=["GET", "POST"])
def password() -> str | Response:
    """Change one's own password; the only page a user with a one-time password may use."""
    error = ""
    if request.method == "POST":
        with engine().begin() as conn:
            error = users.change_own_password(
                conn,
                g.user,
                request.form.get("current", ""),
                request.form.get("new", ""),
                request.form.get("confirm", ""),
            )
        if not error:
            # Every session of the user ended with the old password; this browser gets a new one.
            _log_in(g.user.id)
            flash("Your password is changed; your other sessions have ended.", "ok")
            return redirect(url_for("pages.overview"))  # type: ignore[return-value]
    return render_template("password.html", error=error, forced=g.user.must_change_password)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    token = session.get("sid")
    with engine().begin() as conn:
        if isinstance(token, str):
            end_session(conn, token)  # a copy of the cookie is worth nothing from now on
        if g.user is not None:
            audit(conn, g.user.username, "logout", g.user.username)
    session.clear()
    return redirect(url_for("auth.login"))  # type: ignore[return-value]
