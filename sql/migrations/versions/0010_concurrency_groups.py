"""Concurrency groups: tasks.concurrency_group, executions.wait_seconds (docs/groups.md)

Revision ID: 0010
Revises: 0013
Create Date: 2026-12-03 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0013"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("concurrency_group", sa.String(64), nullable=True))
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("wait_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("wait_seconds")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("concurrency_group")
