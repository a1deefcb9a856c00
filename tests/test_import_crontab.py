"""`smartcron import-crontab`: crontab(5) lines become tasks, or nothing does."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from smartcron.model import crontab

from conftest import TestDB, invoke

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
    assert "user" not in parsed.entries[1].data  # root is the default


def test_parse_reports_unsupported_lines_with_numbers() -> None:
    parsed = crontab.parse(
        "* * * * * mail -s hi root%body text\n@fortnightly echo x\n* * * *\n", system=False
    )
    assert [p.split(":")[0] for p in parsed.problems] == ["line 1", "line 2", "line 3"]
    assert "standard input" in parsed.problems[0]


def test_import_crontab_adds_tasks(runner: CliRunner, db: TestDB, tmp_path: Path) -> None:
    file = tmp_path / "my.crontab"
    file.write_text(USER_CRONTAB)
    dry = invoke(runner, "import-crontab", str(file), "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(invoke(runner, "task", "list", "--json").stdout) == []
    result = invoke(runner, "import-crontab", str(file))
    assert result.exit_code == 0, result.stderr
    tasks = json.loads(invoke(runner, "task", "list", "--json").stdout)
    assert len(tasks) == 4
    assert {t["timezone"] for t in tasks} == {"Pacific/Auckland"}


def test_import_crontab_with_invalid_line_imports_nothing(
    runner: CliRunner, db: TestDB, tmp_path: Path
) -> None:
    file = tmp_path / "bad.crontab"
    file.write_text("0 * * * * echo fine\n0 25 * * * echo bad hour\n* * * * * cat%stdin\n")
    before = db.snapshot()
    result = invoke(runner, "import-crontab", str(file))
    assert result.exit_code == 2
    assert "line 2: schedule hour field: '25'" in result.stderr
    assert "line 3: '%' passes standard input" in result.stderr
    assert db.snapshot() == before
    skipped = invoke(runner, "import-crontab", str(file), "--skip-invalid")
    assert skipped.exit_code == 0, skipped.stderr
    assert [t["schedule"] for t in json.loads(invoke(runner, "task", "list", "--json").stdout)] == [
        "0 * * * *"
    ]
