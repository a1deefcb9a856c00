"""Runs and alerts as plain JSON objects: one shape for `--json` output and the HTTP API."""

from __future__ import annotations

from typing import Any

from smartcron.model.outcome import GROUP_WAIT_TIMEOUT


def incomplete_note(row: Any) -> str:
    """Return "" or the note that journald dropped lines of this run's output."""
    dropped = row._mapping.get("lines_dropped")
    if not dropped:
        return ""
    return f"Output incomplete: journald suppressed {dropped} line(s) of it."


def wait_note(row: Any) -> str:
    """Return "" or how long the run waited for a slot of its concurrency group."""
    waited = row._mapping.get("wait_seconds")
    if waited is None or (row._mapping.get("meaning") or "").startswith(GROUP_WAIT_TIMEOUT):
        return ""  # none, or the meaning says it already (model/outcome.explain)
    if row._mapping.get("started_at") is None and row._mapping.get("outcome") != "running":
        return (
            f"It was still waiting for a slot of its concurrency group after {waited:.1f} s: "
            "its command never started (the wait counts against the timeout)."
        )
    return (
        f"It waited {waited:.1f} s for a slot of its concurrency group before its command "
        "started (the wait counts against the timeout)."
    )


def run_meaning(row: Any) -> str:
    """Return a run's meaning as people read it: with the notes about a concurrency group
    wait and lost output, if any."""
    notes = " ".join(n for n in (wait_note(row), incomplete_note(row)) if n)
    return f"{row.meaning or ''} {notes}".strip() if notes else row.meaning or ""


def run_dict(row: Any) -> dict[str, Any]:
    """Given an executions row, return the run as the JSON object `runs --json` prints."""
    m = row._mapping
    return {
        "id": m["id"],
        "task": m["task_name"],
        "invocation_id": m["invocation_id"],
        "trigger": m["trigger"],
        "attempt": m["attempt"],
        "started_at": m["started_at"].isoformat() if m["started_at"] else None,
        "finished_at": m["finished_at"].isoformat() if m["finished_at"] else None,
        "duration_s": m["duration_s"],
        "result": m["result"],
        "exit_code": m["exit_code"],
        "signal": m["exit_signal"],
        "outcome": m["outcome"],
        "meaning": m["meaning"],
        "lines_dropped": m.get("lines_dropped"),
        "host": m.get("host"),
        "wait_seconds": m.get("wait_seconds"),
    }


def alert_dict(r: Any, delivery: Any = None) -> dict[str, Any]:
    """Given an alerts row (and its latest outbox message), return the alert as the JSON
    object `alerts --json` prints."""
    from smartcron.db.alerts import delivery_words

    return {
        "id": r.id,
        "task": r.task_name,
        "kind": r.kind,
        "state": r.state,
        "severity": r.severity,
        "summary": r.summary,
        "failures": r.failure_count,
        "notified": r.notify_count,
        "opened_at": r.opened_at.isoformat() if r.opened_at else None,
        "resolved_at": r.resolved_at.isoformat() if r.resolved_at else None,
        "delivery": delivery_words(delivery),
        "delivered": None if delivery is None else delivery.state == "sent",
        "host": r._mapping.get("host"),
    }
