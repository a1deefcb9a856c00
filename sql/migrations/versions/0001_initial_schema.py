"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 11:55:28.131142
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import smartcron.db.schema

revision: str = "0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

# MariaDB before 11.6 defaults to latin1: task commands and output are UTF-8.
TABLE_OPTS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_name", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("execution_id", sa.BigInteger(), nullable=True),
        sa.Column("failure_count", sa.Integer(), server_default="1", nullable=False),
        sa.Column("notify_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("opened_at", smartcron.db.schema.UTCDateTime(), nullable=False),
        sa.Column("last_notified_at", smartcron.db.schema.UTCDateTime(), nullable=True),
        sa.Column("acknowledged_at", smartcron.db.schema.UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("resolved_at", smartcron.db.schema.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        **TABLE_OPTS,
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_state_opened", ["state", "opened_at"], unique=False)
        batch_op.create_index(
            "ix_alerts_task_kind_state", ["task_name", "kind", "state"], unique=False
        )

    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", smartcron.db.schema.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        **TABLE_OPTS,
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_at", ["at"], unique=False)

    op.create_table(
        "health_checks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("checked_at", smartcron.db.schema.UTCDateTime(), nullable=False),
        sa.Column("check_name", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_checks")),
        **TABLE_OPTS,
    )
    with op.batch_alter_table("health_checks", schema=None) as batch_op:
        batch_op.create_index("ix_health_checks_at", ["checked_at"], unique=False)
        batch_op.create_index(
            "ix_health_checks_name_at", ["check_name", "checked_at"], unique=False
        )

    op.create_table(
        "state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", smartcron.db.schema.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_state")),
        **TABLE_OPTS,
    )
    op.create_table(
        "task_daily_stats",
        sa.Column("task_name", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("total_duration_s", sa.Float(), nullable=False),
        sa.Column("max_duration_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("task_name", "day", name=op.f("pk_task_daily_stats")),
        **TABLE_OPTS,
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=200), server_default="", nullable=False),
        sa.Column("command", smartcron.db.schema.JSONText(), nullable=False),
        sa.Column("schedule", sa.String(length=255), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("timeout_s", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_delay_s", sa.Integer(), server_default="30", nullable=False),
        sa.Column("memory_max", sa.BigInteger(), nullable=True),
        sa.Column("cpu_quota", sa.Integer(), nullable=True),
        sa.Column("nice", sa.Integer(), nullable=True),
        sa.Column("run_user", sa.String(length=32), nullable=True),
        sa.Column("run_group", sa.String(length=32), nullable=True),
        sa.Column("workdir", sa.String(length=4096), nullable=True),
        sa.Column("env", smartcron.db.schema.JSONText(), nullable=False),
        sa.Column("category", sa.String(length=64), server_default="general", nullable=False),
        sa.Column("priority", sa.String(length=16), server_default="normal", nullable=False),
        sa.Column("alert_on", smartcron.db.schema.JSONText(), nullable=False),
        sa.Column("alert_after", sa.Integer(), server_default="1", nullable=False),
        sa.Column("warn_after_s", sa.Integer(), nullable=True),
        sa.Column("channels", smartcron.db.schema.JSONText(), nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.text("0"), nullable=False),
        sa.Column("catch_up", sa.Boolean(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", smartcron.db.schema.UTCDateTime(), nullable=False),
        sa.Column("updated_at", smartcron.db.schema.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("name", name=op.f("uq_tasks_name")),
        **TABLE_OPTS,
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", smartcron.db.schema.UTCDateTime(), nullable=False),
        sa.Column("last_login_at", smartcron.db.schema.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
        **TABLE_OPTS,
    )
    op.create_table(
        "executions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("task_name", sa.String(length=64), nullable=False),
        sa.Column("invocation_id", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), server_default="1", nullable=False),
        sa.Column("started_at", smartcron.db.schema.UTCDateTime(), nullable=True),
        sa.Column("finished_at", smartcron.db.schema.UTCDateTime(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("result", sa.String(length=32), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("exit_signal", sa.String(length=16), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("meaning", sa.Text(), nullable=True),
        sa.Column("output_tail", sa.Text(), nullable=True),
        sa.Column("cpu_usage_nsec", sa.BigInteger(), nullable=True),
        sa.Column("memory_peak", sa.BigInteger(), nullable=True),
        sa.Column("io_read_bytes", sa.BigInteger(), nullable=True),
        sa.Column("io_write_bytes", sa.BigInteger(), nullable=True),
        sa.Column("recorded_at", smartcron.db.schema.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_executions_task_id_tasks"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_executions")),
        sa.UniqueConstraint("invocation_id", name=op.f("uq_executions_invocation_id")),
        **TABLE_OPTS,
    )
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_executions_outcome_started", ["outcome", "started_at"], unique=False
        )
        batch_op.create_index("ix_executions_started", ["started_at"], unique=False)
        batch_op.create_index(
            "ix_executions_task_started", ["task_name", "started_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index("ix_executions_task_started")
        batch_op.drop_index("ix_executions_started")
        batch_op.drop_index("ix_executions_outcome_started")

    op.drop_table("executions")
    op.drop_table("users")
    op.drop_table("tasks")
    op.drop_table("task_daily_stats")
    op.drop_table("state")
    with op.batch_alter_table("health_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_health_checks_name_at")
        batch_op.drop_index("ix_health_checks_at")

    op.drop_table("health_checks")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_at")

    op.drop_table("audit_log")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_task_kind_state")
        batch_op.drop_index("ix_alerts_state_opened")

    op.drop_table("alerts")
