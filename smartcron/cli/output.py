"""Small output helpers shared by the CLI commands."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from typing import Any

import click

from smartcron.model import schedule

# What a terminal would act on rather than show: C0 controls (ESC starts the sequences that
# move the cursor, retitle the window or clear the screen), DEL, C1 controls (\x9b is CSI) and
# the bidirectional overrides that show text in another order than it runs.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_KEPT_IN_TEXT = "\n\t"  # a multi-line text (a run's output) keeps its lines and tabs


def printable(text: str, *, multiline: bool = False) -> str:
    """Given text from a task, the database or the journal, return it safe for a terminal:
    each control character shown as \\xNN or \\uNNNN; a multi-line text keeps \\n and \\t."""

    def shown(match: re.Match[str]) -> str:
        char = match.group()
        if multiline and char in _KEPT_IN_TEXT:
            return char
        return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"

    return _CONTROL.sub(shown, text)


# The largest id the database holds (BIGINT): a larger one on the command line is refused.
MAX_ID = 2**63 - 1


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Given headers and rows, return a left-aligned plain-text table."""
    cells = [[str(h) for h in headers]]
    cells += [["" if c is None else printable(str(c)) for c in r] for r in rows]
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
