"""The CLI's output helpers: text from tasks and the journal made safe for a terminal."""

from __future__ import annotations

from smartcron.cli.output import printable, table


def test_printable_escapes_control_characters_and_keeps_lines_only_in_text() -> None:
    hostile = "a\x1b[2Jb\x07\x9b\u202ec\td\ne\r"
    assert printable(hostile) == "a\\x1b[2Jb\\x07\\x9b\\u202ec\\x09d\\x0ae\\x0d"
    assert printable(hostile, multiline=True) == "a\\x1b[2Jb\\x07\\x9b\\u202ec\td\ne\\x0d"
    assert printable("café ✓ plain") == "café ✓ plain"


def test_table_escapes_its_cells() -> None:
    assert "\x1b" not in table(["NAME"], [["x\x1b]0;t\x07"]])
