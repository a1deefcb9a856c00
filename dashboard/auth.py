"""Log in and out. Failures are throttled per account (in the database, see users.py) and per
client address (here, per worker), and every login and failure goes into the audit log."""

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

from . import engine

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


def _note_failure(address: str, now: float) -> None:
    with _lock:
        _failures[address].append(now)


LOCAL_PROXIES = ("127.0.0.1", "::1")


def client_address() -> str:
    """Return the client's address; behind a reverse proxy on this host, the one it forwards.

    Only a proxy on the host itself is believed (the last X-Forwarded-For entry is the one it
    added); from anywhere else the header could be forged.
    """
    address = request.remote_addr or "?"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if address in LOCAL_PROXIES and forwarded:
        return forwarded.split(",")[-1].strip() or address
    return address


def _safe_next(target: str | None) -> str:
    # Only local paths: never redirect a user to another site after login.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("pages.overview")


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
                user, error = users.authenticate(conn, username, request.form.get("password", ""))
            if user is not None:
                session.clear()  # a fresh session: nothing from before the login survives
                session["user_id"] = user.id
                session.permanent = True
                return redirect(_safe_next(request.args.get("next")))  # type: ignore[return-value]
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
            flash("Your password is changed.", "ok")
            return redirect(url_for("pages.overview"))  # type: ignore[return-value]
    return render_template("password.html", error=error, forced=g.user.must_change_password)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    if g.user is not None:
        with engine().begin() as conn:
            audit(conn, g.user.username, "logout", g.user.username)
    session.clear()
    return redirect(url_for("auth.login"))  # type: ignore[return-value]
