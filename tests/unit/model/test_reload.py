"""What a reload changes: the settings that apply at once and those that need a restart."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from smartcron.model import config
from smartcron.model.reload import needs_restart, plan_reload, reload_config

from support import ROOT


def _load(tmp_path: Path, text: str) -> config.Config:
    file = tmp_path / "smartcron.toml"
    file.write_text(text)
    return config.load(file, environ={})


def test_reload_plan_applies_channels_and_keeps_database_url(tmp_path: Path) -> None:
    """Given a changed channel, threshold and database URL, the watchdog takes the first two
    and keeps its database until a restart."""
    running = _load(tmp_path, '[channels]\na = "json://a/hook"\n')
    reread = _load(
        tmp_path,
        'database_url = "sqlite:////srv/other.db"\nrenotify_interval = "30m"\n'
        '[channels]\nb = "json://b/hook"\n',
    )
    plan = plan_reload(running, reread, config.WATCHDOG)
    assert plan.applied == ("channels", "renotify_interval")
    assert plan.needs_restart == ("database_url",)
    assert plan.config.channels == {"b": "json://b/hook"}
    assert plan.config.renotify_interval == "30m"
    assert plan.config.database_url == running.database_url


def test_reload_plan_of_an_unchanged_file_changes_nothing(tmp_path: Path) -> None:
    running = _load(tmp_path, 'heartbeat_url = "https://hc.example/1"\n')
    plan = plan_reload(running, _load(tmp_path, 'heartbeat_url = "https://hc.example/1"\n'), "x")
    assert (plan.applied, plan.needs_restart) == ((), ())
    assert plan.config == running


def test_reload_plan_needs_restart_depends_on_the_service(tmp_path: Path) -> None:
    """Given a new dashboard address, the dashboard needs a restart; the watchdog, which never
    opens it, just holds the new value."""
    running = _load(tmp_path, 'dashboard_listen = "127.0.0.1:8080"\n')
    reread = _load(tmp_path, 'dashboard_listen = "127.0.0.1:8181"\n')
    assert plan_reload(running, reread, config.DASHBOARD).needs_restart == ("dashboard_listen",)
    assert plan_reload(running, reread, config.WATCHDOG).applied == ("dashboard_listen",)


def test_reload_docs_name_every_setting_that_needs_a_restart() -> None:
    """docs/configuration.md says, under each setting, which service must restart for it."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    sections = dict(re.findall(r"^### `(\w+)`\n(.*?)(?=^### |\Z)", text, flags=re.M | re.S))
    for field in config.settings():
        services = field.metadata.get("restart", ())
        line = re.search(r"Changing it needs a restart of (.*?)\.", sections[field.name], re.S)
        said = re.findall(r"`(smartcron-[a-z]+)`", line.group(1)) if line else []
        assert sorted(said) == sorted(services), f"{field.name}: docs say {said}"
    assert set(needs_restart(config.WATCHDOG)) == {"database_url", "journal_directory", "host_name"}


def test_reload_config_of_a_broken_file_keeps_the_running_settings(tmp_path: Path) -> None:
    """Given a file that no longer validates, return the running configuration and an error
    that names the key, the value and that the old settings are kept."""
    running = _load(tmp_path, 'renotify_interval = "1h"\n')
    (tmp_path / "smartcron.toml").write_text('renotify_interval = "often"\n')
    kept, lines = reload_config(
        running, lambda: config.load(tmp_path / "smartcron.toml", environ={}), config.WATCHDOG
    )
    assert kept is running
    [(level, message)] = lines
    assert level == logging.ERROR
    assert "renotify_interval" in message and "'often'" in message
    assert "smartcron-watchdog keeps its current settings" in message


def test_reload_config_reports_restart_only_keys_without_their_values(tmp_path: Path) -> None:
    running = _load(tmp_path, 'database_url = "sqlite:////srv/a.db"\n')
    new_file = 'database_url = "mysql+pymysql://u:secret@db/x"\nheartbeat_url = "https://h/1"\n'
    config_used, lines = reload_config(running, lambda: _load(tmp_path, new_file), config.WATCHDOG)
    assert config_used.database_url == running.database_url
    assert config_used.heartbeat_url == "https://h/1"
    assert [level for level, _ in lines] == [logging.WARNING, logging.INFO]
    assert "needs restart: database_url" in lines[0][1]
    assert "applied: heartbeat_url" in lines[1][1]
    assert not any("secret" in message for _, message in lines)
