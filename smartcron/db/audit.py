"""The audit log: who changed what, written in the same transaction as the change."""

from __future__ import annotations

import getpass
import json
import os
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcron.db.schema import audit_log, utcnow


def actor() -> str:
    """Return who is acting from the command line, e.g. "cli:alice" (via sudo) or "cli:root"."""
    return "cli:" + (os.environ.get("SUDO_USER") or getpass.getuser())


def audit(conn: Connection, who: str, action: str, target: str | None, details: Any = None) -> None:
    """Append one row to the audit log inside the caller's transaction."""
    conn.execute(
        audit_log.insert().values(
            at=utcnow(),
            actor=who,
            action=action,
            target=target,
            details=None if details is None else json.dumps(details, sort_keys=True, default=str),
        )
    )


PAGE = 50


def audit_rows(conn: Connection, page: int) -> tuple[list[Any], bool]:
    rows = list(
        conn.execute(
            sa.select(audit_log)
            .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
            .limit(PAGE + 1)
            .offset((page - 1) * PAGE)
        )
    )
    return rows[:PAGE], len(rows) > PAGE
