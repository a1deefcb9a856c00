"""Shell completion through click's own protocol, run as the real console script (and, for
bash, through the generated script in a real bash): command names without importing every
command, and task names from the database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from smartcron.cli import cli

from support import need

SMARTCRON = str(Path(sys.executable).parent / "smartcron")
HEAVY = ("sqlalchemy", "jinja2", "pystemd", "flask", "alembic")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTCRON_", "_SMARTCRON"))}
    return {
        **clean,
        "SMARTCRON_CONFIG": str(tmp_path / "none.toml"),
        "SMARTCRON_DATABASE_URL": f"sqlite:///{tmp_path}/smartcron.db",
        "SMARTCRON_SIGNING_KEY_FILE": str(tmp_path / "signing.key"),
        **extra,
    }


@pytest.fixture
def tasks(tmp_path: Path) -> dict[str, str]:
    """A database with tasks pos-sync, pay-run and backup-db; return the environment."""
    (tmp_path / "none.toml").write_text("")
    env = _env(tmp_path)
    commands = [["init"]] + [
        ["task", "add", name, "--command", "/bin/true", "--schedule", "@daily"]
        for name in ("pos-sync", "pay-run", "backup-db")
    ]
    for args in commands:
        proc = subprocess.run([SMARTCRON, *args], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    return env


def _complete(env: dict[str, str], line: str, protocol: str = "bash") -> list[str]:
    """Ask the program what completes `line` (ending at the cursor), as the generated script
    asks it; return the offered values."""
    words = line.split(" ")
    proc = subprocess.run(
        [SMARTCRON],
        env={
            **env,
            "_SMARTCRON_COMPLETE": f"{protocol}_complete",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
        },
        capture_output=True,
        text=True,
        cwd="/",
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    if protocol == "bash":  # type,value lines; nothing to offer is one empty line
        return [item.split(",", 1)[1] for item in proc.stdout.splitlines() if item]
    return proc.stdout.splitlines()


def test_completion_offers_command_names(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _complete(env, "smartcron st") == ["status"]
    assert _complete(env, "smartcron task s") == ["show", "sign"]
    assert "alert-fallback" not in _complete(env, "smartcron ")  # hidden stays hidden
    assert "--config" in _complete(env, "smartcron --")


def test_completion_of_command_names_imports_no_command(tmp_path: Path) -> None:
    """TAB after `smartcron ` reads the commands' help from their source, as --help does."""
    code = (
        "import json, sys\nfrom smartcron.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    env = {**_env(tmp_path), "_SMARTCRON_COMPLETE": "bash_complete"}
    env |= {"COMP_WORDS": "smartcron ", "COMP_CWORD": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    loaded = json.loads(proc.stdout.splitlines()[-1])
    assert [m for m in HEAVY if m in loaded] == []


def test_completion_zsh_help_is_what_click_shows(tmp_path: Path) -> None:
    """zsh shows each command's help: the lazy text is click's own for the imported command."""
    lines = _complete(_env(tmp_path), "smartcron ", protocol="zsh")
    offered = {lines[i + 1]: lines[i + 2] for i in range(0, len(lines), 3)}
    for name, command in cli.commands.items():
        if not command.hidden:
            assert offered.pop(name) == command.get_short_help_str(), name
    assert offered == {}


def test_completion_offers_task_names(tasks: dict[str, str]) -> None:
    assert _complete(tasks, "smartcron task show p") == ["pay-run", "pos-sync"]
    assert _complete(tasks, "smartcron logs b") == ["backup-db"]
    assert _complete(tasks, "smartcron runs ") == ["backup-db", "pay-run", "pos-sync"]
    assert _complete(tasks, "smartcron task sign pay-run p") == ["pay-run", "pos-sync"]


def test_completion_of_task_names_is_quiet_without_a_database(tmp_path: Path) -> None:
    env = _env(tmp_path, SMARTCRON_DATABASE_URL="mysql+pymysql://x:y@127.0.0.1:1/none")
    assert _complete(env, "smartcron task show ") == []
    env = _env(tmp_path)  # SMARTCRON_CONFIG names a file that does not exist
    assert _complete(env, "smartcron task show ") == []


def test_completion_bash_script_completes_in_bash(tasks: dict[str, str]) -> None:
    """The script click generates, sourced into a real bash, fills COMPREPLY."""
    bash = shutil.which("bash")
    need(bash is not None, "bash is not installed")
    script = subprocess.run(
        [SMARTCRON], env={**tasks, "_SMARTCRON_COMPLETE": "bash_source"}, capture_output=True,
        text=True, check=True,
    ).stdout  # fmt: skip
    driver = (
        f"{script}\n"
        "COMP_WORDS=(smartcron task run po); COMP_CWORD=3\n"
        f"_smartcron_completion {SMARTCRON}\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
        "COMP_WORDS=(smartcron imp); COMP_CWORD=1\nCOMPREPLY=()\n"
        f"_smartcron_completion {SMARTCRON}\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    proc = subprocess.run(
        [str(bash), "--norc", "-c", driver], env=tasks, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["pos-sync", "import", "import-crontab"]
