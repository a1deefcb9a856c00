"""smartcron's own journal entries: one per recorded run, one per alert announced.

Each kind has a MESSAGE_ID of its own (kept here; the catalog smartcron/catalog/smartcron.catalog
explains each, and a test holds the two together) and SMARTCRON_* fields, so that
`journalctl MESSAGE_ID=... SMARTCRON_OUTCOME=failed` lists the failed runs and `journalctl -x`
says what an entry means. The entries are written after the database commit, by the thread that
committed (never the D-Bus listener); the database stays the record: an entry journald does not
take is logged, and the run or alert is kept all the same.

Field names are smartcron's own on purpose: INVOCATION_ID, UNIT or SYSLOG_IDENTIFIER=<task>
would make these entries look like systemd's words about a run, or like the task's output, to
the journal readers in systemd/journal.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

from smartcron.model.outcome import FAILURE_OUTCOMES, NOT_RUN
from smartcron.systemd import journal

log = logging.getLogger("smartcron.journal")

# Generated once with `systemd-id128 new`; never change them: saved searches and the catalog
# use them.
MSG_RUN_RECORDED = "621bed007a374b73b7abb7bc1e29c038"
MSG_ALERT_RAISED = "114be41d152343b3946f7acee6b6bf72"
MESSAGE_IDS = (MSG_RUN_RECORDED, MSG_ALERT_RAISED)

CATALOG_NAME = "smartcron.catalog"
# journalctl reads catalogs from /usr/local/lib/systemd/catalog/ and /usr/lib/systemd/catalog/;
# install.sh installs smartcron into /opt and /usr/local, so its catalog goes to the former.
CATALOG_DIR = "/usr/local/lib/systemd/catalog"


def catalog() -> str:
    """Return the message catalog that explains these entries (journalctl -x)."""
    return (resources.files("smartcron.catalog") / CATALOG_NAME).read_text(encoding="utf-8")


# syslog priorities, journald's PRIORITY= (sd-daemon.h)
CRIT, ERR, WARNING, NOTICE, INFO = 2, 3, 4, 5, 6
# A task's priority (model/task.py PRIORITIES) as its alert's syslog priority.
ALERT_PRIORITIES = {"critical": CRIT, "high": ERR, "normal": WARNING, "low": NOTICE}


def run_priority(outcome: str) -> int:
    """Given a run's outcome, return its entry's PRIORITY: err for a failure, warning for a
    chained run that did not happen, info for success and the runs skipped by decision."""
    if outcome in FAILURE_OUTCOMES:
        return ERR
    if outcome == NOT_RUN:
        return WARNING
    return INFO


def run_entry(run: Mapping[str, Any], host: str | None) -> dict[str, str]:
    """Given a finished run's column values (with its id), return its journal entry."""
    task = str(run["task_name"])
    outcome = str(run["outcome"])
    return {
        "MESSAGE": f"{task}: {run.get('meaning') or outcome}",
        "MESSAGE_ID": MSG_RUN_RECORDED,
        "PRIORITY": str(run_priority(outcome)),
        "SMARTCRON_TASK": task,
        "SMARTCRON_OUTCOME": outcome,
        "SMARTCRON_RUN": str(run["id"]),
        "SMARTCRON_HOST": host or "",
        "SMARTCRON_ATTEMPT": str(run.get("attempt") or 1),
        # The task unit's invocation: `journalctl _SYSTEMD_INVOCATION_ID=` shows its output.
        "SMARTCRON_INVOCATION": str(run.get("invocation_id") or ""),
    }


def alert_entry(alert: Any, host: str | None) -> dict[str, str]:
    """Given an alert row just announced (its message queued), return its journal entry."""
    task = alert.task_name or ""
    fields = {
        "MESSAGE": f"{task or 'smartcron'}: {alert.kind} alert: {alert.summary}",
        "MESSAGE_ID": MSG_ALERT_RAISED,
        "PRIORITY": str(ALERT_PRIORITIES.get(alert.severity, ERR)),
        "SMARTCRON_ALERT": str(alert.id),
        "SMARTCRON_ALERT_KIND": str(alert.kind),
        "SMARTCRON_TASK": task,
        "SMARTCRON_HOST": host or "",
        # 1 for the first message, then each reminder (renotify_interval).
        "SMARTCRON_NOTICE": str((alert.notify_count or 0) + 1),
    }
    if alert.execution_id:
        fields["SMARTCRON_RUN"] = str(alert.execution_id)
    return fields


class EntryWriter:
    """Send entries to the journal; say once (not per entry) when journald refuses them."""

    def __init__(self, send: Callable[[dict[str, str]], str] = journal.send) -> None:
        self._send = send
        self.sent = 0
        self.problem = ""

    def write(self, fields: dict[str, str]) -> bool:
        """Send one entry; return False (logged) if journald did not take it."""
        problem = self._send(fields)
        if problem:
            if problem != self.problem:
                log.warning(
                    "could not write smartcron's journal entry %r: %s. The database has it "
                    "all the same; check that systemd-journald is running "
                    "(further failures like this one are not logged).",
                    fields.get("MESSAGE", ""),
                    problem,
                )
            self.problem = problem
            return False
        if self.problem:
            log.info("journald takes smartcron's entries again (it said: %s)", self.problem)
            self.problem = ""
        self.sent += 1
        return True

    def runs(self, recorded: list[dict[str, Any]], host: str | None) -> None:
        """Write one entry per recorded finished run."""
        for run in recorded:
            self.write(run_entry(run, host))

    def alert(self, alert: Any, host: str | None) -> None:
        """Write the entry of an alert just announced."""
        self.write(alert_entry(alert, host))
