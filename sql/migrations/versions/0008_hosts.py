"""many hosts on one database: hosts, claims, task placement, the host of runs and alerts

tasks.hosts / placement / if_db_down: where a task runs (docs/multi-host.md). Existing tasks
get hosts ["*"] and placement each: every host that syncs runs them, as before.
executions.host and alerts.host: the host a run or alert comes from.
hosts: each watchdog registers its host and refreshes last_seen_at (the heartbeat).
claims: one row per claimed (key, slot), the exactly-once rule for `placement: one` runs and
the deduplication of host-down notices, by a unique key (works on Galera, unlike GET_LOCK).

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import smartcron.db.schema

revision: str = "0008"
down_revision: str | None = "0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TABLE_OPTS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(
            sa.Column(
                "hosts", smartcron.db.schema.JSONText(), server_default='["*"]', nullable=False
            )
        )
        batch.add_column(
            sa.Column("placement", sa.String(length=8), server_default="each", nullable=False)
        )
        batch.add_column(
            sa.Column("if_db_down", sa.String(length=8), server_default="run", nullable=False)
        )
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("host", sa.String(length=64), nullable=True))
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("host", sa.String(length=64), nullable=True))
    op.create_table(
        "hosts",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("watchdog_state", sa.String(length=16), nullable=False),
        sa.Column("registered_at", smartcron.db.schema.UTCDateTime(), nullable=False),
        sa.Column("started_at", smartcron.db.schema.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", smartcron.db.schema.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_hosts")),
        **TABLE_OPTS,
    )
    op.create_table(
        "claims",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("claim_key", sa.String(length=128), nullable=False),
        sa.Column("slot", smartcron.db.schema.UTCDateTime(), nullable=False),
        sa.Column("host", sa.String(length=64), nullable=False),
        sa.Column("invocation_id", sa.String(length=32), nullable=True),
        sa.Column("claimed_at", smartcron.db.schema.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("claim_key", "slot", name=op.f("uq_claims_claim_key_slot")),
        **TABLE_OPTS,
    )
    op.create_index("ix_claims_claimed_at", "claims", ["claimed_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_claims_claimed_at", table_name="claims")
    op.drop_table("claims")
    op.drop_table("hosts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("host")
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("host")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("if_db_down")
        batch.drop_column("placement")
        batch.drop_column("hosts")
