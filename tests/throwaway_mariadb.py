"""A throwaway MariaDB server on its own port and data directory, to stop and start in tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    @property
    def url(self) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/smartcron"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "mariadbd",
                "--no-defaults",
                f"--datadir={self.dir}/data",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.dir}/sock",
                "--user=root",
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
