"""Database tables (SQLAlchemy Core). Alembic migrations in sql/migrations create them.

Timestamps are stored as UTC with microseconds (DATETIME(6) on MySQL/MariaDB) and always come
back timezone-aware.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """An aware datetime stored as naive UTC with microsecond precision."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "mysql":
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class JSONText(sa.types.TypeDecorator[Any]):
    """JSON kept as text, so SQLite and MySQL store byte-identical values."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


def utcnow() -> dt.datetime:
    """Return the current time as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# MariaDB before 11.6 defaults to latin1: task commands and output are UTF-8.
TABLE_OPTS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("description", sa.String(200), nullable=False, server_default=""),
    sa.Column("command", JSONText, nullable=False),
    sa.Column("schedule", sa.String(255), nullable=False),
    # NULL in rows written before chains existed: no predecessor (FieldSpec.loaded).
    sa.Column("after_tasks", JSONText, nullable=True),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("timeout_s", sa.Integer, nullable=False),
    sa.Column("retries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("retry_delay_s", sa.Integer, nullable=False, server_default="30"),
    sa.Column("retry_backoff", sa.Double, nullable=False, server_default="1"),
    sa.Column("retry_max_delay_s", sa.Integer, nullable=True),
    sa.Column("memory_max", sa.BigInteger, nullable=True),
    sa.Column("cpu_quota", sa.Integer, nullable=True),
    sa.Column("nice", sa.Integer, nullable=True),
    sa.Column("run_user", sa.String(32), nullable=False),
    sa.Column("run_group", sa.String(32), nullable=True),
    sa.Column("workdir", sa.String(4096), nullable=True),
    sa.Column("env", JSONText, nullable=False),
    sa.Column("stdin", sa.Text, nullable=True),
    sa.Column("category", sa.String(64), nullable=False, server_default="general"),
    sa.Column("priority", sa.String(16), nullable=False, server_default="normal"),
    sa.Column("alert_on", JSONText, nullable=False),
    sa.Column("alert_after", sa.Integer, nullable=False, server_default="1"),
    sa.Column("warn_after_s", sa.Integer, nullable=True),
    sa.Column("channels", JSONText, nullable=False),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("catch_up", sa.Boolean, nullable=False, server_default=sa.true()),
    # Where it runs (model/placement.py, docs/multi-host.md).
    sa.Column("hosts", JSONText, nullable=False, server_default='["*"]'),
    sa.Column("placement", sa.String(8), nullable=False, server_default="each"),
    sa.Column("if_db_down", sa.String(8), nullable=False, server_default="run"),
    # The concurrency group (model/groups.py, docs/groups.md); NULL: none.
    sa.Column("concurrency_group", sa.String(64), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # The signed definition (model/signing.py): root's sync installs nothing else.
    sa.Column("revision", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("signature", sa.String(80), nullable=False, server_default=""),
    **TABLE_OPTS,
)

LATEST_INDEX = "ix_executions_task_started_id_outcome"  # named in a MariaDB index hint

executions = sa.Table(
    "executions",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    # task_id goes NULL when a task is deleted; task_name keeps the history readable.
    sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.id", ondelete="SET NULL"), nullable=True),
    sa.Column("task_name", sa.String(64), nullable=False),
    sa.Column("invocation_id", sa.String(32), nullable=False, unique=True),
    sa.Column("trigger", sa.String(16), nullable=False),  # timer, manual, retry, catch-up, boot
    sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
    sa.Column("started_at", UTCDateTime, nullable=True),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("duration_s", sa.Float, nullable=True),
    sa.Column("result", sa.String(32), nullable=True),  # systemd's Result=
    sa.Column("exit_code", sa.Integer, nullable=True),  # ExecMainStatus when it exited
    sa.Column("exit_signal", sa.String(16), nullable=True),  # signal name when it was killed
    sa.Column("outcome", sa.String(32), nullable=False),  # running, success, failed, timeout, ...
    sa.Column("meaning", sa.Text, nullable=True),
    sa.Column("output_tail", sa.Text, nullable=True),
    # Lines journald dropped from this run's output (its rate limit), when it said so.
    sa.Column("lines_dropped", sa.Integer, nullable=True),
    sa.Column("cpu_usage_nsec", sa.BigInteger, nullable=True),
    sa.Column("memory_peak", sa.BigInteger, nullable=True),
    sa.Column("io_read_bytes", sa.BigInteger, nullable=True),
    sa.Column("io_write_bytes", sa.BigInteger, nullable=True),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    # The host that recorded the run (its host_name setting); NULL for runs from before 0008.
    sa.Column("host", sa.String(64), nullable=True),
    # Seconds the run waited for a slot of its concurrency group before its command started
    # (ops/groups.py); NULL for a task without a group and for runs from before 0010.
    sa.Column("wait_seconds", sa.Float, nullable=True),
    # Not yet evaluated for alerts; the engine that evaluates the run clears it (0015).
    sa.Column("alert_pending", sa.Boolean, nullable=False, server_default=sa.true()),
    # Latest run per task and a task's runs by time. id and outcome are in it so that the
    # latest run passes over skips in the index alone (db/runs.last_runs); id before outcome
    # keeps the index in the order of (started_at, id), the order of every list of runs.
    sa.Index(LATEST_INDEX, "task_name", "started_at", "id", "outcome"),
    # Recent runs across all tasks, failures first.
    sa.Index("ix_executions_started", "started_at"),
    sa.Index("ix_executions_outcome_started", "outcome", "started_at"),
    # Per task: last success, failure totals and 7-day rates without reading every run.
    sa.Index("ix_executions_task_outcome_started", "task_name", "outcome", "started_at"),
    sa.Index("ix_executions_alert_pending", "alert_pending", "id"),
    **TABLE_OPTS,
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_name", sa.String(64), nullable=True),  # NULL for system-wide alerts
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # open, notified, acknowledged, resolved
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("details", sa.Text, nullable=True),
    sa.Column("execution_id", sa.BigInteger, nullable=True),
    sa.Column("failure_count", sa.Integer, nullable=False, server_default="1"),
    sa.Column("notify_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("last_notified_at", UTCDateTime, nullable=True),
    sa.Column("acknowledged_at", UTCDateTime, nullable=True),
    sa.Column("acknowledged_by", sa.String(64), nullable=True),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    # The host the alert is about or was raised on (host-down: the host that went quiet).
    sa.Column("host", sa.String(64), nullable=True),
    # Open alerts, and the open alert of a (task, kind) for deduplication.
    sa.Index("ix_alerts_state_opened", "state", "opened_at"),
    sa.Index("ix_alerts_task_kind_state", "task_name", "kind", "state"),
    **TABLE_OPTS,
)

# Every message smartcron sends goes through here: written in the transaction that decided it,
# then delivered (and retried with backoff, falling back to the other channels) by whoever
# leases it. A message that could not go anywhere stays here, visible, and fails a health check.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, nullable=True),
    sa.Column("task_name", sa.String(64), nullable=True),
    sa.Column("kind", sa.String(32), nullable=False),  # failure, recovery, late, success, ...
    sa.Column("severity", sa.String(16), nullable=False),  # apprise type: failure, warning, ...
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("text_body", sa.Text, nullable=False),
    sa.Column("html_body", sa.Text, nullable=False),
    sa.Column("channels", JSONText, nullable=False),  # names chosen by routing, in order
    # pending, sent, failed; held (a maintenance window holds it), released (in its summary)
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Column("sent_via", JSONText, nullable=True),  # channels that accepted it
    sa.Column("last_error", sa.Text, nullable=True),  # per channel, from the last attempt
    sa.Column("held_for", sa.String(64), nullable=True),  # the window that held it
    sa.Index("ix_outbox_state_next", "state", "next_attempt_at"),
    sa.Index("ix_outbox_alert", "alert_id"),
    **TABLE_OPTS,
)

health_checks = sa.Table(
    "health_checks",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("checked_at", UTCDateTime, nullable=False),
    sa.Column("check_name", sa.String(64), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),  # ok, warn, fail
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("message", sa.Text, nullable=False),
    sa.Index("ix_health_checks_name_at", "check_name", "checked_at"),
    sa.Index("ix_health_checks_at", "checked_at"),
    **TABLE_OPTS,
)

task_daily_stats = sa.Table(
    "task_daily_stats",
    metadata,
    sa.Column("task_name", sa.String(64), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("runs", sa.Integer, nullable=False),
    sa.Column("successes", sa.Integer, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("total_duration_s", sa.Float, nullable=False),
    sa.Column("max_duration_s", sa.Float, nullable=False),
    **TABLE_OPTS,
)

# Upper bounds (seconds) of the run-duration histogram buckets: the one list (schema, the
# migration that created run_totals, /metrics). A duration above the last one is only counted.
DURATION_BUCKETS: tuple[int, ...] = (1, 5, 15, 60, 300, 900, 3600, 14400)


def bucket_column(bound: int) -> str:
    """Return the run_totals column counting durations in (previous bound, bound]."""
    return f"le_{bound}"


# Finished runs per (task, host, outcome), kept up to date in the transaction that records each
# run (watchdog/record.py) and never touched by `smartcron prune`: /metrics reads counters, the
# duration histogram and the latest run times from here without reading `executions`.
run_totals = sa.Table(
    "run_totals",
    metadata,
    sa.Column("task_name", sa.String(64), primary_key=True),
    # The host that recorded the runs (executions.host); "" for runs with none (before 0008).
    sa.Column("host", sa.String(64), primary_key=True, server_default=""),
    sa.Column("outcome", sa.String(32), primary_key=True),
    sa.Column("runs", sa.BigInteger, nullable=False, server_default="0"),
    # Runs with a known duration, their total, and how many fell in each bucket.
    sa.Column("duration_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("duration_sum_s", sa.Double, nullable=False, server_default="0"),
    *[
        sa.Column(bucket_column(b), sa.BigInteger, nullable=False, server_default="0")
        for b in DURATION_BUCKETS
    ],
    # Start of the latest run with this outcome (the recorded time when it never started).
    sa.Column("last_started_at", UTCDateTime, nullable=True),
    **TABLE_OPTS,
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # viewer, operator, admin
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_login_at", UTCDateTime, nullable=True),
    # Login throttling, shared by every dashboard worker: failures in a row, and a lock.
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", UTCDateTime, nullable=True),
    # Set for a one-time password (install.sh's first admin): replaced at the first login.
    sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.false()),
    **TABLE_OPTS,
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    # SHA-256 of the token: the token itself is shown once and never stored.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime, nullable=True),
    **TABLE_OPTS,
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # SHA-256 of the session id in the cookie: the id itself is never stored.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Index("ix_sessions_user_id", "user_id"),
    **TABLE_OPTS,
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),  # a username, or "cli:<unix user>"
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(255), nullable=True),
    sa.Column("details", sa.Text, nullable=True),
    sa.Index("ix_audit_log_at", "at"),
    **TABLE_OPTS,
)

state = sa.Table(
    "state",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    **TABLE_OPTS,
)

# Every host sharing the database, registered by its watchdog (docs/multi-host.md).
hosts = sa.Table(
    "hosts",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("watchdog_state", sa.String(16), nullable=False),  # running, stopped
    sa.Column("registered_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),  # the heartbeat
    **TABLE_OPTS,
)

# One row per claimed (key, slot): the unique key decides who wins, on one server and on a
# Galera cluster alike (conflicting inserts on other nodes fail certification). Keys: a task
# name for a `placement: one` run, "host-down:HOST" and "host-up:HOST" for liveness notices,
# "digest:daily" and "digest:weekly" at the start of the period a digest covers.
claims = sa.Table(
    "claims",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("claim_key", sa.String(128), nullable=False),
    sa.Column("slot", UTCDateTime, nullable=False),
    sa.Column("host", sa.String(64), nullable=False),
    sa.Column("invocation_id", sa.String(32), nullable=True),
    sa.Column("claimed_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("claim_key", "slot"),
    sa.Index("ix_claims_claimed_at", "claimed_at"),
    **TABLE_OPTS,
)

# Maintenance windows (model/windows.py, docs/windows.md), shared by every host like the tasks.
windows = sa.Table(
    "windows",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("when_text", sa.String(128), nullable=False),  # canonical, model/windows.check_when
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("tasks", JSONText, nullable=False),
    sa.Column("categories", JSONText, nullable=False),
    sa.Column("actions", JSONText, nullable=False),
    sa.Column("description", sa.String(255), nullable=False, server_default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    **TABLE_OPTS,
)
