"""A throwaway 3-node MariaDB Galera cluster on loopback ports, for tests.

Each node has its own data directory under /var/tmp, its own option file and four free
ports: MariaDB clients, Galera group communication (gmcast, like 4567), IST (like 4568) and
SST (like 4444, rsync). Node 1 bootstraps the cluster (--wsrep-new-cluster); nodes 2 and 3
join it and receive a full state transfer by rsync. Debian: galera-4 (libgalera_smm.so),
mariadb-server, rsync.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from support import free_port
from support.mariadb import mariadb_available

PROVIDER = Path("/usr/lib/galera/libgalera_smm.so")
# As root, the nodes run as Debian's `mysql` account: the rsync daemon that receives an SST
# drops root for `nobody` otherwise, which cannot write the joiner's data directory.
RUN_AS = "mysql" if os.geteuid() == 0 else ""


def _account_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def galera_available() -> str | None:
    """Return None when a Galera cluster can be started here, else what is missing."""
    if not mariadb_available():
        return "MariaDB is not installed (mariadb-server: mariadb-install-db, mariadbd)"
    if RUN_AS and shutil.which("mariadbd") and not _account_exists(RUN_AS):
        return f"the {RUN_AS} account is missing (mariadb-server creates it)"
    if not PROVIDER.exists():
        return f"the Galera provider {PROVIDER} is missing (Debian package galera-4)"
    for tool in ("rsync", "wsrep_sst_rsync"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian packages rsync, mariadb-server)"
    return None


def _ports() -> list[int]:
    """Four distinct free loopback ports."""
    found: set[int] = set()
    while len(found) < 4:
        found.add(free_port())
    return sorted(found)


@dataclass
class Node:
    """One Galera node: its number, directory, ports and process."""

    number: int
    dir: Path
    port: int
    gcomm: int
    ist: int
    sst: int
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def server_url(self) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.dir / "error.log"

    def sql(self, statement: str) -> str:
        """Run one statement with the mariadb client; return its tab-separated output."""
        proc = subprocess.run(
            [
                "mariadb",
                "--no-defaults",
                "-h127.0.0.1",
                f"-P{self.port}",
                "-uroot",
                "-N",
                "-B",
                "-e",
                statement,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"node {self.number}: {statement!r}: {proc.stderr.strip()}")
        return proc.stdout.strip()


class GaleraCluster:
    """start() bootstraps node 1 and joins 2 and 3; kill(n) SIGKILLs a node's mariadbd."""

    def __init__(self, size: int = 3, database: str = "smartcron") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="smartcron-galera-", dir="/var/tmp"))
        self.dir.chmod(0o755)
        self.database = database
        self.nodes = []
        for number in range(1, size + 1):
            port, gcomm, ist, sst = _ports()
            node_dir = self.dir / f"node{number}"
            node_dir.mkdir()
            if RUN_AS:
                shutil.chown(node_dir, RUN_AS, RUN_AS)
            self.nodes.append(Node(number, node_dir, port, gcomm, ist, sst))

    def url(self, number: int) -> str:
        """The URL of the test database on node `number` (1-based)."""
        return f"{self.nodes[number - 1].server_url}/{self.database}"

    def _option_file(self, node: Node) -> Path:
        members = ",".join(f"127.0.0.1:{n.gcomm}" for n in self.nodes)
        provider_options = ";".join(
            [
                f"gmcast.listen_addr=tcp://127.0.0.1:{node.gcomm}",
                f"ist.recv_addr=127.0.0.1:{node.ist}",
                "gcache.size=32M",
                "evs.suspect_timeout=PT3S",  # notice a dead node in seconds, not 5 s+
                "evs.inactive_timeout=PT6S",
            ]
        )
        user = f"user = {RUN_AS}\n" if RUN_AS else ""
        # The cluster name travels in gcomm messages, which hold at most 32 characters.
        text = f"""[mysqld]
{user}datadir = {node.dir}/data
socket = {node.dir}/sock
pid-file = {node.dir}/pid
log-error = {node.log}
port = {node.port}
bind-address = 127.0.0.1
skip-name-resolve
innodb-buffer-pool-size = 32M
binlog-format = ROW
default-storage-engine = InnoDB
innodb-autoinc-lock-mode = 2
wsrep-on = ON
wsrep-provider = {PROVIDER}
wsrep-cluster-name = smartcron-{self.dir.name[-8:]}
wsrep-cluster-address = gcomm://{members}
wsrep-node-name = node{node.number}
wsrep-node-address = 127.0.0.1:{node.gcomm}
wsrep-node-incoming-address = 127.0.0.1:{node.port}
wsrep-sst-method = rsync
wsrep-sst-receive-address = 127.0.0.1:{node.sst}
wsrep-provider-options = "{provider_options}"
"""
        path = node.dir / "my.cnf"
        path.write_text(text)
        return path

    def _start_node(self, node: Node, *, bootstrap: bool) -> None:
        cnf = self._option_file(node)
        if not (node.dir / "data").exists():
            subprocess.run(
                [
                    "mariadb-install-db",
                    f"--defaults-file={cnf}",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
        argv = [shutil.which("mariadbd") or "/usr/sbin/mariadbd", f"--defaults-file={cnf}"]
        if bootstrap:
            argv.append("--wsrep-new-cluster")
        node.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._wait_synced(node, timeout=120)

    def _wait_synced(self, node: Node, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            if node.proc is not None and node.proc.poll() is not None:
                break
            try:
                state = node.sql("SHOW STATUS LIKE 'wsrep_local_state_comment'")
            except (RuntimeError, subprocess.TimeoutExpired):
                state = ""
            if state.endswith("Synced"):
                return
            time.sleep(0.3)
        log = node.log.read_text(errors="replace")[-3000:] if node.log.exists() else ""
        raise RuntimeError(
            f"Galera node {node.number} (port {node.port}) did not reach Synced within "
            f"{timeout:.0f} s (last state {state!r}); its error log ends: {log}"
        )

    def start(self) -> None:
        """Bootstrap node 1, join the others one by one, create the test database."""
        for node in self.nodes:
            self._start_node(node, bootstrap=node.number == 1)
        self.nodes[0].sql(f"CREATE DATABASE IF NOT EXISTS `{self.database}` CHARACTER SET utf8mb4")
        size = self.nodes[0].sql("SHOW STATUS LIKE 'wsrep_cluster_size'").split()[-1]
        if size != str(len(self.nodes)):
            raise RuntimeError(f"the Galera cluster has {size} nodes, not {len(self.nodes)}")

    def cluster_size(self, number: int) -> int:
        """The cluster size node `number` sees."""
        return int(self.nodes[number - 1].sql("SHOW STATUS LIKE 'wsrep_cluster_size'").split()[-1])

    def kill(self, number: int) -> None:
        """SIGKILL node `number`'s mariadbd, as a crash would."""
        node = self.nodes[number - 1]
        if node.proc is not None:
            node.proc.kill()
            node.proc.wait(timeout=30)
            node.proc = None

    def destroy(self) -> None:
        for node in self.nodes:
            self.kill(node.number)
        if os.environ.get("SMARTCRON_KEEP_GALERA") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)
