"""tasks.retry_backoff, tasks.retry_max_delay_s: growing waits between retries

Revision ID: 0013
Revises: 0007
Create Date: 2026-12-03 18:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0007"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        # 1 keeps every existing task's constant wait; NULL is "no cap".
        batch.add_column(
            sa.Column("retry_backoff", sa.Double(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("retry_max_delay_s", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("retry_max_delay_s")
        batch.drop_column("retry_backoff")
