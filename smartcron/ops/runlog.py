"""The log of one run, as the CLI (`smartcron logs`) and the dashboard's run page show it.

In order: the run's own output from the journal; when it printed nothing, systemd's own
messages about it (a program that could not be started prints nothing, but systemd says why);
when the journal no longer has it, the output tail stored with the run, saying so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from smartcron.db.records import incomplete_note
from smartcron.model.outcome import RUNNING
from smartcron.systemd.journal import Journal, RunWindow


@dataclass(frozen=True)
class RunLog:
    text: str
    source: str  # journal, systemd, stored, none
    note: str  # what people need to know about where the text came from ("" for journal)


def run_log(journal: Journal, row: Any) -> RunLog:
    """Given a run's row, return its log and where it came from."""
    window = RunWindow(row.invocation_id, row.task_name, row.started_at, row.finished_at)
    text = journal.output(window)
    incomplete = incomplete_note(row)
    if text or row.outcome == RUNNING:
        return RunLog(text, "journal", incomplete)
    said = journal.systemd_messages(row.invocation_id)
    if said:
        return RunLog(
            "".join(line + "\n" for line in said),
            "systemd",
            f"run {row.id} printed nothing; these are systemd's own messages about it",
        )
    if row.output_tail:
        return RunLog(
            row.output_tail,
            "stored",
            f"the journal no longer has run {row.id}; this is the last part of its output, "
            "stored with the run",
        )
    return RunLog("", "none", f"run {row.id} printed nothing, and systemd said nothing about it")


# Words that mark a line as an error report in the output of the usual shop jobs (shell tools,
# Python, PHP, curl, database clients). A heuristic: the run page says which rule picked it.
_ERROR_WORDS = re.compile(
    r"error|fail|fatal|exception|traceback|denied|refused|not found|no such|cannot|can't|"
    r"unable|timed? ?out|panic|abort",
    re.IGNORECASE,
)


def last_error_line(text: str) -> tuple[str, str] | None:
    """Given a failed run's log, return ("Last error line", line) for the last line that reads
    as an error, else ("Last output line", line) for its last line; None for no output."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    for line in reversed(lines):
        if _ERROR_WORDS.search(line):
            return "Last error line", line[:500]
    return "Last output line", lines[-1][:500]
