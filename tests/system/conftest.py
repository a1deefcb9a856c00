"""Fixtures of the system tier: real databases (SQLite and MariaDB), a real private systemd,
the CLI wired to it, the watchdog running in-process, and a webhook receiver.

MariaDB: SMARTCRON_TEST_MYSQL_URL names a server to use; otherwise the session starts a
throwaway MariaDB of its own (its own data directory, a free port), so the suite depends on
no server of the host's. Every session creates uniquely named databases.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url

from smartcron.db.engine import make_engine, redact
from smartcron.db.migrate import upgrade
from smartcron.db.schema import metadata
from smartcron.model import config
from smartcron.model.signing import load_signer
from smartcron.systemd.sandbox import PrivateSystemd, available
from smartcron.watchdog.service import Watchdog

from support import TestDB, free_port, invoke, need
from support.mariadb import ThrowawayMariaDB, mariadb_available
from support.receivers import Inbox
from support.systemd import SystemdEnv

EMPTY_CONFIG = str(Path(__file__).resolve().parent.parent / "data" / "empty.toml")
# Hermetic defaults for every test: no config file, smartcron's own units run as the caller
# (whatever accounts the host has), the dashboard on plain HTTP (loopback; the install test
# serves HTTPS), and no dashboard address that might be taken.
HERMETIC_ENV = {
    "SMARTCRON_CONFIG": EMPTY_CONFIG,
    "SMARTCRON_SERVICE_USER": "",
    "SMARTCRON_TLS_CERTIFICATE": "",
}


@pytest.fixture(scope="session")
def signing_key_file() -> Iterator[str]:
    """The session's task-signing key (root's key in production), in a private directory."""
    directory = tempfile.mkdtemp(prefix="smartcron-key-")
    path = os.path.join(directory, "signing.key")
    load_signer(path, create=True)
    yield path
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch, signing_key_file: str) -> None:
    for key, value in HERMETIC_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SMARTCRON_SIGNING_KEY_FILE", signing_key_file)
    # The dashboard address doctor checks: a port nothing listens on, never the host's 8080.
    monkeypatch.setenv("SMARTCRON_DASHBOARD_LISTEN", f"127.0.0.1:{free_port()}")


def _mysql_reachable(url: str) -> str | None:
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except sa.exc.OperationalError as exc:
        return f"MariaDB at {redact(url)} is not reachable ({exc.orig})"
    return None


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[str]:
    """The URL (no database) of a MariaDB server for this session."""
    given = os.environ.get("SMARTCRON_TEST_MYSQL_URL")
    if given:
        problem = _mysql_reachable(given)
        need(problem is None, problem or "")
        yield given
        return
    need(mariadb_available(), "MariaDB is not installed (mariadb-install-db, mariadbd)")
    server = ThrowawayMariaDB()
    try:
        server.start()
        yield server.server_url
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def mysql_database(mysql_server: str) -> Iterator[str]:
    """Create a uniquely named MariaDB database for this test session; drop it at the end."""
    name = f"smartcron_test_{os.getpid()}_{secrets.token_hex(4)}"
    server = sa.create_engine(mysql_server)
    with server.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = make_url(mysql_server).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
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
        engine = make_engine(url)
        upgrade(engine)
    else:
        url = request.getfixturevalue("mysql_database")
        engine = make_engine(url)
        _empty_tables(engine)
    yield TestDB(url, engine, request.param)
    engine.dispose()


@pytest.fixture
def runner(db: TestDB, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner whose smartcron uses the test database and no config file."""
    monkeypatch.setenv("SMARTCRON_DATABASE_URL", db.url)
    return CliRunner()


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
    """A host directory that processes inside the private systemd can see (not under /tmp),
    writable like /tmp: tasks run as the unprivileged default_user (nobody) unless a test says
    otherwise."""
    path = Path(tempfile.mkdtemp(prefix="smartcron-test-", dir="/var/tmp"))
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


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
    engine = make_engine(url)
    upgrade(engine)
    monkeypatch.setenv("SMARTCRON_DATABASE_URL", url)
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


@contextmanager
def _webhook_receiver() -> Iterator[tuple[str, Inbox]]:
    """A JSON webhook on a free loopback port: its apprise URL and what it received."""
    inbox = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            inbox.add(data.get("title", ""), data.get("message", ""), type=data.get("type", ""))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"json://127.0.0.1:{server.server_address[1]}/hook", inbox
    server.shutdown()


@pytest.fixture
def webhook() -> Iterator[tuple[str, Inbox]]:
    with _webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def webhook_b() -> Iterator[tuple[str, Inbox]]:
    """A second, separate webhook receiver (moving alerts from one to the other)."""
    with _webhook_receiver() as receiver:
        yield receiver


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
    watchdog.skip_journal_history()
    thread = threading.Thread(target=watchdog.serve, daemon=True)
    thread.start()
    assert watchdog.listener.subscribed.wait(15), watchdog.listener.error
    yield watchdog
    watchdog.stop()
    thread.join(timeout=15)


@pytest.fixture
def smtp() -> Iterator[tuple[str, Inbox]]:
    inbox = Inbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            import email

            msg = email.message_from_bytes(envelope.content)
            body = (
                msg.get_payload(decode=True)
                if not msg.is_multipart()
                else msg.get_payload(0).get_payload(decode=True)
            )
            inbox.add(
                str(msg["Subject"]),
                (body or b"").decode(errors="replace"),
                raw=envelope.content.decode(errors="replace"),
            )
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield (
        f"mailto://127.0.0.1:{port}?from=cron@example.com&to=ops@example.com&mode=insecure",
        inbox,
    )
    controller.stop()
