"""Health checks: is everything that should run, running and recorded?

Each check returns ok, warn or fail with a message that says what to do. The watchdog runs
them every minute, stores them in `health_checks` and raises "late" and "long-run" alerts;
`smartcron health` runs them on demand. The score is 100 minus 25 per failing and 10 per
warning check, never below 0.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url

from smartcron.db.alerts import undelivered
from smartcron.db.health import SCORE_CHECK
from smartcron.db.schema import executions, health_checks, utcnow
from smartcron.db.schema import tasks as tasks_table
from smartcron.db.tasks import list_tasks
from smartcron.errors import OperationFailed
from smartcron.model import schedule
from smartcron.model.config import Config
from smartcron.model.task import Task
from smartcron.systemd import units
from smartcron.systemd.bus import NEVER, Systemd
from smartcron.systemd.journal import SYSTEM_JOURNALS, Journal

LATE_GRACE = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, warn, fail
    message: str
    value: float | None = None
    fix: str = ""  # what to do about it, when it is not ok


WATCHDOG = "smartcron-watchdog.service"
REPORT_AGE = dt.timedelta(minutes=3)  # the watchdog stores health checks every minute
# Without these nothing is recorded or announced: a failing one caps the score.
CRITICAL = {"watchdog": 20, "database": 20, "alert-delivery": 50}


def score(checks: Sequence[Check]) -> int:
    """Return the 0-100 health score of a set of checks: 100 minus 25 per failing and 10 per
    warning check, and at most 20 while the watchdog or the database fail (nothing is being
    recorded), at most 50 while messages cannot be delivered."""
    penalty = sum(25 if c.status == "fail" else 10 if c.status == "warn" else 0 for c in checks)
    caps = [CRITICAL[c.name] for c in checks if c.status == "fail" and c.name in CRITICAL]
    return max(0, min([100 - penalty, *caps]))


def check_watchdog(systemd: Systemd, engine: Engine, now: dt.datetime) -> Check:
    """The watchdog runs and has stored a round of health checks within three minutes."""
    state = systemd.properties(WATCHDOG, "ActiveState", "LoadState", "StatusText")
    if state.get("ActiveState") != "active":
        return Check(
            "watchdog",
            "fail",
            f"{WATCHDOG} is {state.get('LoadState')}/{state.get('ActiveState')}: runs are "
            "not being recorded and alerts are not sent",
            fix=f"systemctl enable --now {WATCHDOG}; journalctl -u {WATCHDOG} says why it stopped",
        )
    with engine.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(health_checks.c.checked_at))).scalar()
    if last is None or now - last.replace(tzinfo=dt.UTC) > REPORT_AGE:
        when = "never" if last is None else f"last at {last:%Y-%m-%d %H:%M:%S} UTC"
        return Check(
            "watchdog",
            "fail",
            f"{WATCHDOG} runs but has not reported health checks recently ({when}): it may be "
            "stuck, or unable to reach the database",
            fix=f"journalctl -u {WATCHDOG}; systemctl restart {WATCHDOG}",
        )
    return Check("watchdog", "ok", f"active; {state.get('StatusText') or 'reporting'}")


def check_delivery(engine: Engine, now: dt.datetime) -> Check:
    """Every message reached a channel: one that could not go anywhere fails this check."""
    with engine.connect() as conn:
        stuck = undelivered(conn, now - dt.timedelta(days=1))
    if not stuck:
        return Check("alert-delivery", "ok", "every message was delivered", 0)
    shown = "; ".join(
        f"{m.title!r}{f' ({m.task_name})' if m.task_name else ''}: {m.last_error}"
        for m in stuck[:3]
    )
    return Check(
        "alert-delivery",
        "fail",
        f"{len(stuck)} message(s) could not be delivered: {shown}",
        len(stuck),
        fix="fix the channel (smartcron alerts test NAME); smartcron retries each message",
    )


def late_runs(
    task: Task,
    last_start: dt.datetime | None,
    now: dt.datetime,
    grace: dt.timedelta = LATE_GRACE,
    since: dt.datetime | None = None,
) -> dt.datetime | None:
    """Given a task and its latest recorded start, return the expected start that is missing.

    The most recent time the schedule asked for (at least `grace` ago) must be followed by a
    recorded start; this also catches elapses systemd skipped because the previous run was
    still going. Returns None when nothing is late (or the task runs at boot only).
    """
    if task.paused or not task.schedule or schedule.kind_of(task.schedule) == "reboot":
        return None
    expected = schedule.previous_run(task.schedule, task.timezone, now - grace)
    if expected is None:
        return None
    if since is not None and expected < since:
        return None  # due before the task existed in its current form
    if last_start is not None and last_start >= expected - dt.timedelta(seconds=5):
        return None
    return expected


def check_database(engine: Engine) -> Check:
    began = time.perf_counter()
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        return Check(
            "database",
            "fail",
            f"cannot reach the database: {getattr(exc, 'orig', exc)}. "
            "Check that it runs and that database_url is right.",
        )
    ms = (time.perf_counter() - began) * 1000
    status = "ok" if ms < 500 else "warn"
    return Check("database", status, f"reachable in {ms:.0f} ms", ms)


def check_disk(config: Config) -> list[Check]:
    """Free space where smartcron writes: the database, the journal and the backups."""
    import psutil

    paths: dict[str, str] = {}
    url = make_url(config.database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        paths["database"] = str(Path(url.database).parent)
    paths["journal"] = config.journal_directory or next(
        (p for p in SYSTEM_JOURNALS if os.path.isdir(p)), "/"
    )
    paths["backups"] = _existing_parent(config.backup_dir)
    out = []
    for label, path in paths.items():
        if not os.path.exists(path):
            continue
        free = 100.0 - psutil.disk_usage(path).percent
        status = "fail" if free < 5 else "warn" if free < 10 else "ok"
        out.append(
            Check(
                f"disk:{label}",
                status,
                f"{free:.0f}% free on the filesystem of {path}"
                + ("; free some space" if status != "ok" else ""),
                free,
            )
        )
    return out


def check_memory() -> Check:
    """Available memory: a host short of it is where the OOM killer picks tasks."""
    import psutil

    memory = psutil.virtual_memory()
    free = memory.available / memory.total * 100
    status = "fail" if free < 5 else "warn" if free < 10 else "ok"
    advice = "; find what uses it (`systemd-cgtop`, `top`)" if status != "ok" else ""
    return Check("memory", status, f"{free:.0f}% of memory available{advice}", free)


def check_load() -> Check:
    """The 15-minute load average per CPU: above 2, jobs start to run late and slow."""
    import psutil

    per_cpu = psutil.getloadavg()[2] / (psutil.cpu_count() or 1)
    status = "warn" if per_cpu > 2 else "ok"
    advice = "; tasks may run late" if status != "ok" else ""
    return Check("load", status, f"load {per_cpu:.2f} per CPU (15 min){advice}", per_cpu)


def _existing_parent(path: str) -> str:
    """Return `path`, or its nearest existing parent (backups may not have been made yet)."""
    current = Path(path)
    while not current.exists() and current != current.parent:
        current = current.parent
    return str(current)


def check_journal(config: Config) -> Check:
    """The journal can be read, and how much room it takes."""
    journal = Journal(config.journal_directory)
    try:
        used = journal.disk_usage()
    except OSError as exc:
        return Check("journal", "warn", f"the journal cannot be opened: {exc}")
    if journal.problem:
        return Check("journal", "warn", f"the journal cannot be read: {journal.problem}")
    return Check("journal", "ok", f"journal files take {format_size_short(used)}", used)


def format_size_short(size: int) -> str:
    """Return 12.3M for 12,900,000 bytes: a size for people, rounded."""
    for unit, factor in (("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if size >= factor:
            return f"{size / factor:.1f}{unit}"
    return f"{size}B"


def check_timers(tasks: Sequence[Task], systemd: Systemd) -> list[Check]:
    """Every active task's timer is loaded, active and next elapses when its schedule says."""
    states = systemd.list_units(f"{units.PREFIX}*.timer")
    out = []
    now = utcnow()
    for task in tasks:
        if task.paused or not task.schedule:  # a chained task without a schedule: no timer
            continue
        timer = units.timer_name(task.name)
        load, active, _ = states.get(timer, ("not-found", "inactive", "dead"))
        if load != "loaded" or active != "active":
            out.append(
                Check(
                    f"timer:{task.name}",
                    "fail",
                    f"{timer} is {load}/{active}; run "
                    "`smartcron sync` (and `smartcron sync --check` to see why)",
                )
            )
            continue
        nxt = systemd.properties(timer, "NextElapseUSecRealtime").get("NextElapseUSecRealtime")
        upcoming = schedule.next_runs(task.schedule, task.timezone, now, 1)
        if upcoming and nxt not in (None, 0, NEVER):
            expected = upcoming[0]
            actual = dt.datetime.fromtimestamp(int(nxt) / 1e6, tz=dt.UTC)
            if abs((actual - expected).total_seconds()) > 2:
                out.append(
                    Check(
                        f"timer:{task.name}",
                        "warn",
                        f"{timer} next elapses at "
                        f"{actual:%Y-%m-%d %H:%M:%S} UTC but the schedule says "
                        f"{expected.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC (DST?)",
                    )
                )
                continue
        out.append(Check(f"timer:{task.name}", "ok", "loaded, active, next elapse as scheduled"))
    return out


