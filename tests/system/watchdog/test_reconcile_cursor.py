"""Journal reconciliation reads only what it has not seen: from the host's own cursor, in the
real journal of the private systemd, across a restart; and each host keeps its own cursor in
the shared database (the one key of before is read only as a fallback)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import sqlalchemy as sa

from smartcron.db.schema import executions
from smartcron.db.state import JOURNAL_CURSOR, get_state, journal_cursor_key, set_state
from smartcron.model import config
from smartcron.systemd.journal import Journal
from smartcron.watchdog.service import Watchdog

from support import TestDB
from support.systemd import SystemdEnv

RUNS = 40


def _watchdog(sd: SystemdEnv, host: str) -> tuple[Watchdog, list[int]]:
    """A watchdog whose writer runs (no listener: the journal is the only source here), and
    a counter of the journal entries its reconciliations read."""
    cfg = config.load(
        environ={
            "SMARTCRON_DATABASE_URL": str(sd.engine.url.render_as_string(hide_password=False)),
            "SMARTCRON_UNIT_DIR": str(sd.systemd.unit_dir),
            "SMARTCRON_JOURNAL_DIRECTORY": str(sd.systemd.journal_dir),
            "SMARTCRON_HOST_NAME": host,
        }
    )
    watchdog = Watchdog(cfg)
    read = [0]
    entries_since = watchdog.journal.entries_since

    def counted(cursor: str | None) -> Iterator[dict[str, str]]:
        for entry in entries_since(cursor):
            read[0] += 1
            yield entry

    watchdog.journal.entries_since = counted  # type: ignore[method-assign]
    watchdog.writer.start()
    return watchdog, read


def _settle(watchdog: Watchdog) -> None:
    deadline = time.monotonic() + 30
    while watchdog.writer.backlog and time.monotonic() < deadline:
        time.sleep(0.05)
    assert watchdog.writer.backlog == 0 and watchdog.writer.db_ok, watchdog.writer.last_error
    watchdog.writer.stop()
    watchdog.writer.join(timeout=10)


def test_reconcile_cursor_skips_the_entries_it_has_read_even_after_a_restart(
    sd: SystemdEnv,
) -> None:
    name = sd.add("rc", "--command", "/bin/true", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    host = f"{sd.prefix}-a"
    with sd.engine.begin() as conn:  # this host starts here; the sandbox's past is not ours
        start = Journal(str(sd.systemd.journal_dir)).current_cursor() or ""
        set_state(conn, journal_cursor_key(host), start)
    for _ in range(RUNS):
        sd.systemd.systemctl("start", f"smartcron-{name}.service")

    first, read = _watchdog(sd, host)
    assert first.reconcile() == RUNS
    many = read[0]
    assert many >= RUNS * 3  # starting, exit, deactivated (and more) per run
    assert first.reconcile() == 0
    assert read[0] - many < 10  # only what came after: nothing of the 40 runs again
    _settle(first)

    again, read_again = _watchdog(sd, host)  # a restart: the cursor comes from the database
    assert again.reconcile() == 0
    assert read_again[0] < 10
    _settle(again)
    with sd.engine.connect() as conn:
        recorded = conn.execute(
            sa.select(sa.func.count())
            .select_from(executions)
            .where(executions.c.task_name == name, executions.c.outcome == "success")
        ).scalar_one()
        own = get_state(conn, journal_cursor_key(host))
        shared = get_state(conn, JOURNAL_CURSOR)
    assert recorded == RUNS
    assert own and own != start and shared is None  # the host's own key, no shared one

    # Reconciling runs already recorded reads their output tails again only if never read.
    with sd.engine.begin() as conn:
        set_state(conn, journal_cursor_key(host), start)
        for parity, tail in ((0, ""), (1, None)):  # half read already, half never read
            conn.execute(
                executions.update()
                .where(executions.c.task_name == name, executions.c.id % 2 == parity)
                .values(output_tail=tail)
            )
        unread = conn.execute(
            sa.select(sa.func.count())
            .select_from(executions)
            .where(executions.c.task_name == name, executions.c.output_tail.is_(None))
        ).scalar_one()
    replay, _ = _watchdog(sd, host)
    assert replay.reconcile() == RUNS
    deadline = time.monotonic() + 30
    while replay.writer.backlog and time.monotonic() < deadline:
        time.sleep(0.05)
    assert replay.writer.backlog == 0
    assert len(replay.writer._refresh) == unread and 0 < unread < RUNS
    _settle(replay)


def test_reconcile_cursor_is_per_host_with_the_shared_key_as_fallback(db: TestDB) -> None:
    from smartcron.db.state import journal_cursor

    long_host = "h" * 80
    with db.engine.begin() as conn:
        set_state(conn, JOURNAL_CURSOR, "s=legacy")
        set_state(conn, journal_cursor_key("a"), "s=a")
        set_state(conn, journal_cursor_key(long_host), "s=long")
    with db.engine.connect() as conn:
        assert journal_cursor(conn, "a") == "s=a"
        assert journal_cursor(conn, "b") == "s=legacy"  # no key of its own yet
        assert journal_cursor(conn, long_host) == "s=long"
    assert len(journal_cursor_key(long_host)) <= 64
    assert journal_cursor_key("a") != journal_cursor_key("b")
