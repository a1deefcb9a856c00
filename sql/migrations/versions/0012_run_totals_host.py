"""run_totals per (task, host, outcome): the host label of /metrics' run series

Rows come from the recorded runs of each host (executions.host); what the old totals held
beyond those (runs `smartcron prune` deleted, and runs recorded before hosts existed) stays
with host "" (unknown), so every counter keeps its value.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 02:30:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import smartcron.db.schema

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TABLE_OPTS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

# Frozen copy of schema.DURATION_BUCKETS at this revision (a migration never changes).
BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 14400)
FIGURES = ("runs", "duration_count", "duration_sum_s", *(f"le_{b}" for b in BUCKETS))


def _create(name: str, keys: tuple[str, ...]) -> None:
    op.create_table(
        name,
        sa.Column("task_name", sa.String(length=64), nullable=False),
        *([sa.Column("host", sa.String(length=64), server_default="", nullable=False)]
          if "host" in keys else []),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("runs", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("duration_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("duration_sum_s", sa.Double(), server_default="0", nullable=False),
        *[
            sa.Column(f"le_{b}", sa.BigInteger(), server_default="0", nullable=False)
            for b in BUCKETS
        ],
        sa.Column("last_started_at", smartcron.db.schema.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint(*keys, name="pk_run_totals"),
        **TABLE_OPTS,
    )  # fmt: skip


# Outcomes of executions rows that run_totals does not count (model/outcome.py's RUNNING,
# SKIP_OUTCOMES and NOT_RUN when this migration was written; a migration keeps its own copy).
NOT_COUNTED = "'running', 'ran-elsewhere', 'skipped', 'skipped-window', 'not-run'"


def upgrade() -> None:
    _create("run_totals_new", ("task_name", "host", "outcome"))
    buckets = []
    low = None
    for b in BUCKETS:
        cond = f"duration_s <= {b}" if low is None else f"duration_s > {low} AND duration_s <= {b}"
        buckets.append(f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)")
        low = b
    columns = ", ".join(FIGURES)
    # Plain SQL, so that `smartcron db schema` (offline) prints it too.
    op.execute(
        f"INSERT INTO run_totals_new (task_name, host, outcome, {columns}, last_started_at) "  # noqa: S608 - only the constants above
        "SELECT task_name, host, outcome, COUNT(*), COUNT(duration_s), "
        f"COALESCE(SUM(duration_s), 0), {', '.join(buckets)}, "
        "MAX(COALESCE(started_at, recorded_at)) FROM executions "
        # Gate skips and not-run rows are not runs: the watchdog never counts them on write.
        f"WHERE outcome NOT IN ({NOT_COUNTED}) AND host IS NOT NULL AND host <> '' "
        "GROUP BY task_name, host, outcome"
    )
    # The rest of each old total: runs with no host, and pruned ones.
    rest = ", ".join(f"o.{f} - COALESCE(n.{f}, 0)" for f in FIGURES)
    sums = ", ".join(f"SUM({f}) AS {f}" for f in FIGURES)
    op.execute(
        f"INSERT INTO run_totals_new (task_name, host, outcome, {columns}, last_started_at) "  # noqa: S608 - only the constants above
        f"SELECT o.task_name, '', o.outcome, {rest}, "
        "CASE WHEN n.runs IS NULL THEN o.last_started_at ELSE u.last_started_at END "
        "FROM run_totals o "
        f"LEFT JOIN (SELECT task_name, outcome, {sums} FROM run_totals_new "
        "GROUP BY task_name, outcome) n ON n.task_name = o.task_name AND n.outcome = o.outcome "
        "LEFT JOIN (SELECT task_name, outcome, MAX(COALESCE(started_at, recorded_at)) "
        "AS last_started_at FROM executions WHERE outcome <> 'running' "
        "AND (host IS NULL OR host = '') GROUP BY task_name, outcome) u "
        "ON u.task_name = o.task_name AND u.outcome = o.outcome "
        "WHERE o.runs > COALESCE(n.runs, 0)"
    )
    # A remainder without durations keeps no rounding residue of the subtraction.
    op.execute("UPDATE run_totals_new SET duration_sum_s = 0 WHERE duration_count = 0")
    op.drop_table("run_totals")
    op.rename_table("run_totals_new", "run_totals")


def downgrade() -> None:
    _create("run_totals_old", ("task_name", "outcome"))
    columns = ", ".join(FIGURES)
    sums = ", ".join(f"SUM({f})" for f in FIGURES)
    op.execute(
        f"INSERT INTO run_totals_old (task_name, outcome, {columns}, last_started_at) "  # noqa: S608 - only the constants above
        f"SELECT task_name, outcome, {sums}, MAX(last_started_at) FROM run_totals "
        "GROUP BY task_name, outcome"
    )
    op.drop_table("run_totals")
    op.rename_table("run_totals_old", "run_totals")
