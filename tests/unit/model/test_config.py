"""Configuration: file, environment overrides, clear errors, and docs that cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smartcron.errors import InvalidInput
from smartcron.model import config

from support import ROOT

DOCS = ROOT / "docs" / "configuration.md"


def test_config_missing_default_file_uses_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "DEFAULT_CONFIG_PATH", Path("/nonexistent/smartcron.toml"))
    cfg = config.load(environ={})
    assert cfg.database_url == config.DEFAULT_DATABASE_URL
    assert cfg.source == "built-in defaults"


def test_config_file_values_and_env_override(tmp_path: Path) -> None:
    file = tmp_path / "smartcron.toml"
    file.write_text('database_url = "sqlite:////srv/a.db"\nunit_dir = "/run/x"\n')
    cfg = config.load(file, environ={"SMARTCRON_UNIT_DIR": "/etc/y"})
    assert cfg.database_url == "sqlite:////srv/a.db"
    assert cfg.unit_dir == "/etc/y"
    assert str(file) in cfg.source and "SMARTCRON_UNIT_DIR" in cfg.source


def test_config_path_from_environment(tmp_path: Path) -> None:
    file = tmp_path / "alt.toml"
    file.write_text('database_url = "sqlite:////srv/b.db"\n')
    assert config.load(environ={"SMARTCRON_CONFIG": str(file)}).database_url.endswith("b.db")


def test_config_unknown_key_is_named(tmp_path: Path) -> None:
    file = tmp_path / "smartcron.toml"
    file.write_text('databse_url = "sqlite:///x"\n')
    with pytest.raises(
        InvalidInput, match=r"key 'databse_url'.*unknown setting; known settings: database_url"
    ):
        config.load(file, environ={})


def test_config_wrong_type_is_named(tmp_path: Path) -> None:
    file = tmp_path / "smartcron.toml"
    file.write_text("unit_dir = 5\n")
    with pytest.raises(InvalidInput, match=r"key 'unit_dir'.*expected str, got int"):
        config.load(file, environ={})


def test_config_invalid_toml_is_reported(tmp_path: Path) -> None:
    file = tmp_path / "smartcron.toml"
    file.write_text("database_url = \n")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        config.load(file, environ={})


def test_config_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        config.load(tmp_path / "nope.toml", environ={})


def test_config_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    documented = set(re.findall(r"^### `(\w+)`", text, flags=re.M))
    names = {f.name for f in config.settings()}
    assert names - documented == set(), "settings missing from docs/configuration.md"
    assert documented - names == set(), "docs/configuration.md documents settings that do not exist"
    for name in names:
        assert f"SMARTCRON_{name.upper()}" in text, f"env variable of {name} not documented"


@pytest.mark.parametrize(
    ("key", "value"),
    [("timer_accuracy", "fast"), ("unit_dir", "relative/dir"), ("database_url", "postgres://x")],
)
def test_config_values_are_checked(tmp_path: Path, key: str, value: str) -> None:
    file = tmp_path / "smartcron.toml"
    file.write_text(f'{key} = "{value}"\n')
    with pytest.raises(InvalidInput, match=rf"key '{key}'.*expected"):
        config.load(file, environ={})
    with pytest.raises(InvalidInput, match=rf"SMARTCRON_{key.upper()}"):
        config.load(environ={f"SMARTCRON_{key.upper()}": value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMARTCRON_RETENTION_DAYS", "36501"),
        ("SMARTCRON_RETENTION_DAYS", "99999999999999999999"),
        ("SMARTCRON_BACKUP_KEEP_WEEKLY", "10001"),
        ("SMARTCRON_TIMER_ACCURACY", "2d"),
        ("SMARTCRON_TIMER_ACCURACY", "9" * 50),
        ("SMARTCRON_RENOTIFY_INTERVAL", "366d"),
        ("SMARTCRON_SESSION_IDLE_TIMEOUT", "0"),
        ("SMARTCRON_DEFAULT_USER", "root"),
        ("SMARTCRON_DEFAULT_USER", "Not A User"),
        ("SMARTCRON_TRUSTED_PROXIES", "proxy.example"),
        ("SMARTCRON_TLS_CERTIFICATE", "relative.crt"),
        ("SMARTCRON_HOST_DOWN_AFTER", "1s"),
        ("SMARTCRON_HOST_DOWN_AFTER", "29s"),
        ("SMARTCRON_DASHBOARD_LISTEN", "127.0.0.1:\u00b2"),  # a digit int() cannot read
        ("SMARTCRON_DIGEST_TIME", "0\u00b2:30"),
    ],
)
def test_config_bounds_are_refused_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(InvalidInput) as info:
        config.load(environ={name: value, "SMARTCRON_CONFIG": ""})
    assert info.value.field == name


def test_config_host_down_after_help_and_check_agree_on_30s() -> None:
    field = next(f for f in config.settings() if f.name == "host_down_after")
    assert "at least 30s" in field.metadata["help"]
    with pytest.raises(InvalidInput, match="at least 30s"):
        config.load(environ={"SMARTCRON_HOST_DOWN_AFTER": "1s", "SMARTCRON_CONFIG": ""})
    loaded = config.load(environ={"SMARTCRON_HOST_DOWN_AFTER": "30s", "SMARTCRON_CONFIG": ""})
    assert loaded.host_down_after == "30s"


def test_config_plain_http_only_on_loopback() -> None:
    plain = config.load(environ={"SMARTCRON_TLS_CERTIFICATE": "", "SMARTCRON_CONFIG": ""})
    assert config.dashboard_tls(plain, "127.0.0.1") is None
    assert config.dashboard_tls(plain, "::1") is None
    with pytest.raises(InvalidInput, match="plain HTTP is served only on a loopback address"):
        config.dashboard_tls(plain, "0.0.0.0")  # noqa: S104
    with pytest.raises(InvalidInput, match="plain HTTP"):
        config.dashboard_tls(plain, "192.168.1.10")
    tls = config.load(environ={"SMARTCRON_CONFIG": ""})
    assert config.dashboard_tls(tls, "0.0.0.0") == (  # noqa: S104
        "/etc/smartcron/dashboard.crt",
        "/etc/smartcron/dashboard.key",
    )


def test_config_service_user_that_does_not_exist_is_refused() -> None:
    with pytest.raises(InvalidInput) as info:
        config.load(environ={"SMARTCRON_SERVICE_USER": "smartcorn", "SMARTCRON_CONFIG": ""})
    assert info.value.field == "SMARTCRON_SERVICE_USER"
    assert "'smartcorn'" in str(info.value) and "exists on this host" in str(info.value)
    for fine in ("", "nobody", "smartcron"):  # root, an account, the default (maybe missing)
        environ = {"SMARTCRON_SERVICE_USER": fine, "SMARTCRON_CONFIG": ""}
        assert config.load(environ=environ).service_user == fine
