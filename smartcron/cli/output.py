"""Small output helpers shared by the CLI commands."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import click

from smartcron.model import schedule

# The largest id the database holds (BIGINT): a larger one on the command line is refused.
MAX_ID = 2**63 - 1


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Given headers and rows, return a left-aligned plain-text table."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def echo_json(data: Any) -> None:
    """Print data as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def now() -> dt.datetime:
    """Return the current time, aware UTC (one place, so tests and commands agree)."""
    return dt.datetime.now(dt.UTC)


def echo_dst_notes(schedule_text: str, timezone: str, prefix: str = "") -> None:
    """Print the DST notes of a schedule for the coming year (what happens at clock changes)."""
    for note in schedule.dst_warnings(schedule_text, timezone, dt.datetime.now(dt.UTC)):
        click.echo(f"{prefix}DST note: {note}")
