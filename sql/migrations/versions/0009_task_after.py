"""tasks.after_tasks: the tasks after whose success a task runs (chains, model/chains.py)

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        # Nullable: MySQL 8 refuses a literal default on TEXT; NULL reads as "no predecessor".
        batch.add_column(sa.Column("after_tasks", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("after_tasks")
