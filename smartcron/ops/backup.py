"""Backups and restore: consistent copies of the whole database, and the tasks as YAML.

- SQLite: the online backup API (`sqlite3.Connection.backup`), a consistent copy taken while
  the watchdog keeps writing; saved as `smartcron-<UTC time>.sqlite3`.
- MySQL/MariaDB: every table read inside one `START TRANSACTION WITH CONSISTENT SNAPSHOT`, saved
  as gzipped JSON lines, `smartcron-<UTC time>.jsonl.gz`.
Beside each, `smartcron-<UTC time>.tasks.yaml` holds the task definitions (`smartcron import`).

A restore reads either format into either back end (SQLite to MariaDB works too), in one
transaction: the database afterwards holds exactly the backup's rows, or nothing changed.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import pwd
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcron.db.engine import db_errors
from smartcron.db.migrate import head_revision, known_revisions, revisions_before, upgrade
from smartcron.db.schema import UTCDateTime, metadata
from smartcron.db.tasks import list_tasks
from smartcron.errors import InvalidInput, OperationFailed
from smartcron.fileio import atomic_write
from smartcron.model import taskfile

FORMAT = 1
_NAME = re.compile(r"^smartcron-(\d{8}T\d{6}Z)\.(sqlite3|jsonl\.gz)$")  # scheduled ones only
MANUAL = "-manual"
_ANY_NAME = re.compile(r"^smartcron-(\d{8}T\d{6}Z)(-manual)?\.(sqlite3|jsonl\.gz)$")
KEEP_YOUNGER_THAN = dt.timedelta(days=1)
BATCH = 1000


@dataclass
class BackupResult:
    path: Path
    tasks_file: Path
    counts: dict[str, int]
    removed: list[Path] = field(default_factory=list)


def describe_counts(counts: dict[str, int]) -> str:
    """Return "3 task(s), 120 run(s)" for a backup's or a database's row counts."""
    return f"{counts.get('tasks', 0)} task(s), {counts.get('executions', 0)} run(s)"


def _stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _counts(conn: Connection) -> dict[str, int]:
    """Return the rows per table (tables the database has; an old backup may lack new ones)."""
    present = set(sa.inspect(conn).get_table_names())
    return {
        t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() or 0)
        for t in metadata.sorted_tables
        if t.name in present
    }


def backup(
    engine: Engine,
    directory: Path,
    now: dt.datetime,
    *,
    scheduled: bool = False,
    owner: str | None = None,
) -> BackupResult:
    """Given the database and a directory, write a consistent backup and the tasks' YAML.

    Scheduled backups (the maintenance job's) are named `smartcron-<time>.*` and rotated; one
    taken by hand is named `smartcron-<time>-manual.*` and never rotated away. With `owner`
    (root taking a backup), the files belong to that account, so it can restore them.
    """
    directory.mkdir(parents=True, exist_ok=True, mode=0o750)
    stamp = _stamp(now) + ("" if scheduled else MANUAL)
    with db_errors(engine), engine.connect() as conn:
        tasks_text = taskfile.dump(list_tasks(conn))
    if engine.dialect.name == "sqlite":
        path = directory / f"smartcron-{stamp}.sqlite3"
        counts = _sqlite_backup(engine, path)
    else:
        path = directory / f"smartcron-{stamp}.jsonl.gz"
        counts = _dump_backup(engine, path, stamp)
    tasks_file = directory / f"smartcron-{stamp}.tasks.yaml"
    atomic_write(tasks_file, tasks_text, mode=0o640)
    if owner and os.geteuid() == 0:
        account = pwd.getpwnam(owner)
        for made in (path, tasks_file):
            os.chown(made, account.pw_uid, account.pw_gid)
    return BackupResult(path, tasks_file, counts)


def _sqlite_backup(engine: Engine, path: Path) -> dict[str, int]:
    source_path = engine.url.database
    if not source_path:
        raise OperationFailed("the SQLite database has no file to back up")
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(source_path)
    target = sqlite3.connect(partial)
    try:
        source.backup(target)  # consistent even while the watchdog writes
        ok = target.execute("PRAGMA integrity_check").fetchone()
        if ok != ("ok",):
            raise OperationFailed(f"the backup copy failed its integrity check: {ok}")
    finally:
        target.close()
        source.close()
    os.chmod(partial, 0o640)
    os.replace(partial, path)
    copy = sa.create_engine(f"sqlite:///{path}")
    try:
        with copy.connect() as conn:
            return _counts(conn)
    finally:
        copy.dispose()


def _encode(table: sa.Table, row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in table.columns:
        value = row._mapping[column.name]
        if isinstance(value, (dt.datetime, dt.date)):
            value = value.isoformat()
        out[column.name] = value
    return out


def _decode(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        column = table.columns.get(name)
        if column is None:
            raise InvalidInput(
                "backup", f"{table.name}.{name}", "columns this smartcron knows; upgrade first"
            )
        if value is not None and isinstance(column.type, UTCDateTime):
            value = dt.datetime.fromisoformat(value)
        elif value is not None and isinstance(column.type, sa.Date):
            value = dt.date.fromisoformat(value)
        out[name] = value
    return out


def _dump_backup(engine: Engine, path: Path, stamp: str) -> dict[str, int]:
    partial = path.with_name(path.name + ".partial")
    counts: dict[str, int] = {}
    with db_errors(engine), engine.connect() as conn:
        conn.exec_driver_sql("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        conn.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        with gzip.open(partial, "wt", encoding="utf-8") as out:
            header = {"smartcron_backup": FORMAT, "revision": revision, "created": stamp}
            out.write(json.dumps(header) + "\n")
            for table in metadata.sorted_tables:
                counts[table.name] = 0
                result = conn.execution_options(stream_results=True).execute(sa.select(table))
                for row in result:
                    out.write(json.dumps({"t": table.name, "r": _encode(table, row)}) + "\n")
                    counts[table.name] += 1
        conn.rollback()
    os.chmod(partial, 0o640)
    os.replace(partial, path)
    return counts


def _read_rows(path: Path) -> tuple[str | None, Iterator[tuple[sa.Table, dict[str, Any]]]]:
    """Return the backup's schema revision and its rows, table by table in dependency order."""
    if path.name.endswith(".sqlite3"):
        source = sa.create_engine(f"sqlite:///{path}")
        with source.connect() as conn:
            revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

        def sqlite_rows() -> Iterator[tuple[sa.Table, dict[str, Any]]]:
            try:
                with source.connect() as conn:
                    present = set(sa.inspect(conn).get_table_names())
                    for table in metadata.sorted_tables:
                        if table.name not in present:
                            continue  # a table newer than the backup: it stays empty
                        names = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
                        columns = [c for c in table.columns if c.name in names]
                        for row in conn.execute(sa.select(*columns)):
                            yield table, dict(row._mapping)
            finally:
                source.dispose()

        return revision, sqlite_rows()
    if path.name.endswith(".jsonl.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as first:
            header = json.loads(first.readline() or "{}")
        if header.get("smartcron_backup") != FORMAT:
            raise InvalidInput("FILE", str(path), "a smartcron backup (no smartcron header found)")

        def dump_rows() -> Iterator[tuple[sa.Table, dict[str, Any]]]:
            with gzip.open(path, "rt", encoding="utf-8") as lines:
                lines.readline()
                for line in lines:
                    item = json.loads(line)
                    table = metadata.tables[item["t"]]
                    yield table, _decode(table, item["r"])

        return header.get("revision"), dump_rows()
    raise InvalidInput(
        "FILE", str(path), "a smartcron backup: smartcron-<time>.sqlite3 or .jsonl.gz"
    )


def describe(path: Path) -> dict[str, int]:
    """Return the number of rows per table in a backup file (for the restore prompt).

    Counted without decoding the rows: COUNT(*) in a SQLite copy, the table name at the start
    of each line of a dump (`{"t": "<table>", ...`), so a large backup is not read twice over.
    """
    counts: dict[str, int] = {}
    if path.name.endswith(".sqlite3"):
        source = sa.create_engine(f"sqlite:///{path}")
        try:
            with source.connect() as conn:
                return _counts(conn)
        finally:
            source.dispose()
    _read_rows(path)  # checks the header (refuses a file that is not a backup)
    prefix = '{"t": "'
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        lines.readline()
        for line in lines:
            if line.startswith(prefix):
                name = line[len(prefix) : line.index('"', len(prefix))]
                counts[name] = counts.get(name, 0) + 1
    return counts


def restore(engine: Engine, path: Path) -> dict[str, int]:
    """Replace every row of the database with the backup's, in one transaction."""
    if not path.is_file():
        raise InvalidInput("FILE", str(path), "an existing backup file")
    revision, rows = _read_rows(path)
    head = head_revision()
    if revision not in known_revisions():
        raise InvalidInput(
            "FILE",
            str(path),
            f"a backup from this smartcron or older (its schema is {revision}, this smartcron "
            f"knows up to {head}); upgrade smartcron first",
        )
    upgrade(engine)  # an empty database gets the schema first
    counts: dict[str, int] = {}
    with db_errors(engine), engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
        batch: list[dict[str, Any]] = []
        current: sa.Table | None = None
        for table, values in rows:
            if table is not current or len(batch) >= BATCH:
                if current is not None and batch:
                    conn.execute(current.insert(), batch)
                batch, current = [], table
            batch.append(values)
            counts[table.name] = counts.get(table.name, 0) + 1
        if current is not None and batch:
            conn.execute(current.insert(), batch)
        if revision in revisions_before(ALERT_PENDING_SINCE):
            _mark_evaluated(conn)
    return counts


# The revision that added executions.alert_pending: a run restored from an older backup
# would default to "pending" and alert again for all history.
ALERT_PENDING_SINCE = "0015"


def _mark_evaluated(conn: Connection) -> None:
    """Mark the finished runs up to the restored alert cursor as evaluated (as 0015 did)."""
    from smartcron.db.schema import executions
    from smartcron.db.state import ALERT_CURSOR, get_state

    cursor = get_state(conn, ALERT_CURSOR)
    passed = executions.c.id <= int(cursor) if cursor and cursor.isdigit() else sa.true()
    conn.execute(
        executions.update()
        .where(executions.c.outcome != "running", passed)
        .values(alert_pending=False)
    )


def backups_in(directory: Path) -> list[tuple[dt.datetime, Path]]:
    """Return the backups in a directory with their times, newest first."""
    found = []
    for path in directory.glob("smartcron-*"):
        match = _NAME.match(path.name)
        if match:
            when = dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
            found.append((when, path))
    return sorted(found, reverse=True)


def backups_between(
    directory: Path, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, str]]:
    """Return the backups (scheduled and by hand) a directory holds that were taken in
    [start, end), by the UTC time in their names, oldest first: what the digest reports."""
    found = []
    for path in directory.glob("smartcron-*") if directory.is_dir() else []:
        match = _ANY_NAME.match(path.name)
        if match:
            when = dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
            if start <= when < end:
                found.append((when, path.name))
    return sorted(found)


def to_keep(
    times: list[dt.datetime], daily: int, weekly: int, now: dt.datetime | None = None
) -> set[dt.datetime]:
    """Given scheduled backup times, return those kept: every one younger than a day, the
    newest of each of the last `daily` days that have a backup, and the newest of each of the
    last `weekly` ISO weeks that have one."""
    keep: set[dt.datetime] = set()
    if now is not None:
        keep.update(t for t in times if now - t < KEEP_YOUNGER_THAN)
    days: dict[dt.date, dt.datetime] = {}
    weeks: dict[tuple[int, int], dt.datetime] = {}
    for when in sorted(times, reverse=True):
        days.setdefault(when.date(), when)
        iso = when.isocalendar()
        weeks.setdefault((iso.year, iso.week), when)
    keep.update(sorted(days.values(), reverse=True)[:daily])
    keep.update(sorted(weeks.values(), reverse=True)[:weekly])
    return keep


def rotate(directory: Path, daily: int, weekly: int, now: dt.datetime | None = None) -> list[Path]:
    """Delete the scheduled backups (and their tasks' YAML) that `to_keep` does not keep;
    return them. Backups taken by hand are never touched."""
    found = backups_in(directory)
    keep = to_keep([when for when, _p in found], daily, weekly, now)
    removed = []
    for when, path in found:
        if when not in keep:
            yaml = directory / f"smartcron-{_stamp(when)}.tasks.yaml"
            for victim in (path, yaml):
                if victim.exists():
                    victim.unlink()
                    removed.append(victim)
    return removed
