"""Claims: one INSERT against the unique key (claim_key, slot) decides which host does a
thing, on a single MariaDB/MySQL server and on a Galera cluster alike.

On one server the unique index refuses the second insert. On Galera each node accepts its
own insert locally, and certification at commit lets exactly one of the conflicting write
sets commit: the others fail with a deadlock error (1213) at COMMIT. Both ways the loser
learns it lost by an IntegrityError or a deadlock at commit, and reads the winner back.
GET_LOCK() is not used: Galera refuses or ignores it (MDEV-30473).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from smartcron.db.schema import claims, utcnow

DEADLOCK = 1213  # MySQL/MariaDB ER_LOCK_DEADLOCK: Galera's certification failure


@dataclass(frozen=True)
class Claim:
    """Who holds (key, slot)."""

    key: str
    slot: dt.datetime
    host: str
    invocation_id: str | None
    won: bool  # True when this call's insert is the one that holds it


class ClaimUndecided(Exception):
    """Every try lost to a deadlock and no winner could be read back: the database is
    reachable, so this is not if_db_down's case; the gate does not run the slot here."""


def lost_race(exc: sa.exc.DBAPIError) -> bool:
    """Return True when a claim's insert failed because another one holds the key."""
    return _lost_race(exc)


def insert_claim(
    conn: Connection, key: str, slot: dt.datetime, host: str, invocation_id: str | None = None
) -> None:
    """Insert the claim row in the caller's transaction (raises when another holds it: the
    caller's transaction, with whatever it did, then rolls back)."""
    conn.execute(
        claims.insert().values(
            claim_key=key, slot=slot, host=host, invocation_id=invocation_id, claimed_at=utcnow()
        )
    )


def insert_claim_if_free(
    conn: Connection, key: str, slot: dt.datetime, host: str, invocation_id: str | None = None
) -> bool:
    """Given a claim, insert it in the caller's transaction unless another holds the key;
    return True if this insert holds it.

    One statement that never raises on the key (INSERT OR IGNORE / INSERT IGNORE), so it
    needs no savepoint: pysqlite opens no transaction before a SAVEPOINT, and releasing it
    committed the claim on its own, apart from the work it guards. On MariaDB the insert
    waits for an uncommitted holder of the key, as a plain insert does.
    """
    values = {
        "claim_key": key,
        "slot": slot,
        "host": host,
        "invocation_id": invocation_id,
        "claimed_at": utcnow(),
    }
    if conn.dialect.name == "sqlite":
        statement: sa.Insert = sqlite_insert(claims).values(values).on_conflict_do_nothing()
    else:
        statement = claims.insert().values(values).prefix_with("IGNORE")
    return conn.execute(statement).rowcount == 1


def is_deadlock(exc: BaseException) -> bool:
    """Return True for a deadlock error (1213): on Galera, a write set that lost
    certification against another node's at COMMIT; the transaction may be tried again."""
    args: tuple[object, ...] = tuple(getattr(getattr(exc, "orig", None), "args", ()))
    return bool(args) and args[0] == DEADLOCK


def _lost_race(exc: sa.exc.DBAPIError) -> bool:
    return isinstance(exc, sa.exc.IntegrityError) or is_deadlock(exc)


def holder(engine: Engine, key: str, slot: dt.datetime) -> Claim | None:
    """Return who holds (key, slot), or None."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(claims.c.host, claims.c.invocation_id).where(
                claims.c.claim_key == key, claims.c.slot == slot
            )
        ).first()
    return None if row is None else Claim(key, slot, row.host, row.invocation_id, False)


def claim(
    engine: Engine, key: str, slot: dt.datetime, host: str, invocation_id: str | None = None
) -> Claim:
    """Try to take (key, slot) for `host` with one INSERT in its own transaction; return the
    claim: won, or held by whoever won (possibly this host earlier: a repeated call).

    Raises sqlalchemy errors other than losing the race (the database is unreachable): the
    caller decides what a host does then.
    """
    for attempt in range(5):
        try:
            with engine.begin() as conn:
                conn.execute(
                    claims.insert().values(
                        claim_key=key,
                        slot=slot,
                        host=host,
                        invocation_id=invocation_id,
                        claimed_at=utcnow(),
                    )
                )
            return Claim(key, slot, host, invocation_id, True)
        except sa.exc.DBAPIError as exc:
            if not _lost_race(exc):
                raise
        current = holder(engine, key, slot)
        if current is not None:
            return current
        # A deadlock on Galera whose winner this node has not applied yet: wait, try again
        # (the insert then fails on the applied row, or wins if the winner rolled back).
        time.sleep(0.05 * (attempt + 1))
    raise ClaimUndecided(
        f"the claim of {key} at {slot.isoformat()} stayed undecided after 5 tries "
        "(deadlocks, and no winner visible on this node)"
    )
