"""least privilege: signed task definitions, an explicit run-as user, server-side sessions

tasks.revision and tasks.signature: root's `smartcron sync` installs only definitions signed
with root's key (smartcron/model/signing.py). Rows stored before this revision are unsigned;
install.sh signs them once, when it creates the key.
tasks.run_user becomes required: a task that ran as root because it named no user now says
`root`, visibly.
sessions: dashboard sessions kept on the server, so that logout, a password or role change
and removing a user end them.

Revision ID: 0005
Revises: 0006
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import smartcron.db.schema

revision: str = "0005"
down_revision: str | None = "0006"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TABLE_OPTS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}


def upgrade() -> None:
    # Until now a task without a user ran as root: say so in the row.
    op.execute("UPDATE tasks SET run_user = 'root' WHERE run_user IS NULL OR run_user = ''")
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("run_user", existing_type=sa.String(length=32), nullable=False)
        batch.add_column(sa.Column("revision", sa.BigInteger(), server_default="0", nullable=False))
        batch.add_column(
            sa.Column("signature", sa.String(length=80), server_default="", nullable=False)
        )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", smartcron.db.schema.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", smartcron.db.schema.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sessions_token_hash")),
        **TABLE_OPTS,
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sessions_user_id", table_name="sessions")
    op.drop_table("sessions")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("signature")
        batch.drop_column("revision")
        batch.alter_column("run_user", existing_type=sa.String(length=32), nullable=True)
