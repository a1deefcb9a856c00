"""A throwaway MariaDB server on its own port and data directory, to stop and start in tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from support import free_port

TOOLS = ("mariadb-install-db", "mariadbd", "mariadb-admin", "mariadb")


def mariadb_available() -> bool:
    """Return True if the MariaDB server programs are installed (Debian: mariadb-server)."""
    return all(shutil.which(t) or os.path.exists(f"/usr/sbin/{t}") for t in TOOLS)


def _user() -> list[str]:
    # mariadbd refuses to run as root unless told to; as any other user it runs as that user.
    return ["--user=root"] if os.geteuid() == 0 else []


class ThrowawayMariaDB:
    """mariadb-install-db into a temp dir, then start()/stop() a mariadbd on a free port."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="smartcron-mariadb-", dir="/var/tmp"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self.dir}/data",
                *_user(),
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    @property
    def server_url(self) -> str:
        """The server's URL, without a database."""
        return f"mysql+pymysql://root@127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The URL of the `smartcron` database, created at start."""
        return f"{self.server_url}/smartcron"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                shutil.which("mariadbd") or "/usr/sbin/mariadbd",
                "--no-defaults",
                f"--datadir={self.dir}/data",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.dir}/sock",
                *_user(),
                f"--pid-file={self.dir}/pid",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=32M",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "log", "ab"),  # noqa: SIM115
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ping = subprocess.run(
                [
                    "mariadb-admin",
                    "--no-defaults",
                    "-h127.0.0.1",
                    f"-P{self.port}",
                    "-uroot",
                    "ping",
                ],
                capture_output=True,
            )
            if ping.returncode == 0:
                subprocess.run(
                    [
                        "mariadb",
                        "--no-defaults",
                        "-h127.0.0.1",
                        f"-P{self.port}",
                        "-uroot",
                        "-e",
                        "CREATE DATABASE IF NOT EXISTS smartcron CHARACTER SET utf8mb4",
                    ],
                    check=True,
                    capture_output=True,
                )
                return
            time.sleep(0.2)
        raise RuntimeError(
            f"throwaway MariaDB did not start: {(self.dir / 'log').read_text()[-2000:]}"
        )

    def kill(self) -> None:
        """Stop it the hard way, as a crash or an OOM kill would."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=30)
            self.proc = None

    def destroy(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
