"""Helpers shared by both test tiers (the fixtures live in the tiers' conftest.py files).

Outside CI, a test whose real component is missing skips with the reason; with CI=true it
fails instead, so a green CI run always means every test really ran.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine

from smartcron.cli import cli
from smartcron.db.schema import metadata
from smartcron.model.signing import Signer, load_signer

IN_CI = os.environ.get("CI", "").lower() == "true"
# The checkout: docs, examples, install.sh and the schema file are read from here.
ROOT = Path(__file__).resolve().parents[2]
EMPTY_CONFIG = ROOT / "tests" / "data" / "empty.toml"


def need(ok: bool, reason: str) -> None:
    """Skip (locally) or fail (CI=true) when a real component the test needs is missing."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}; CI must run every test, so this is a failure")
    pytest.skip(reason)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def invoke(runner: CliRunner, *args: str, input: str | None = None) -> Result:
    """Run `smartcron ARGS...` in-process and return the result (stdout and stderr apart)."""
    return runner.invoke(cli, list(args), input=input, prog_name="smartcron")


@dataclass
class TestDB:
    """A migrated, empty database: its URL, an engine and its backend name."""

    __test__ = False
    url: str
    engine: Engine
    backend: str

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Return every row of every table, to prove that a failed command changed nothing."""
        with self.engine.connect() as conn:
            return {
                t.name: sorted((tuple(r) for r in conn.execute(sa.select(t))), key=repr)
                for t in metadata.sorted_tables
            }


def signer() -> Signer:
    """The signing key the CLI uses in this test (system tier: the session's key file), or a
    fixed key for pure unit tests."""
    path = os.environ.get("SMARTCRON_SIGNING_KEY_FILE")
    return load_signer(path) if path else Signer(b"unit-test-key".ljust(32, b"."), "(unit test)")
