"""JSON API under /api/v1 (tasks, runs, alerts, health), Prometheus /metrics and /healthz.

/api/v1 and /metrics accept a logged-in session or `Authorization: Bearer <token>`
(`smartcron user token NAME`); /healthz answers anyone, and says only whether the dashboard and
its database work.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, jsonify, request

from smartcron.db import alerts as alert_queries
from smartcron.db import health as health_queries
from smartcron.db import runs as run_queries
from smartcron.db.records import alert_dict, run_dict
from smartcron.db.tasks import find_task
from smartcron.model.task import hide_secrets

from . import engine, queries, snapshot
from . import metrics as metrics_text
from .exposition import CONTENT_TYPE
from .guard import env_visible, page_number

bp = Blueprint("api", __name__)


def _task_json(task: Any, last: Any, now: dt.datetime, visible: bool) -> dict[str, Any]:
    """Given a task, its latest run and whether its environment may be shown, return the task
    as the API gives it (the task's plain form is computed once per task, not per request)."""
    when = queries.next_run(task, now)
    return {
        **(task.plain() if visible else hide_secrets(task.plain())),
        "next_run": when.isoformat() if when else None,
        "last_run": run_dict(last) if last is not None else None,
    }


@bp.route("/api/v1/tasks")
def tasks() -> Response:
    now = dt.datetime.now(dt.UTC)
    with snapshot() as conn:
        found = queries.all_tasks(conn)
        last = run_queries.last_runs(conn, [t.name for t in found])
    visible = env_visible()
    return jsonify([_task_json(t, last.get(t.name), now, visible) for t in found])


@bp.route("/api/v1/tasks/<name>")
def task(name: str) -> Response:
    with snapshot() as conn:
        found = find_task(conn, name)
        if found is None:
            abort(404)
        last = run_queries.last_runs(conn, [name])
    return jsonify(_task_json(found, last.get(name), dt.datetime.now(dt.UTC), env_visible()))


@bp.route("/api/v1/runs")
def runs() -> Response:
    page = page_number(request.args.get("page"))
    with snapshot() as conn:
        rows, more = run_queries.task_runs(
            conn, request.args.get("task") or None, request.args.get("outcome") or None, page
        )
    return jsonify(runs=[run_dict(r) for r in rows], page=page, more=more)


@bp.route("/api/v1/alerts")
def alerts() -> Response:
    states = request.args.get("state", "open,notified,acknowledged").split(",")
    with snapshot() as conn:
        rows = alert_queries.alert_rows(conn, states)
    return jsonify([alert_dict(r) for r in rows])


@bp.route("/api/v1/health")
def health() -> Response:
    with snapshot() as conn:
        checked_at, checks = health_queries.latest_health(conn)
    listed = [c for c in checks if c.check_name != "score"]
    return jsonify(
        checked_at=checked_at.isoformat() if checked_at else None,
        score=next(
            (int(c.value) for c in checks if c.check_name == "score" and c.value is not None), None
        ),
        checks=[
            {"name": c.check_name, "status": c.status, "value": c.value, "message": c.message}
            for c in listed
        ],
    )


@bp.route("/metrics")
def metrics() -> Response:
    """Prometheus text format, from metrics.py (read at scrape time)."""
    return Response(metrics_text.text(engine()), content_type=CONTENT_TYPE)


@bp.route("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        with snapshot() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200
