"""Shared fixtures: real databases (SQLite and MariaDB), a real private systemd, the CLI runner.

Outside CI, tests that need root or MariaDB skip with the reason. With CI=true they fail
instead, so a green CI run always means every test really ran.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url

from smartcron.cli import cli
from smartcron.db import store
from smartcron.db.schema import executions, metadata
from smartcron.model import config
from smartcron.systemd.sandbox import PrivateSystemd, available
from smartcron.watchdog.service import Watchdog

IN_CI = os.environ.get("CI", "").lower() == "true"
MYSQL_URL = os.environ.get("SMARTCRON_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")


def need(ok: bool, reason: str) -> None:
    """Skip (locally) or fail (CI=true) when a real component the test needs is missing."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}; CI must run every test, so this is a failure")
    pytest.skip(reason)


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


def _mysql_reachable(url: str) -> str | None:
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except sa.exc.OperationalError as exc:
        return f"MariaDB at {store.redact(url)} is not reachable ({exc.orig})"
    return None


@pytest.fixture(scope="session")
def mysql_database() -> Iterator[str]:
    """Create a uniquely named MariaDB database for this test session; drop it at the end."""
    problem = _mysql_reachable(MYSQL_URL)
    need(problem is None, problem or "")
    name = f"smartcron_test_{os.getpid()}_{secrets.token_hex(3)}"
    server = sa.create_engine(MYSQL_URL)
    with server.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = make_url(MYSQL_URL).set(database=name).render_as_string(hide_password=False)
    engine = store.make_engine(url)
    store.upgrade(engine)
    engine.dispose()
    yield url
    with server.begin() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
    server.dispose()


def _empty_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", "mariadb"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestDB]:
    """A migrated, empty database on SQLite (a temp file) and on real MariaDB."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/smartcron.db"
        engine = store.make_engine(url)
        store.upgrade(engine)
    else:
        url = request.getfixturevalue("mysql_database")
        engine = store.make_engine(url)
        _empty_tables(engine)
    yield TestDB(url, engine, request.param)
    engine.dispose()


@pytest.fixture
def runner(db: TestDB, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner whose smartcron uses the test database and no config file."""
    monkeypatch.setenv("SMARTCRON_DATABASE_URL", db.url)
    monkeypatch.setenv("SMARTCRON_CONFIG", str(Path(__file__).parent / "data" / "empty.toml"))
    return CliRunner()


def invoke(runner: CliRunner, *args: str, input: str | None = None) -> Result:
    """Run `smartcron ARGS...` in-process and return the result (stdout and stderr apart)."""
    return runner.invoke(cli, list(args), input=input, prog_name="smartcron")


@pytest.fixture(scope="session")
def systemd() -> Iterator[PrivateSystemd]:
    """A real private systemd 252 (PID 1 of its own namespaces), shared by the session."""
    reason = available()
    need(reason is None, f"a private systemd cannot be booted: {reason}")
    instance = PrivateSystemd(name="smartcron-tests")
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def unit_prefix() -> str:
    """A unique prefix for unit and task names: instances share /sys/fs/cgroup."""
    return f"t{secrets.token_hex(3)}"


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A host directory that processes inside the private systemd can see (not under /tmp)."""
    path = Path(tempfile.mkdtemp(prefix="smartcron-test-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@dataclass
class SystemdEnv:
    """A CLI wired to the private systemd: its unit directory, its bus and a SQLite store."""

    __test__ = False
    runner: CliRunner
    systemd: PrivateSystemd
    prefix: str
    shared: Path
    engine: Engine

    def run(self, *args: str) -> Result:
        return invoke(self.runner, *args)

    def name(self, short: str) -> str:
        return f"{self.prefix}-{short}"

    def script(self, name: str, body: str) -> Path:
        """Write an executable script where the private systemd can run it."""
        path = self.shared / name
        path.write_text(body)
        path.chmod(0o755)
        return path

    def add(self, short: str, *args: str) -> str:
        name = self.name(short)
        result = self.run("task", "add", name, *args)
        assert result.exit_code == 0, result.stderr
        return name


@pytest.fixture
def sd(
    systemd: PrivateSystemd,
    unit_prefix: str,
    shared_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SystemdEnv]:
    """smartcron's CLI pointed at the private systemd (unit_dir and D-Bus) with a fresh store."""
    url = f"sqlite:///{tmp_path}/smartcron.db"
    engine = store.make_engine(url)
    store.upgrade(engine)
    monkeypatch.setenv("SMARTCRON_DATABASE_URL", url)
    monkeypatch.setenv("SMARTCRON_CONFIG", str(Path(__file__).parent / "data" / "empty.toml"))
    monkeypatch.setenv("SMARTCRON_UNIT_DIR", str(systemd.unit_dir))
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", systemd.bus_address)
    monkeypatch.setenv("SMARTCRON_JOURNAL_DIRECTORY", str(systemd.journal_dir))
    env = SystemdEnv(CliRunner(), systemd, unit_prefix, shared_dir, engine)
    yield env
    # Leave the shared instance clean for the next test: remove this test's tasks' units.
    for path in systemd.unit_dir.glob(f"smartcron-{unit_prefix}-*"):
        if path.suffix == ".timer":
            systemd.systemctl("stop", path.name, check=False)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM tasks"))
    invoke(env.runner, "sync")
    engine.dispose()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def add(self, title: str, body: str) -> None:
        with self.lock:
            self.messages.append({"title": title, "body": body})

    def wait(self, count: int, timeout: float = 20) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < count:
            time.sleep(0.1)
        return list(self.messages)


@pytest.fixture
def webhook() -> Iterator[tuple[str, Inbox]]:
    inbox = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            inbox.add(data.get("title", ""), data.get("message", ""))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"json://127.0.0.1:{server.server_address[1]}/hook", inbox
    server.shutdown()


@pytest.fixture
def recorder(sd: SystemdEnv) -> Iterator[Watchdog]:
    """The watchdog running in this process, on the test's database and the sandbox journal."""
    cfg = config.load(
        environ={
            "SMARTCRON_DATABASE_URL": str(sd.engine.url.render_as_string(hide_password=False)),
            "SMARTCRON_UNIT_DIR": str(sd.systemd.unit_dir),
            "SMARTCRON_JOURNAL_DIRECTORY": str(sd.systemd.journal_dir),
        }
    )
    watchdog = Watchdog(cfg)
    # The sandbox is shared by the whole session: read its journal from now on, not the runs
    # of earlier tests (a production watchdog with no cursor starts 24 h back).
    watchdog._cursor = watchdog.journal.current_cursor()
    thread = threading.Thread(target=watchdog.serve, daemon=True)
    thread.start()
    assert watchdog.listener.subscribed.wait(15), watchdog.listener.error
    yield watchdog
    watchdog.stop()
    thread.join(timeout=15)


def wait_rows(sd: SystemdEnv, task: str, count: int = 1, timeout: float = 30) -> list[Any]:
    """Wait until `count` finished runs of `task` are recorded; return all its rows."""
    deadline = time.monotonic() + timeout
    rows: list[Any] = []
    while time.monotonic() < deadline:
        with sd.engine.connect() as conn:
            rows = conn.execute(
                sa.select(executions)
                .where(executions.c.task_name == task)
                .order_by(executions.c.id)
            ).fetchall()
        if len([r for r in rows if r.outcome != "running"]) >= count:
            return rows
        time.sleep(0.1)
    raise AssertionError(
        f"{task}: expected {count} finished run(s), have {[r.outcome for r in rows]}"
    )
