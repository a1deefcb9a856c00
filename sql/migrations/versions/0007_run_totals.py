"""run_totals: finished runs per (task, outcome) with a duration histogram, kept on write

Filled from the runs already recorded, plus the daily totals `smartcron prune` kept of deleted
runs (their successes as "success", their failures as "failed": the exact outcome of a run
pruned before this revision is not known). Histogram buckets come from recorded runs only.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import smartcron.db.schema

revision: str = "0007"
down_revision: str | None = "0009"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TABLE_OPTS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

# Frozen copy of schema.DURATION_BUCKETS at this revision (a migration never changes).
BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 14400)


def upgrade() -> None:
    op.create_table(
        "run_totals",
        sa.Column("task_name", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("runs", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("duration_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("duration_sum_s", sa.Double(), server_default="0", nullable=False),
        *[
            sa.Column(f"le_{b}", sa.BigInteger(), server_default="0", nullable=False)
            for b in BUCKETS
        ],
        sa.Column("last_started_at", smartcron.db.schema.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("task_name", "outcome", name=op.f("pk_run_totals")),
        **TABLE_OPTS,
    )
    buckets = []
    low = None
    for b in BUCKETS:
        cond = f"duration_s <= {b}" if low is None else f"duration_s > {low} AND duration_s <= {b}"
        buckets.append(f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)")
        low = b
    columns = ", ".join(f"le_{b}" for b in BUCKETS)
    op.execute(
        "INSERT INTO run_totals (task_name, outcome, runs, duration_count, duration_sum_s, "  # noqa: S608 - only the constants above
        f"{columns}, last_started_at) "
        "SELECT task_name, outcome, COUNT(*), COUNT(duration_s), COALESCE(SUM(duration_s), 0), "
        f"{', '.join(buckets)}, MAX(COALESCE(started_at, recorded_at)) "
        "FROM executions WHERE outcome <> 'running' GROUP BY task_name, outcome"
    )
    for column, outcome in (("successes", "success"), ("failures", "failed")):
        # Plain SQL, so that `smartcron db schema` (offline) prints it too.
        op.execute(
            f"UPDATE run_totals SET runs = runs + (SELECT COALESCE(SUM(d.{column}), 0) "  # noqa: S608 - fixed names
            "FROM task_daily_stats d WHERE d.task_name = run_totals.task_name) "
            f"WHERE outcome = '{outcome}'"
        )
        op.execute(
            f"INSERT INTO run_totals (task_name, outcome, runs) SELECT task_name, '{outcome}', "  # noqa: S608 - fixed names
            f"SUM({column}) FROM task_daily_stats WHERE task_name NOT IN "
            f"(SELECT task_name FROM run_totals WHERE outcome = '{outcome}') "
            f"GROUP BY task_name HAVING SUM({column}) > 0"
        )


def downgrade() -> None:
    op.drop_table("run_totals")
