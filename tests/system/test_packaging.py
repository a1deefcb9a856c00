"""The wheel carries templates, migrations and the dashboard inside `smartcron`, nothing generic."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from support import ROOT


def test_wheel_contains_resources_and_no_generic_top_level(tmp_path: Path) -> None:
    # Build from a copy so the checkout's build/ (used by the editable install) is untouched.
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", "build", ".git", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("smartcron-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top_level == {"smartcron"}
    assert "smartcron/dashboard/__init__.py" in names
    assert "smartcron/sql/schema.mysql.sql" in names
    assert "smartcron/sql/migrations/env.py" in names
    assert "smartcron/sql/migrations/script.py.mako" in names
    assert any(n.startswith("smartcron/sql/migrations/versions/0001_") for n in names)
    assert "smartcron/py.typed" in names
    assert "smartcron/catalog/smartcron.catalog" in names  # the journal's message catalog
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "smartcron = smartcron.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
