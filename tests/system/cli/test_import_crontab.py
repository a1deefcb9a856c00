"""`smartcron import-crontab` end to end: crontab lines become tasks, or nothing does."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from support import TestDB, invoke

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
    file.write_text("0 * * * * echo fine\n0 25 * * * echo bad hour\n*/ * * * * cat\n")
    before = db.snapshot()
    result = invoke(runner, "import-crontab", str(file))
    assert result.exit_code == 2
    assert "line 2: schedule hour field: '25'" in result.stderr
    assert "line 3: schedule minute field: '*/'" in result.stderr  # an empty step
    assert db.snapshot() == before
    skipped = invoke(runner, "import-crontab", str(file), "--skip-invalid")
    assert skipped.exit_code == 0, skipped.stderr
    assert [t["schedule"] for t in json.loads(invoke(runner, "task", "list", "--json").stdout)] == [
        "0 * * * *"
    ]


def test_import_crontab_percent_becomes_stdin_and_reaches_the_database(
    runner: CliRunner, db: TestDB, tmp_path: Path
) -> None:
    file = tmp_path / "stdin.crontab"
    file.write_text("SHELL = /bin/bash\nTZ=Europe/London\n0 22 * * 1-5 mail -s hi joe%Joe,%%bye%\n")
    dry = invoke(runner, "import-crontab", str(file), "--dry-run")
    assert "stdin: Joe, /  / bye" in dry.stdout  # the preview shows what the job will read
    result = invoke(runner, "import-crontab", str(file))
    assert result.exit_code == 0, result.stderr
    (task,) = json.loads(invoke(runner, "task", "list", "--json").stdout)
    shown = json.loads(invoke(runner, "task", "show", task["name"], "--json", "--show-env").stdout)
    assert shown["command"] == ["/bin/bash", "-c", "mail -s hi joe"]
    assert shown["stdin"] == "Joe,\n\nbye\n"
    assert shown["env"] == {"TZ": "Europe/London"}
