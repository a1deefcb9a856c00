"""maintenance windows: the windows table, and outbox.held_for (docs/windows.md)

windows: named weekly or dated spans in a timezone, covering tasks or categories, whose
actions skip the tasks' runs (the gate) and/or hold their alerts for one summary.
outbox.held_for: the window holding a message (state "held" until the window ends, then
"released" into the window's summary).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 18:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import smartcron.db.schema

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TABLE_OPTS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}


def upgrade() -> None:
    op.create_table(
        "windows",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("when_text", sa.String(length=128), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("tasks", smartcron.db.schema.JSONText(), nullable=False),
        sa.Column("categories", smartcron.db.schema.JSONText(), nullable=False),
        sa.Column("actions", smartcron.db.schema.JSONText(), nullable=False),
        sa.Column("description", sa.String(length=255), server_default="", nullable=False),
        sa.Column("created_at", smartcron.db.schema.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_windows")),
        **TABLE_OPTS,
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("held_for", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("held_for")
    op.drop_table("windows")
