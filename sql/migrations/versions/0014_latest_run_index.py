"""executions (task_name, started_at, id, outcome) in place of (task_name, started_at)

A task's latest run is the newest that is not a gate's skip (db/runs.last_runs): with the
outcome in the index, the skips are passed over without reading their rows. The new index
serves every query the old one did (same leading columns), so the old one goes.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-04 21:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # The new index first: the runs are never without one for their task and time.
    with op.batch_alter_table("executions") as batch:
        batch.create_index(
            "ix_executions_task_started_id_outcome",
            ["task_name", "started_at", "id", "outcome"],
            unique=False,
        )
    with op.batch_alter_table("executions") as batch:
        batch.drop_index("ix_executions_task_started")


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.create_index("ix_executions_task_started", ["task_name", "started_at"], unique=False)
    with op.batch_alter_table("executions") as batch:
        batch.drop_index("ix_executions_task_started_id_outcome")
