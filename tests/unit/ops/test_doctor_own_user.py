"""doctor says so when smartcron's own services would run as root because the default
account is missing (install.sh creates it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartcron.model import config
from smartcron.ops import doctor
from smartcron.systemd import own_units
from smartcron.systemd.own_units import OwnUnits


def _installed(tmp_path: Path, user: str) -> config.Config:
    cfg = config.load(
        environ={
            "SMARTCRON_CONFIG": "",
            "SMARTCRON_UNIT_DIR": str(tmp_path),
            **({"SMARTCRON_SERVICE_USER": user} if user != "default" else {}),
        }
    )
    wanted = OwnUnits.for_config(cfg)
    for name, text in {**wanted.services(), **wanted.shared_files()}.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return cfg


def test_doctor_warns_when_the_default_account_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(own_units, "account_exists", lambda name: False)
    found = doctor.check_own_units(_installed(tmp_path, "default"))
    assert found.status == "warn" and "run as root" in found.message, found
    assert "install.sh" in found.fix


def test_doctor_own_units_ok_when_root_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(own_units, "account_exists", lambda name: False)
    assert doctor.check_own_units(_installed(tmp_path, "")).status == "ok"
