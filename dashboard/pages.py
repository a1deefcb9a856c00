"""The pages staff read: overview, tasks, task detail, runs, run detail with its log, alerts,
health and the audit log. Everything from task output or configuration is escaped by Jinja."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, render_template, request
from sqlalchemy.engine import Connection

from smartcron.db import alerts as alert_queries
from smartcron.db import audit as audit_queries
from smartcron.db import health as health_queries
from smartcron.db import runs as run_queries
from smartcron.db.hosts import known_hosts, list_hosts
from smartcron.db.tasks import find_task
from smartcron.db.windows import list_windows
from smartcron.model import chains, schedule
from smartcron.model.outcome import FAILURE_OUTCOMES
from smartcron.model.quantities import parse_duration
from smartcron.model.task import Task, hide_secrets
from smartcron.model.windows import active_words
from smartcron.ops.health import score
from smartcron.ops.runlog import RunLog, last_error_line
from smartcron.ops.runlog import run_log as read_run_log
from smartcron.systemd.journal import Journal

from . import charts, config, graph, queries, snapshot
from .guard import env_visible, page_number

bp = Blueprint("pages", __name__)
TASKS_PAGE = 100
ALERT_STATES = {
    "open": ("open", "notified"),
    "acknowledged": ("acknowledged",),
    "resolved": ("resolved",),
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _page() -> int:
    return page_number(request.args.get("page"))


def _state_of(task: Task, last: Any) -> str:
    if task.paused:
        return "paused"
    if last is not None and last.outcome == "running":
        return "running"
    if last is not None and last.outcome in FAILURE_OUTCOMES:
        return "failing"
    return "ok"


def _describe(task: Task) -> str:
    return queries.cached(
        f"describe:{task.schedule}", 3600, lambda: schedule.describe(task.schedule)
    )


def _status(conn: Connection, now: dt.datetime) -> dict[str, Any]:
    """What both the overview and /status.json show: task states, failing tasks, health."""
    tasks = queries.all_tasks(conn)
    # The state of every task needs only its latest run's outcome; the failing ones are shown
    # with their meaning, so only they are read whole.
    last = run_queries.last_runs(conn, [t.name for t in tasks], brief=True)
    checked_at, checks = health_queries.latest_health(conn)
    states: dict[str, int] = {"ok": 0, "running": 0, "failing": 0, "paused": 0}
    failing_tasks = []
    for task in tasks:
        state = _state_of(task, last.get(task.name))
        states[state] += 1
        if state == "failing":
            failing_tasks.append(task)
    whole = run_queries.last_runs(conn, [t.name for t in failing_tasks])
    failing = [(t, whole[t.name]) for t in failing_tasks if t.name in whole]
    score_row = next((c for c in checks if c.check_name == "score"), None)
    return {
        "now": now,
        "tasks": tasks,
        "states": states,
        "failing": failing,
        "checked_at": checked_at,
        "problems": [c for c in checks if c.status != "ok"],
        "score": None if score_row is None or score_row.value is None else int(score_row.value),
    }


@bp.route("/")
def overview() -> str:
    now = _now()
    with snapshot() as conn:
        data = _status(conn, now)
        hours = run_queries.runs_by_hour(conn, now)
        open_alerts = alert_queries.alert_rows(conn, ALERT_STATES["open"], limit=20)
    soon = queries.upcoming(data["tasks"], now, dt.timedelta(hours=1))
    return render_template(
        "overview.html",
        chart=charts.runs_per_hour(hours),
        upcoming=soon[:50],
        open_alerts=open_alerts,
        **data,
    )


@bp.route("/status.json")
def status() -> Response:
    """What every page refreshes every 5 s: counts, score, failing tasks, open alerts.

    Only what the badge and counters need: no chart, no alert rows (this runs per open tab).
    """
    with snapshot() as conn:
        data = _status(conn, _now())
        open_alerts = alert_queries.count_alerts(conn, ALERT_STATES["open"])
    return jsonify(
        states=data["states"],
        score=data["score"],
        open_alerts=open_alerts,
        failing=[t.name for t, _run in data["failing"]],
        at=data["now"].isoformat(),
    )


@bp.route("/tasks")
def tasks() -> str:
    now = _now()
    category = request.args.get("category", "")
    state = request.args.get("state", "")
    text = request.args.get("q", "").strip().lower()
    sort = request.args.get("sort", "name")
    with snapshot() as conn:
        everything = queries.all_tasks(conn)
        chosen = [
            t
            for t in everything
            if (not category or t.category == category)
            and (not text or text in t.name.lower() or text in t.description.lower())
        ]
        # Filtering by state and sorting by state or last run need every chosen task's latest
        # outcome and start; otherwise only the 100 shown need them, read whole below.
        if state or sort in ("state", "last"):
            last = run_queries.last_runs(conn, [t.name for t in chosen], brief=True)
        else:
            last = {}
        rows = [(t, last.get(t.name), _state_of(t, last.get(t.name))) for t in chosen]
        if state:
            rows = [r for r in rows if r[2] == state]
        if sort == "category":
            rows.sort(key=lambda r: (r[0].category, r[0].name))
        elif sort == "state":
            rows.sort(key=lambda r: (r[2], r[0].name))
        elif sort == "last":
            rows.sort(key=lambda r: (r[1] is None, -(r[1].started_at.timestamp() if r[1] else 0)))
        page = _page()
        shown = rows[(page - 1) * TASKS_PAGE : page * TASKS_PAGE]
        names = [t.name for t, _l, _s in shown]
        stats = run_queries.week_stats(conn, names, now)
        whole = run_queries.last_runs(conn, names)
    return render_template(
        "tasks.html",
        rows=[
            (
                t,
                whole.get(t.name),
                _state_of(t, whole.get(t.name)),
                stats[t.name],
                queries.next_run(t, now),
                _describe(t),
            )
            for t, _brief, _st in shown
        ],
        categories=sorted({t.category for t in everything}),
        category=category,
        state=state,
        q=request.args.get("q", ""),
        sort=sort,
        page=page,
        more=len(rows) > page * TASKS_PAGE,
        total=len(rows),
    )


@bp.route("/tasks/<name>")
def task(name: str) -> str:
    outcome = request.args.get("outcome", "")
    with snapshot() as conn:
        found = find_task(conn, name)
        if found is None:
            abort(404, f"No task named {name!r}.")
        runs, more = run_queries.task_runs(conn, name, outcome or None, _page())
        recent = run_queries.recent_durations(conn, name)
        stats = run_queries.week_stats(conn, [name], _now())[name]
        everyone = queries.all_tasks(conn)
        chain = chains.chain_of(name, everyone) if chains.describe(name, everyone) else []
        group = next((g for g in graph.components(everyone) if any(t.name == name for t in g)), [])
        windows = active_words(list_windows(conn), found, _now())
    shown = env_visible()
    return render_template(
        "task.html",
        task=found,
        config=found.to_dict() if shown else hide_secrets(found.to_dict()),
        env_shown=shown,
        describe=_describe(found),
        next_run=queries.next_run(found, _now()),
        runs=runs,
        more=more,
        page=_page(),
        outcome=outcome,
        chart=charts.durations(recent),
        stats=stats,
        chain=chain,
        chain_graph=graph.draw(group, here=name) if group else None,
        windows=windows,
    )


@bp.route("/runs")
def runs() -> str:
    outcome = request.args.get("outcome", "")
    host = request.args.get("host", "")
    with snapshot() as conn:
        rows, more = run_queries.task_runs(conn, None, outcome or None, _page(), host or None)
        names = known_hosts(conn)
    return render_template(
        "runs.html",
        runs=rows,
        more=more,
        page=_page(),
        outcome=outcome,
        host=host,
        hosts=names,
        args={k: v for k, v in (("outcome", outcome), ("host", host)) if v},
    )


@bp.route("/chains")
def chains_page() -> str:
    """Every chain and join as a graph: which task runs after which."""
    with snapshot() as conn:
        groups = graph.components(queries.all_tasks(conn))
    return render_template("chains.html", graphs=[(g, graph.draw(g)) for g in groups])


@bp.route("/hosts")
def hosts() -> str:
    """Every host sharing the database: up or down, version, tasks and runs (#15)."""
    moment = _now()
    with snapshot() as conn:
        rows = list_hosts(conn, queries.all_tasks(conn), moment)
    down_after = parse_duration("host_down_after", config().host_down_after, minimum=1)
    return render_template(
        "hosts.html",
        rows=[(r, r.state(moment, down_after), r.age(moment)) for r in rows],
        this_host=config().host_name,
        down_after=down_after,
    )


def _run_row(run_id: int) -> Any:
    with snapshot() as conn:
        row = run_queries.get_run(conn, run_id)
    if row is None:
        abort(404, f"No run {run_id}.")
    return row


def _log(row: Any) -> RunLog:
    """The run's log, as `smartcron logs` shows it (journal, systemd's words, stored tail)."""
    return read_run_log(Journal(config().journal_directory), row)


@bp.route("/runs/<id:run_id>")
def run(run_id: int) -> str:
    row = _run_row(run_id)
    log = _log(row)
    failed = row.outcome in FAILURE_OUTCOMES
    return render_template(
        "run.html",
        run=row,
        log=log.text,
        note=log.note,
        lines=log.text.count("\n"),
        last_error=last_error_line(log.text) if failed else None,
    )


@bp.route("/runs/<id:run_id>/log.txt")
def run_log(run_id: int) -> Response:
    row = _run_row(run_id)
    return Response(
        _log(row).text,
        mimetype="text/plain",
        headers={"Content-Disposition": f'attachment; filename="{row.task_name}-run-{row.id}.log"'},
    )


@bp.route("/runs/<id:run_id>/log.json")
def run_log_json(run_id: int) -> Response:
    """The log of a run so far, and its state: the run page polls it while the run goes on."""
    row = _run_row(run_id)
    log = _log(row)
    return jsonify(
        outcome=row.outcome,
        meaning=row.meaning,
        log=log.text,
        note=log.note,
        running=row.outcome == "running",
    )


@bp.route("/alerts")
def alerts() -> str:
    with snapshot() as conn:
        groups = {
            state: alert_queries.alert_rows(conn, values) for state, values in ALERT_STATES.items()
        }
        ids = [a.id for rows in groups.values() for a in rows]
        sent = alert_queries.deliveries(conn, ids)
        stuck = alert_queries.undelivered(conn, _now() - dt.timedelta(days=1))
    return render_template(
        "alerts.html",
        groups=groups,
        delivery={i: alert_queries.delivery_words(row) for i, row in sent.items()},
        failed_delivery={i for i, row in sent.items() if row.state != "sent" and row.attempts},
        stuck=[m for m in stuck if m.alert_id is None],
        stuck_words=alert_queries.delivery_words,
    )


@bp.route("/health")
def health() -> str:
    with snapshot() as conn:
        checked_at, checks = health_queries.latest_health(conn)
        history = {
            c.check_name: health_queries.health_history(conn, c.check_name, 30)
            for c in checks
            if c.status != "ok" or c.check_name == "score"
        }
    return render_template(
        "health.html", checked_at=checked_at, checks=checks, history=history, score_of=score
    )


@bp.route("/audit")
def audit() -> str:
    if not g.user.can("operator"):
        abort(403, "The audit log is for operators and administrators.")
    with snapshot() as conn:
        rows, more = audit_queries.audit_rows(conn, _page())
    return render_template("audit.html", rows=rows, more=more, page=_page())
