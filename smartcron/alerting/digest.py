"""The digest message: a pure function of a gathered snapshot (model/digest.Snapshot).

People read it first as plain text (chat, the text part of an e-mail): what needs attention
comes first, or "Nothing went wrong." when that is so; then the counts, the runs that failed
for good with their meanings (a retried attempt is counted, not listed), late runs, skipped
and not-run runs (a run another host ran is counted, not listed), open alerts, backups and
the health score, and per host when several share the database. The HTML part is made by
the one message builder (notices.render), which escapes everything.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import replace
from zoneinfo import ZoneInfo

from smartcron.alerting.notices import INFO, WARNING, Notice, Section, render
from smartcron.model.digest import DAILY, NOT_LISTED, Period, RunLine, Snapshot
from smartcron.model.outcome import OUTCOMES

NOTHING_WRONG = "Nothing went wrong."
MAX_LINES = 40  # per list; the rest is one command away
KIND = "digest"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _local(moment: dt.datetime, period: Period, *, day: bool = False) -> str:
    local = moment.astimezone(ZoneInfo(period.zone))
    return f"{local:%a %Y-%m-%d %H:%M}" if day or period.kind != DAILY else f"{local:%H:%M}"


def period_words(period: Period) -> str:
    """Return "Sun 2026-03-29 in Europe/Berlin (23 hours: the clocks changed)"."""
    first = f"{period.first:%a %Y-%m-%d}"
    days = first if period.first == period.last else f"{first} to {period.last:%a %Y-%m-%d}"
    hours = period.hours()
    expected = 24 * ((period.last - period.first).days + 1)
    shown = f"{hours:g} hours" + (": the clocks changed" if hours != expected else "")
    return f"{days} in {period.zone} ({shown})"


def _capped(lines: list[str], more: str) -> list[str]:
    if len(lines) <= MAX_LINES:
        return lines
    return [*lines[:MAX_LINES], f"... and {len(lines) - MAX_LINES} more: {more}"]


def _run_lines(
    runs: Sequence[RunLine], period: Period, several_hosts: bool, *, attempts: bool = False
) -> list[str]:
    out = []
    for run in runs:
        where = f" on {run.host}" if several_hosts and run.host else ""
        tries = f", after {run.attempt} attempts" if attempts and run.attempt > 1 else ""
        meaning = run.meaning or OUTCOMES.get(run.outcome, run.outcome)
        out.append(f"{_local(run.started_at, period)} {run.task}{where}{tries}: {meaning}")
    return out


def _counts_words(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "no runs"
    parts = [f"{counts[o]} {OUTCOMES.get(o, o)}" for o in OUTCOMES if counts.get(o)]
    parts += [f"{n} {o}" for o, n in sorted(counts.items()) if o not in OUTCOMES and n]
    return f"{_plural(total, 'run')}: {', '.join(parts)}"


def _runs_words(snapshot: Snapshot) -> str:
    """The Runs line: every row by outcome (each attempt of a retried run is one), and why
    its counts differ from the lists below."""
    counts = totals(snapshot)
    notes = []
    if snapshot.retried:
        notes.append(
            f"{_plural(snapshot.retried, 'failed attempt')} retried by a later attempt of the "
            "same run (not listed as failures)"
        )
    notes += [
        f"{counts[o]} {OUTCOMES.get(o, o)}, as `placement: one` intends (counted, not listed)"
        for o in NOT_LISTED
        if counts.get(o)
    ]
    return "; ".join([_counts_words(counts), *notes])


def totals(snapshot: Snapshot) -> dict[str, int]:
    """Return the runs of every host together, by outcome."""
    out: dict[str, int] = {}
    for per_host in snapshot.counts.values():
        for outcome, runs in per_host.items():
            out[outcome] = out.get(outcome, 0) + runs
    return out


def problems(snapshot: Snapshot) -> list[str]:
    """Return what needs attention, in words ("2 failed runs"); empty when nothing went
    wrong."""
    found = []
    failed = len(snapshot.failures)
    if failed:
        attempts = f" ({_plural(failed + snapshot.retried, 'failed attempt')})"
        found.append(_plural(failed, "failed run") + (attempts if snapshot.retried else ""))
    for count, word in (
        (len(snapshot.late), "late run"),
        (len(snapshot.skipped), "skipped run"),
        (len(snapshot.open_alerts), "open alert"),
    ):
        if count:
            found.append(_plural(count, word))
    if snapshot.score is None:  # no watchdog checked: "nothing went wrong" would be a guess
        found.append("no health checks recorded")
    return found


def _score_words(snapshot: Snapshot) -> str:
    if snapshot.score is None:
        return (
            "none recorded in this period: no watchdog ran its health checks, so runs may "
            "have gone unrecorded (systemctl status smartcron-watchdog)"
        )
    lowest = snapshot.lowest_score
    low = f" (lowest {lowest:.0f})" if lowest is not None and lowest < snapshot.score else ""
    return f"{snapshot.score:.0f} of 100 at the end of the period{low}"


def _backup_words(snapshot: Snapshot) -> str:
    if not snapshot.backups:
        return (
            f"none in {snapshot.backup_dir or 'backup_dir'}; the daily maintenance job "
            "(smartcron-maintenance.timer) takes one"
        )
    names = ", ".join(f"{name} ({_local(at, snapshot.period)})" for at, name in snapshot.backups)
    return f"{len(snapshot.backups)}: {names}"


def compose(snapshot: Snapshot, *, note: str = "") -> Notice:
    """Given a snapshot (and a note such as "this digest is late"), return the digest."""
    period = snapshot.period
    several = len([h for h in snapshot.counts if h]) > 1 or len(snapshot.hosts) > 1
    wrong = problems(snapshot)
    verdict = NOTHING_WRONG if not wrong else f"Needs attention: {', '.join(wrong)}."
    sections: list[Section] = [("", note)] if note else []
    sections += [
        ("", verdict),
        ("Period", period_words(period)),
        ("Runs", _runs_words(snapshot)),
        ("Health score", _score_words(snapshot)),
        ("Backups", _backup_words(snapshot)),
    ]
    lists: list[tuple[str, list[str], str]] = [
        ("Failures", _run_lines(snapshot.failures, period, several, attempts=True),
         "smartcron runs --failed"),
        ("Late runs (due, not started)", [
            f"{_local(x.noticed_at, period)} {x.task}: {x.message}" for x in snapshot.late
        ], "smartcron health"),
        ("Skipped or not run", _run_lines(snapshot.skipped, period, several), "smartcron runs"),
        ("Open alerts now", [
            f"#{a.id} {a.task or '(system)'} {a.kind}, {a.state} since "
            f"{_local(a.opened_at, period, day=True)}: {a.summary}"
            for a in snapshot.open_alerts
        ], "smartcron alerts"),
    ]  # fmt: skip
    for label, lines, more in lists:
        if lines:
            sections.append((label, _capped(lines, more)))
    if several:
        per_host = [
            f"{host or '(no host recorded)'}: {_counts_words(snapshot.counts.get(host, {}))}"
            for host in sorted(set(snapshot.hosts) | set(snapshot.counts))
        ]
        sections.append(("Per host", per_host))
    what = "weekly digest" if period.kind != DAILY else "digest"
    days = (
        f"{period.first:%a %Y-%m-%d}"
        if period.first == period.last
        else f"{period.first:%Y-%m-%d} to {period.last:%Y-%m-%d}"
    )
    title = f"smartcron {what} for {days}: " + (
        "nothing went wrong" if not wrong else ", ".join(wrong)
    )
    notice = render(KIND, severity=INFO if not wrong else WARNING, title=title,
                    sections=sections, task=None)  # fmt: skip
    # The builder sets each list apart with blank lines; one between sections reads better.
    return replace(notice, text=re.sub(r"\n{3,}", "\n\n", notice.text))
