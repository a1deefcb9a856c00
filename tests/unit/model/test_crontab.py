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
    parsed = crontab.parse("@fortnightly echo x\n* * * *\n", system=False)
    assert [p.split(":")[0] for p in parsed.problems] == ["line 1", "line 2"]
    assert "@reboot" in parsed.problems[0]


def test_percent_is_standard_input_like_cron() -> None:
    parsed = crontab.parse("* * * * * mail -s hi root%body text%second\n", system=False)
    data = parsed.entries[0].data
    assert data["command"][-1] == "mail -s hi root"
    assert data["stdin"] == "body text\nsecond\n"


def test_percent_escapes_follow_cronie() -> None:
    # Before the first unescaped %: \% is %, other backslashes stay. After it: \% is %,
    # % is a newline, \x stays \x, and a newline ends the input.
    assert crontab.split_command(r"date +\%d") == ("date +%d", None)
    assert crontab.split_command(r"echo a\\%in") == ("echo a\\\\", "in\n")
    assert crontab.split_command(r"cat%a\%b%c\d") == ("cat", "a%b\nc\\d\n")
    assert crontab.split_command("cat%a%") == ("cat", "a\n")
    assert crontab.split_command("cat%") == ("cat", "")
    assert crontab.split_command("echo x\\ ") == ("echo x\\ ", None)  # trailing "\ " kept


def test_environment_lines_are_read_like_cronie_load_env() -> None:
    assert crontab.load_env("SHELL = /bin/bash") == ("SHELL", "/bin/bash")
    assert crontab.load_env('GREETING = "hello world"  ') == ("GREETING", "hello world")
    assert crontab.load_env("QUOTED='a # b'") == ("QUOTED", "a # b")
    assert crontab.load_env("EMPTY=") == ("EMPTY", "")
    assert crontab.load_env("X=value with spaces   ") == ("X", "value with spaces")
    assert crontab.load_env('X="unterminated') is None
    assert crontab.load_env('X="a" b') is None  # text after a closing quote
    assert crontab.load_env("5 * * * * cmd=1") is None
    assert crontab.load_env("* * * * * FOO=bar") is None


def test_tz_goes_to_the_job_and_cron_tz_is_the_schedule_zone() -> None:
    parsed = crontab.parse(
        "TZ=Europe/London\nCRON_TZ=America/New_York\n0 9 * * * date\n", system=False
    )
    data = parsed.entries[0].data
    assert data["timezone"] == "America/New_York"
    assert data["env"] == {"TZ": "Europe/London"}


def test_lines_split_on_newline_only() -> None:
    parsed = crontab.parse("* * * * * echo a\u2028b\x0cc\x1cd\n", system=False)
    assert len(parsed.entries) == 1
    assert parsed.entries[0].data["command"][-1] == "echo a\u2028b\x0cc\x1cd"


def test_fields_are_separated_by_blanks_only() -> None:
    parsed = crontab.parse("*\t*  * * *\techo  two  spaces \n", system=False)
    assert parsed.entries[0].data["schedule"] == "* * * * *"
    assert parsed.entries[0].data["command"][-1] == "echo  two  spaces "


def test_mailto_suggests_an_alert_channel() -> None:
    parsed = crontab.parse("MAILTO=ops@example.com\n* * * * * true\n", system=False)
    assert any("ops@example.com" in n and "--channel" in n for n in parsed.notes)
