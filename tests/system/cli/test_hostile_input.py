"""Issue 13, cases 7 and 8 on the command line (SQLite and MariaDB): hostile sizes, YAML that
means something else than it says, and a damaged or unreachable database. Each is refused in
one line that names the field (exit 2) or says what to do (exit 1), never a traceback, and
nothing is written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from support import TestDB, invoke

ADD = ["task", "add", "big", "--command", "/bin/true", "--schedule", "@daily"]


def _refused(result: object, code: int, starts: str) -> str:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.exit_code == code, (result.stdout, stderr)  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(starts), lines
    return str(lines[0])


HUGE_VALUES = [
    ("--timeout", "99999999999999999999d", "timeout"),
    ("--timeout", "9" * 5000, "timeout"),
    ("--timeout", "99999999d", "timeout"),
    ("--timeout", "366d", "timeout"),
    ("--retry-delay", "99999999999d", "retry_delay"),
    ("--warn-after", "1000000d", "warn_after"),
    ("--memory-max", "99999999999999999T", "memory_max"),
    ("--memory-max", "1025T", "memory_max"),
    ("--memory-max", "9" * 400, "memory_max"),
    ("--memory-max", "1Q", "memory_max"),
    ("--nice", "99999999999999999999999", "nice"),
    ("--retries", "9" * 5000, "retries"),
    ("--alert-after", "99999999999999999999", "alert_after"),
    ("--cpu-quota", "99999999999999999999%", "cpu_quota"),
    ("--cpu-quota", "²%", "cpu_quota"),
    ("--description", "x" * 201, "description"),
    ("--schedule", "Mon *-*-* 00:00:00 " + "x" * 300, "schedule"),
]


@pytest.mark.parametrize(("option", "value", "field"), HUGE_VALUES)
def test_hostile_size_is_refused_naming_the_field(
    runner: CliRunner, db: TestDB, option: str, value: str, field: str
) -> None:
    before = db.snapshot()
    args = [*ADD, option, value] if option != "--schedule" else [*ADD[:5], option, value]
    line = _refused(invoke(runner, *args), 2, f"error: {field}:")
    assert "is not valid" in line
    assert db.snapshot() == before


def test_largest_values_are_accepted_and_stored(runner: CliRunner, db: TestDB) -> None:
    result = invoke(
        runner, *ADD, "--timeout", "365d", "--retries", "10", "--retry-delay", "365d",
        "--memory-max", "1024T", "--warn-after", "365d",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    shown = json.loads(invoke(runner, "task", "show", "big", "--json").stdout)
    assert (shown["timeout"], shown["retry_delay"], shown["memory_max"]) == (
        "365d",
        "365d",
        "1024T",
    )


@pytest.mark.parametrize(
    "args",
    [
        ["logs", "x", "--run", "99999999999999999999999"],
        ["alerts", "ack", "99999999999999999999999"],
        ["alerts", "resolve", "-1"],
        ["runs", "--limit", "99999999999999999999"],
    ],
)
def test_hostile_ids_on_the_command_line_exit_2(runner: CliRunner, args: list[str]) -> None:
    result = invoke(runner, *args)
    assert result.exit_code == 2 and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RETENTION_DAYS", "99999999999999999999"),
        ("RETENTION_DAYS", "36501"),
        ("BACKUP_KEEP_DAILY", "0"),
        ("TIMER_ACCURACY", "99999999999999999999d"),
        ("RENOTIFY_INTERVAL", "99999999d"),
        ("SESSION_MAX_AGE", "1000d"),
        ("DEFAULT_USER", "root"),
        ("TRUSTED_PROXIES", "10.0.0.1/8"),
    ],
)
def test_hostile_setting_is_refused_naming_it(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"SMARTCRON_{name}", value)
    _refused(invoke(runner, "task", "list"), 2, f"error: SMARTCRON_{name}:")


# YAML: a value means what it says, or it is refused.


def _import(runner: CliRunner, tmp_path: Path, body: str) -> object:
    file = tmp_path / "tasks.yaml"
    file.write_text("version: 1\ntasks:\n" + body)
    return invoke(runner, "import", str(file))


TASK = "- name: perms\n  command: [/bin/true]\n  schedule: '@daily'\n"


def test_yaml_octal_and_sexagesimal_stay_what_was_written(
    runner: CliRunner, db: TestDB, tmp_path: Path
) -> None:
    result = _import(runner, tmp_path, TASK + "  env: {MODE: 0777, AT: 12:30, DEBUG: yes}\n")
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    shown = json.loads(invoke(runner, "task", "show", "perms", "--json", "--show-env").stdout)
    assert shown["env"] == {"MODE": "0777", "AT": "12:30", "DEBUG": "yes"}  # not 511, 750, true


@pytest.mark.parametrize(
    ("extra", "starts", "says"),
    [
        ("  timeout: 12:30\n", "timeout", "a whole number of seconds"),
        ("  env: {PORT: 8080}\n", "env PORT", "quote values that look like numbers"),
        ("  description: 777\n", "description", "expected text"),
        ("  channels: [777, ops]\n", "channels", "expected text"),
        ("  schedule: '@hourly'\n", "line 6: key 'schedule'", "appears twice"),
        ("  env: {A: x, A: y}\n", "line 6: key 'A'", "appears twice"),
        ("  timezone: 12\n", "timezone", "IANA"),
    ],
)
def test_yaml_wrong_type_or_duplicate_key_is_refused(
    runner: CliRunner, db: TestDB, tmp_path: Path, extra: str, starts: str, says: str
) -> None:
    before = db.snapshot()
    result = _import(runner, tmp_path, TASK + extra)
    assert result.exit_code == 2, result.stdout  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr and starts in stderr and says in stderr, stderr
    assert db.snapshot() == before


@pytest.mark.parametrize("command", ["import", "import-crontab"])
def test_a_file_that_is_not_utf8_is_refused_naming_it_and_the_offset(
    runner: CliRunner, db: TestDB, tmp_path: Path, command: str
) -> None:
    file = tmp_path / "latin1.txt"
    file.write_bytes("# café\n".encode("latin-1"))  # é is the byte 0xe9, at offset 5
    before = db.snapshot()
    line = _refused(invoke(runner, command, str(file)), 2, f"error: FILE: '{file}' is not valid")
    assert "must be UTF-8" in line and "byte 0xe9 at offset 5" in line
    assert db.snapshot() == before


# 8. A damaged or unreachable database: one line with what to do, exit 1.

COMMANDS = [
    ["status"],
    ["task", "list"],
    ["task", "show", "x"],
    ["runs"],
    ["alerts"],
    ["health"],
    ["export"],
    ["sync", "--check"],
    ["doctor"],
    ["init"],
    ["db", "upgrade"],
    ["user", "list"],
    ["prune"],
    ["backup"],
]


def _damage(path: Path, how: str) -> None:
    import sqlite3

    # Everything in the main file first (a checkpoint), as after a while on a real host.
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    if how == "garbage":
        data = bytearray(b"this is not a database " * 400)
    elif how == "truncated":
        data = data[: len(data) // 3]
    else:  # one page in the middle overwritten, as a failing disk would
        page = 4096
        middle = (len(data) // page // 2) * page
        data[middle : middle + page] = b"\xa5" * page
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["garbage", "truncated", "page"])
@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_damaged_sqlite_file_is_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], how: str
) -> None:
    path = tmp_path / "smartcron.db"
    url = f"sqlite:///{path}"
    monkeypatch.setenv("SMARTCRON_DATABASE_URL", url)
    monkeypatch.setenv("SMARTCRON_BACKUP_DIR", str(tmp_path / "backups"))
    runner = CliRunner()
    assert invoke(runner, "init").exit_code == 0
    for i in range(40):  # enough pages that one in the middle holds rows
        invoke(runner, "task", "add", f"t{i}", "--command", "/bin/true", "--schedule", "@daily",
               "--description", "x" * 190)  # fmt: skip
    _damage(path, how)
    result = invoke(runner, *args)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    if args == ["doctor"]:
        assert "FAIL  database" in result.stdout and "damaged" in result.stdout
        return
    line = _refused(result, 1, "error: ")
    assert "damaged" in line and "smartcron restore" in line, line


@pytest.mark.parametrize("args", COMMANDS[:-3], ids=[" ".join(c) for c in COMMANDS[:-3]])
def test_unreachable_mariadb_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("SMARTCRON_DATABASE_URL", "mysql+pymysql://smartcron:pw@127.0.0.1:1/none")
    result = invoke(CliRunner(), *args)
    assert result.exit_code == 1 and "Traceback" not in result.stderr + result.stdout
    if args == ["doctor"]:
        assert "FAIL  database" in result.stdout
        return
    if args == ["health"]:  # a report of every check, the database's among them
        assert re.search(r"database\s+FAIL\s+cannot reach the database", result.stdout)
        return
    line = _refused(result, 1, "error: ")
    assert "127.0.0.1:1" in line and "database_url" in line
