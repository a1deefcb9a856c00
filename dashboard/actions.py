"""State-changing actions (POST only, CSRF-checked, operator role or higher, audited):
run now, pause, resume, acknowledge and resolve alerts."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, abort, flash, g, redirect, request, url_for

from smartcron.alerting.engine import set_alert_state
from smartcron.errors import SmartcronError
from smartcron.ops import control

from . import config, engine, guard

bp = Blueprint("actions", __name__)
F = TypeVar("F", bound=Callable[..., Any])


def operator_only(view: F) -> F:
    """Refuse (403) the action unless the user is an operator or admin."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not g.user.can("operator"):
            abort(
                403, "Viewers cannot change anything; ask an administrator for the operator role."
            )
        return view(*args, **kwargs)

    return cast(F, wrapped)


def _back(default: str) -> Response:
    return redirect(guard.safe_next(request.form.get("next"), default))  # type: ignore[return-value]


def _attempt(action: Callable[[], str]) -> None:
    try:
        flash(action(), "ok")
    except SmartcronError as exc:
        flash(f"Could not do it: {exc}", "error")


@bp.route("/tasks/<name>/run", methods=["POST"])
@operator_only
def run_now(name: str) -> Response:
    def act() -> str:
        started, message = control.run_now(engine(), name, g.user.username)
        return message + (" Its run appears below within seconds." if started else "")

    _attempt(act)
    return _back(url_for("pages.task", name=name))


@bp.route("/tasks/<name>/<any(pause, resume):change>", methods=["POST"])
@operator_only
def pause_or_resume(name: str, change: str) -> Response:
    paused = change == "pause"

    def act() -> str:
        control.set_paused(config(), engine(), name, paused, g.user.username)
        if paused:
            return f"Task '{name}' is paused: its timer will not fire until it is resumed."
        return f"Task '{name}' is active again: its timer is running."

    _attempt(act)
    return _back(url_for("pages.task", name=name))


@bp.route("/alerts/<id:alert_id>/<any(ack, resolve):verb>", methods=["POST"])
@operator_only
def alert_state(alert_id: int, verb: str) -> Response:
    state = "acknowledged" if verb == "ack" else "resolved"

    def act() -> str:
        set_alert_state(engine(), alert_id, state, g.user.username)
        return f"Alert {alert_id} {state}."

    _attempt(act)
    return _back(url_for("pages.alerts"))
