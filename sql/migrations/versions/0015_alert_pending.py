"""executions.alert_pending: each finished run is evaluated for alerts once, by one host

The alert engine followed an id cursor. It passed runs that were still running (a long run's
failure never alerted) and, with several writers, a row committed after a higher id was read
(MariaDB hands out ids at insert, not at commit). A flag per run, cleared by the engine that
evaluates it (one UPDATE, which also keeps two hosts' engines from both evaluating a run),
leaves no run behind. Runs the cursor had already passed are marked evaluated; running rows
and those after the cursor stay pending.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "executions",
        sa.Column("alert_pending", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    key = op.get_context().dialect.identifier_preparer.quote("key")
    # Plain SQL, so that `smartcron db schema` (offline) prints it too. No cursor stored (the
    # engine never ran): its first start marks everything before it as history anyway.
    op.execute(
        "UPDATE executions SET alert_pending = 0 WHERE outcome <> 'running' AND id <= "  # noqa: S608 - constants only
        f"(SELECT value FROM state WHERE {key} = 'alerts.last_run_id')"
    )
    op.create_index("ix_executions_alert_pending", "executions", ["alert_pending", "id"])


def downgrade() -> None:
    op.drop_index("ix_executions_alert_pending", table_name="executions")
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("alert_pending")
