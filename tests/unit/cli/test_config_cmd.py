"""`smartcron config show|check`, run as the real console script: sources, hidden secrets,
every problem named, exit statuses, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SMARTCRON = str(Path(sys.executable).parent / "smartcron")
SECRETS = ("pw-in-url", "session-secret", "hook-token", "TokenA", "check-uuid-77")
GOOD = """
database_url = "mysql+pymysql://cron:pw-in-url@db.internal/smartcron"
secret_key = "session-secret"
heartbeat_url = "https://hc-ping.example/check-uuid-77"
[channels]
ops = "json://hook.example/in?token=hook-token"
chat = "slack://TokenA/TokenB/TokenC"
"""


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMARTCRON_")}
    return subprocess.run(
        [SMARTCRON, *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        cwd="/",
        timeout=60,
        check=False,
    )


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "smartcron.toml"
    path.write_text(GOOD)
    return path


def test_config_show_names_the_source_of_every_setting(good: Path) -> None:
    proc = _run("--config", str(good), "config", "show", "--json", env={"SMARTCRON_UNIT_DIR": "/x"})
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert rows["unit_dir"] == {
        "name": "unit_dir",
        "value": "/x",
        "source": "env SMARTCRON_UNIT_DIR",
    }
    assert rows["database_url"]["source"] == f"file {good}"
    assert rows["timer_accuracy"] == {"name": "timer_accuracy", "value": "1s", "source": "default"}
    from smartcron.model.config import settings

    assert list(rows) == [f.name for f in settings()]


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_config_show_hides_every_secret(good: Path, as_json: bool) -> None:
    proc = _run("--config", str(good), "config", "show", *(["--json"] if as_json else []))
    assert proc.returncode == 0, proc.stderr
    assert [s for s in SECRETS if s in proc.stdout] == []
    # What is not secret stays readable: the user, host and database; the channel's host.
    assert "mysql+pymysql://cron:***@db.internal/smartcron" in proc.stdout
    assert "json://hook.example/***" in proc.stdout and "slack://***" in proc.stdout
    assert "https://hc-ping.example/***" in proc.stdout


def test_config_check_accepts_a_valid_file(good: Path) -> None:
    proc = _run("config", "check", str(good))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"ok: {good} is valid")
    assert "database_url" in proc.stdout and "session-secret" not in proc.stdout


def test_config_check_names_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('databse_url = "x"\ntimer_accuracy = "fast"\nretention_days = 0\n')
    proc = _run("config", "check", str(bad))
    assert proc.returncode == 1 and proc.stdout == ""
    assert "3 problem(s)" in proc.stderr
    assert "key 'databse_url'" in proc.stderr and "unknown setting" in proc.stderr
    assert "key 'timer_accuracy': 'fast' is not valid: expected a systemd time span" in proc.stderr
    assert "key 'retention_days'" in proc.stderr and "from 1 to 36500" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "it does not exist"),
        ("database_url = \n", "not valid TOML"),
        (b"\xff\xfe = 1", "not UTF-8"),
        ("dir", "it is a directory"),
    ],
    ids=["missing", "not-toml", "binary", "directory"],
)
def test_config_check_refuses_what_is_not_a_settings_file(
    tmp_path: Path, content: str | bytes | None, says: str
) -> None:
    path = tmp_path / "smartcron.toml"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    proc = _run("config", "check", str(path))
    assert proc.returncode == 1
    assert says in proc.stderr and str(path) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_config_check_reads_the_file_alone(good: Path) -> None:
    """A wrong SMARTCRON_* variable is no problem of the file (config show would say it)."""
    proc = _run("config", "check", str(good), env={"SMARTCRON_TIMER_ACCURACY": "fast"})
    assert proc.returncode == 0, proc.stderr
    shown = _run("--config", str(good), "config", "show", env={"SMARTCRON_TIMER_ACCURACY": "fast"})
    assert shown.returncode == 2 and "SMARTCRON_TIMER_ACCURACY: 'fast'" in shown.stderr
