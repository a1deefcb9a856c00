"""The crontab corpus of tests/data/crontabs (other projects' real crontabs, typed there with
their sources): every entry is read as cron reads it, commands byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartcron.model import crontab
from smartcron.model.validate import validate_task

DATA = Path(__file__).parents[2] / "data" / "crontabs"


def _read(name: str, system: bool) -> crontab.ParsedCrontab:
    return crontab.parse((DATA / name).read_text(encoding="utf-8"), system=system)


@pytest.mark.parametrize(
    ("name", "system"),
    [
        ("debian-crontab", True),
        ("debian-cron.d", True),
        ("cronie-example", False),
        ("env-forms", False),
    ],
)
def test_corpus_imports_without_problems_and_validates(name: str, system: bool) -> None:
    parsed = _read(name, system)
    assert parsed.problems == []
    for entry in parsed.entries:
        validate_task(entry.data, check_host=False)


def test_debian_crontab_commands_byte_exact() -> None:
    parsed = _read("debian-crontab", True)
    assert [(e.line, e.data["schedule"], e.data["command"]) for e in parsed.entries] == [
        (19, "17 * * * *", ["/bin/sh", "-c", "cd / && run-parts --report /etc/cron.hourly"]),
        (
            20,
            "25 6 * * *",
            [
                "/bin/sh",
                "-c",
                "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }",
            ],
        ),
        (
            21,
            "47 6 * * 7",
            [
                "/bin/sh",
                "-c",
                "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.weekly; }",
            ],
        ),
        (
            22,
            "52 6 1 * *",
            [
                "/bin/sh",
                "-c",
                "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.monthly; }",
            ],
        ),
    ]


def test_debian_cron_d_escaped_percent_and_tabs() -> None:
    entries = {e.line: e.data for e in _read("debian-cron.d", True).entries}
    assert entries[4]["schedule"] == "5-55/10 * * * *"
    assert entries[8]["command"][-1] == (
        "[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then "
        "/usr/lib/php/sessionclean; fi"
    )
    assert entries[14]["command"][-1].startswith("[ -x /etc/init.d/anacron ]")  # after a tab
    assert "$(date +%d)" in entries[16]["command"][-1]  # \% is a literal % (mdadm)
    assert "stdin" not in entries[16]
    assert entries[4]["env"] == {"PATH": "/usr/lib/sysstat:/usr/sbin:/usr/sbin:/usr/bin:/sbin:/bin"}


def test_cronie_man_page_example() -> None:
    parsed = _read("cronie-example", False)
    entries = {e.line: e.data for e in parsed.entries}
    assert all(d["timezone"] == "Japan" for d in entries.values())  # CRON_TZ=Japan
    assert entries[12]["command"][-1] == 'mail -s "It\'s 10pm" joe'
    assert entries[12]["stdin"] == "Joe,\n\nWhere are your kids?\n"
    # The man page's "every 58 minutes" line: cron cuts the command at `date +` and feeds the
    # rest as input, which is what smartcron must reproduce (not what the author meant).
    assert entries[15]["command"][-1] == "if [ $(expr \\( $(date +"
    assert (
        entries[15]["stdin"]
        == "s) / 60 \\) \n 58) = 0 ]; then echo this runs every 58 minutes; fi\n"
    )
    assert any("paul" in n for n in parsed.notes)


def test_env_forms_file() -> None:
    parsed = _read("env-forms", False)
    first = parsed.entries[0].data
    assert first["command"][0] == "/bin/bash"  # SHELL = /bin/bash
    assert first["env"] == {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "GREETING": "hello world",
        "QUOTED": "a # b",
        "EMPTY": "",
        "TRAILING": "value with spaces",
        "TZ": "Europe/London",
    }
    assert first["timezone"] == "America/New_York"
    assert first["command"][-1] == "cat; echo 100% done \\\\"
    assert first["stdin"] == "stdin line\nsecond line\n"
    assert parsed.entries[1].data["command"][-1] == "echo escaped trailing space\\ "
    assert parsed.entries[2].data["command"][-1] == "echo \u2028 not a line break \x0c neither"
    assert len(parsed.entries) == 3