def _installed_at(unit_dir: Path | None, task: str) -> dt.datetime | None:
    """When sync last wrote the task's timer: a run due before that could not have started."""
    try:
        mtime = (unit_dir / units.timer_name(task)).stat().st_mtime if unit_dir else None
    except OSError:
        return None
    return None if mtime is None else dt.datetime.fromtimestamp(mtime, dt.UTC)


def check_runs(
    engine: Engine, tasks: Sequence[Task], now: dt.datetime, unit_dir: Path | None = None
) -> list[Check]:
    """Late or missed runs, and runs going on longer than the task's warn_after."""
    out = []
    with engine.connect() as conn:
        starts = dict(
            conn.execute(
                sa.select(executions.c.task_name, sa.func.max(executions.c.started_at)).group_by(
                    executions.c.task_name
                )
            ).all()
        )
        running = conn.execute(
            sa.select(executions.c.task_name, executions.c.started_at).where(
                executions.c.outcome == "running"
            )
        ).all()
        # Runs are only expected from the moment the task took its current form.
        changed: dict[str, dt.datetime] = dict(
            conn.execute(sa.select(tasks_table.c.name, tasks_table.c.updated_at)).all()
        )
    for task in tasks:
        last = starts.get(task.name)
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=dt.UTC)
        since = [t for t in (changed.get(task.name), _installed_at(unit_dir, task.name)) if t]
        since = [t if t.tzinfo else t.replace(tzinfo=dt.UTC) for t in since]
        missing = late_runs(task, last, now, since=max(since) if since else None)
        if missing is not None:
            out.append(
                Check(
                    f"late:{task.name}",
                    "fail",
                    f"the run due at {missing.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC has "
                    "not started (timer stopped, previous run still going, or the "
                    "watchdog was down); see `smartcron status`",
                )
            )
    limits = {t.name: t.warn_after for t in tasks if t.warn_after}
    for name, started in running:
        limit = limits.get(name)
        if limit and started and now - started > dt.timedelta(seconds=limit):
            minutes = (now - started).total_seconds() / 60
            out.append(
                Check(
                    f"long-run:{name}",
                    "warn",
                    f"running for {minutes:.0f} min, longer than its warn_after",
                )
            )
    return out


