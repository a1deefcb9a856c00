"""The wheel carries templates, migrations and the dashboard inside `smartcron`, nothing generic;
`python -m build` makes a wheel and an sdist that install and run, with the one version."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import smartcron

from support import ROOT

IGNORED = shutil.ignore_patterns(".venv", "build", ".git", "*.egg-info", "__pycache__", ".*_cache")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build` of a copy of the tree (the sdist, then the wheel built from the
    sdist, so a file the sdist lacks fails the wheel); return the output directory."""
    work = tmp_path_factory.mktemp("build")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=IGNORED)
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(source)],
        capture_output=True,
        text=True,
        cwd=work,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return work / "dist"


def test_build_makes_a_wheel_and_an_sdist_of_the_one_version(dist: Path) -> None:
    version = smartcron.__version__
    assert sorted(p.name for p in dist.iterdir()) == [
        f"smartcron-{version}-py3-none-any.whl",
        f"smartcron-{version}.tar.gz",
    ]


def test_sdist_carries_the_prometheus_rules_and_grafana_board(dist: Path) -> None:
    import tarfile

    (sdist,) = dist.glob("*.tar.gz")
    root = f"smartcron-{smartcron.__version__}"
    with tarfile.open(sdist) as archive:
        names = set(archive.getnames())
        for name in ("contrib/prometheus/smartcron.rules.yml", "contrib/grafana/smartcron.json"):
            member = archive.extractfile(f"{root}/{name}")
            assert member is not None, sorted(names)
            assert member.read() == (ROOT / name).read_bytes(), name


def test_built_wheel_installs_and_runs_in_a_fresh_venv(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    proc = subprocess.run(
        [str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(tmp_path)}
    run = [str(venv / "bin/smartcron")]
    version = subprocess.run(
        [*run, "--version"], capture_output=True, text=True, env=env, cwd=tmp_path, check=True
    )
    assert version.stdout == f"smartcron, version {smartcron.__version__}\n"
    metadata = subprocess.run(
        [str(venv / "bin/python"), "-c", "import importlib.metadata as m; print(m.version('smartcron'))"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=True,
    )  # fmt: skip
    assert metadata.stdout.strip() == smartcron.__version__
    helped = subprocess.run(
        [*run, "--help"], capture_output=True, text=True, env=env, cwd=tmp_path, check=True
    )
    assert "Commands:" in helped.stdout and "  config " in helped.stdout
    assert "  task " in helped.stdout and helped.stderr == ""


def test_wheel_contains_resources_and_no_generic_top_level(tmp_path: Path) -> None:
    # Build from a copy so the checkout's build/ (used by the editable install) is untouched.
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=IGNORED)
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
