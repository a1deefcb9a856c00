"""The digest: gather a period's snapshot, and send each digest exactly once.

"Once" across watchdogs on several hosts (and `smartcron digest --send`) comes from the claims
table, as for host-down alerts: the claim `digest:daily` (or `digest:weekly`) at the period's
start and the digest's outbox message are written in one transaction, and the unique key lets
only one of them commit. A digest whose time passed while no watchdog ran is sent when one
starts, saying that it is late.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcron.alerting.delivery import enqueue
from smartcron.alerting.digest import compose
from smartcron.alerting.notices import Notice
from smartcron.alerting.policy import is_final
from smartcron.db import digest as queries
from smartcron.db.claims import holder, insert_claim, lost_race
from smartcron.db.hosts import known_hosts
from smartcron.db.tasks import list_tasks
from smartcron.model.config import Config
from smartcron.model.digest import LATE_AFTER, Period, Snapshot, daily, due_periods, parse_clock
from smartcron.model.zones import host_timezone
from smartcron.ops.backup import backups_between

log = logging.getLogger("smartcron.digest")
DEFAULT_TIME = "07:30"  # the time a digest printed without digest_time names as its due time


def zone_of(config: Config) -> str:
    """The time zone of the digest's days: digest_timezone, else the host's."""
    return config.digest_timezone or host_timezone()


def period_of_day(config: Config, day: dt.date) -> Period:
    """The daily digest period of one local day."""
    return daily(day, zone_of(config), parse_clock(config.digest_time or DEFAULT_TIME))


def due_now(config: Config, now: dt.datetime) -> list[Period]:
    """The digests that should have been sent by now (none when digest_time is empty)."""
    if not config.digest_time:
        return []
    at = parse_clock(config.digest_time)
    return due_periods(now, zone_of(config), at, config.digest_weekly)


def gather(config: Config, engine: Engine, period: Period) -> Snapshot:
    """Read everything the digest of `period` says: runs, late checks, alerts, scores from
    the database, backups from this host's backup_dir."""
    start, end = period.start, period.end
    with engine.connect() as conn:
        counts = queries.outcome_counts(conn, start, end)
        attempts = queries.failed_runs(conn, start, end)
        tasks = {task.name: task for task in list_tasks(conn)}
        skipped = queries.skipped_runs(conn, start, end)
        late = queries.late_runs(conn, start, end)
        alerts = queries.open_alerts(conn)
        score, lowest = queries.scores(conn, start, end)
        hosts = known_hosts(conn)
    # A failed attempt that a later attempt retries is not a failure to act on: the digest
    # lists the runs that failed for good (as the alert policy decides, is_final) and counts
    # the retried attempts.
    failures = [run for run in attempts if is_final(run, tasks.get(run.task))]
    where = config.backup_dir
    try:
        backups = backups_between(Path(config.backup_dir), start, end)
    except OSError as exc:  # reported in the digest rather than dropping the whole digest
        backups, where = [], f"{config.backup_dir} (cannot be read here: {exc.strerror})"
    return Snapshot(
        period,
        counts,
        failures,
        skipped,
        late,
        alerts,
        backups,
        where,
        score,
        lowest,
        hosts,
        retried=len(attempts) - len(failures),
    )


def lateness(period: Period, now: dt.datetime, sender: str) -> str:
    """Return the note of a digest sent well after its time (by `sender`, in words), or ""."""
    if now - period.due <= LATE_AFTER:
        return ""
    due = period.due.astimezone(dt.UTC)
    return (
        f"This digest is late: it was due at {due:%Y-%m-%d %H:%M} UTC, when no smartcron "
        "watchdog was running to send it (or none could reach the database); "
        f"{sender} sent it at {now.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC."
    )


@dataclass(frozen=True)
class Sent:
    """What sending a digest did: queued it (message id), or found who already had."""

    message_id: int | None
    holder: str = ""


def channels_of(config: Config) -> list[str]:
    """The digest's channels: digest_channels, else every channel."""
    return list(config.digest_channels) or list(config.channels)


def send_once(config: Config, engine: Engine, notice: Notice, period: Period) -> Sent:
    """In one transaction: claim the period's digest for this host and queue its message.
    Return the message id, or who claimed it before."""
    try:
        with engine.begin() as conn:
            insert_claim(conn, period.claim_key, period.start, config.host_name)
            return Sent(enqueue(conn, notice, channels_of(config)))
    except sa.exc.DBAPIError as exc:
        if not lost_race(exc):
            raise
    held = holder(engine, period.claim_key, period.start)
    return Sent(None, held.host if held else "another host")


def already_sent(engine: Engine, period: Period) -> bool:
    return holder(engine, period.claim_key, period.start) is not None


def tick(config: Config, engine: Engine, now: dt.datetime, handled: set[Period]) -> list[str]:
    """The watchdog's digest round: queue each due digest nobody has claimed yet; return what
    it did. `handled` keeps the periods already settled, so a round costs no query then."""
    done = []
    for period in due_now(config, now):
        if period in handled:
            continue
        if not already_sent(engine, period):
            sender = f"the watchdog of {config.host_name}"
            notice = compose(gather(config, engine, period), note=lateness(period, now, sender))
            sent = send_once(config, engine, notice, period)
            who = "queued" if sent.message_id is not None else f"sent by {sent.holder}"
            done.append(f"{period.kind} digest of {period.first} to {period.last} {who}")
        handled.add(period)
    return done