def check_failed_units(systemd: Systemd) -> Check:
    failed = [
        n for n, (_l, a, _s) in systemd.list_units(f"{units.PREFIX}*").items() if a == "failed"
    ]
    if failed:
        return Check(
            "failed-units",
            "warn",
            f"{len(failed)} smartcron unit(s) failed: "
            f"{', '.join(sorted(failed)[:5])}; `smartcron runs --failed` says why",
            len(failed),
        )
    return Check("failed-units", "ok", "no failed smartcron units", 0)


def check_clock() -> Check:
    if Path("/run/systemd/timesync/synchronized").exists():
        return Check("clock", "ok", "synchronised (systemd-timesyncd)")
    try:
        proc = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        # timedatectl missing, or timedated too slow on a loaded host: the check says so
        # (it stopped the watchdog, which runs the checks).
        return Check("clock", "warn", f"could not ask timedatectl whether the clock is "
                     f"synchronised ({exc}); check `timedatectl` by hand")  # fmt: skip
    if proc.stdout.strip() == "yes":
        return Check("clock", "ok", "synchronised")
    return Check(
        "clock",
        "warn",
        "the clock is not known to be synchronised: schedules and "
        "timestamps may drift; enable NTP (timedatectl set-ntp true)",
    )


def run_checks(config: Config, engine: Engine, *, backlog: int | None = None) -> list[Check]:
    """Run every check that can run now; a check that cannot run says so."""
    checks = [check_database(engine)]
    now = utcnow()
    checks += check_disk(config)
    checks += [check_memory(), check_load()]
    checks.append(check_journal(config))
    tasks: list[Task] = []
    if checks[0].status != "fail":
        with engine.connect() as conn:
            tasks = list_tasks(conn)
        checks += check_runs(engine, tasks, now, Path(config.unit_dir))
        checks.append(check_delivery(engine, now))
    try:
        with Systemd() as systemd:
            if backlog is None and checks[0].status != "fail":
                # Asked from outside the watchdog (`smartcron health`): is it there?
                checks.append(check_watchdog(systemd, engine, now))
            checks += check_timers(tasks, systemd)
            checks.append(check_failed_units(systemd))
    except OperationFailed as exc:
        checks.append(Check("systemd", "fail", str(exc)))
    checks.append(check_clock())
    if backlog is not None:
        status = "ok" if backlog < 100 else "warn"
        checks.append(
            Check("collector", status, f"{backlog} run event(s) waiting to be written", backlog)
        )
    return checks


def stored_rows(checks: Sequence[Check]) -> list[Check]:
    """Return the checks worth keeping in history: all system checks, and per-task checks
    (timer:NAME, late:NAME, ...) only when they are not ok, summed up in one "tasks" row.

    Storing an "ok" row per task every minute would be most of the table and say nothing.
    """
    kept = [c for c in checks if ":" not in c.name or c.status != "ok"]
    quiet = sum(1 for c in checks if ":" in c.name and c.status == "ok")
    if quiet:
        kept.append(Check("tasks", "ok", f"{quiet} per-task check(s) ok", quiet))
    return kept


def store_checks(engine: Engine, checks: Sequence[Check]) -> None:
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            health_checks.insert(),
            [
                {
                    "checked_at": now,
                    "check_name": c.name[:64],
                    "status": c.status,
                    "value": c.value,
                    "message": c.message,
                }
                for c in stored_rows(checks)
            ]
            + [
                {
                    "checked_at": now,
                    "check_name": SCORE_CHECK,
                    "status": "ok",
                    "value": score(checks),
                    "message": f"health score {score(checks)}",
                }
            ],
        )


def as_json(checks: Sequence[Check]) -> dict[str, object]:
    return {"score": score(checks), "checks": [asdict(c) for c in checks]}
