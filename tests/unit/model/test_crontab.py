"""`smartcron import-crontab`: crontab(5) lines become tasks, or nothing does."""

from __future__ import annotations

from smartcron.model import crontab

USER_CRONTAB = """\
# m h dom mon dow command
SHELL=/bin/bash
PATH=/usr/local/bin:/usr/bin:/bin
MAILTO=ops@example.com
CRON_TZ=Pacific/Auckland
*/5 * * * * /usr/bin/echo pos sync | tee -a /var/tmp/pos.log
30 6 * * 1-5 echo "bank import" > /dev/null 2>&1
0 0 1 * * echo 100\\% done
@reboot echo booted
"""


def test_parse_user_crontab_applies_environment_lines() -> None:
    parsed = crontab.parse(USER_CRONTAB, system=False)
    assert parsed.problems == []
    assert len(parsed.entries) == 4
    first = parsed.entries[0]
    assert first.line == 6
    assert first.data["command"] == [
        "/bin/bash",
        "-c",
        "/usr/bin/echo pos sync | tee -a /var/tmp/pos.log",
    ]
    assert first.data["schedule"] == "*/5 * * * *"
    assert first.data["timezone"] == "Pacific/Auckland"
    assert first.data["env"] == {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    assert parsed.entries[2].data["command"][-1] == "echo 100% done"  # \\% is a literal %
    assert parsed.entries[3].data["schedule"] == "@reboot"
    assert any("MAILTO" in n for n in parsed.notes)


def test_parse_system_crontab_reads_user_field() -> None:
    parsed = crontab.parse(
        "17 * * * * www-data cd / && run-parts --report /etc/cron.hourly\n"
        "@daily root /usr/bin/true\n",
        system=True,
    )
    assert parsed.problems == []
    assert parsed.entries[0].data["user"] == "www-data"
    assert parsed.entries[0].data["command"][-1] == "cd / && run-parts --report /etc/cron.hourly"
    # root stays root, written out: never a silent default.
    assert parsed.entries[1].data["user"] == "root"


def test_parse_reports_unsupported_lines_with_numbers() -> None:
    parsed = crontab.parse(
        "* * * * * mail -s hi root%body text\n@fortnightly echo x\n* * * *\n", system=False
    )
    assert [p.split(":")[0] for p in parsed.problems] == ["line 1", "line 2", "line 3"]
    assert "standard input" in parsed.problems[0]
