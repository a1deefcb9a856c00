"""A private systemd for tests, benchmarks and trying smartcron without systemd as PID 1.

It boots the host's real systemd as PID 1 of new PID and mount namespaces (about 0.5 s), with
tmpfs on /run and /tmp, volatile journald, and a minimal target that starts only journald and
D-Bus, so the host's own services are never started a second time. See
shared/systemd-facts.md for why each step is there.

With a `hostname`, the instance is a "host" of its own: a UTS namespace too, that hostname
set (and bind-mounted over /etc/hostname, which systemd reads at boot) before systemd starts,
and a cgroup of its own, so several instances can run units of the same name at once (there
is no cgroup namespace: without it they would all use /sys/fs/cgroup/*/system.slice/).
`kill()` ends it as a host that loses power; `start()` boots it again, as the host coming back.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

TARGET = "smartcron-sandbox.target"

BOOT_SCRIPT = """#!/bin/sh
set -e
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
{host_setup}mkdir -p /run/systemd/system /run/systemd/journald.conf.d
cat > /run/systemd/system/{target} <<'UNIT'
[Unit]
Description=smartcron private systemd
Wants=systemd-journald.service dbus.service
UNIT
printf '[Journal]\\nStorage=volatile\\n' \\
    > /run/systemd/journald.conf.d/smartcron-sandbox.conf
# Timers and services depend on sysinit.target (DefaultDependencies=yes). Starting one would
# run the early boot inside the sandbox: remount-fs, tmpfiles, sysusers, binfmt, journal flush,
# all acting on the host's shared /etc and /var. Mask what those targets pull in (journald and
# D-Bus excepted) and every generator (fstab, sysv, ...), so the targets start empty.
mkdir -p /run/systemd/system-generators
for g in /lib/systemd/system-generators/* /usr/lib/systemd/system-generators/* \\
         /etc/systemd/system-generators/*; do
    [ -e "$g" ] && ln -sf /dev/null "/run/systemd/system-generators/${{g##*/}}"
done
for d in /lib/systemd/system /usr/lib/systemd/system /etc/systemd/system; do
    for t in sysinit local-fs local-fs-pre swap cryptsetup remote-fs remote-fs-pre basic \\
             sockets paths timers multi-user; do
        for u in "$d/$t.target.wants"/* "$d/$t.target.requires"/*; do
            [ -e "$u" ] || [ -L "$u" ] || continue
            case "${{u##*/}}" in systemd-journald*|dbus*|smartcron*) continue ;; esac
            ln -sf /dev/null "/run/systemd/system/${{u##*/}}"
        done
    done
done
ln -sf /dev/null /run/systemd/system/tmp.mount
export container={name}
exec /lib/systemd/systemd --system --unit={target} --log-target=journal
"""


# A "host": its own hostname (in its UTS namespace; systemd sets the one in /etc/hostname at
# boot, so that file is replaced in this mount namespace) and its own cgroup in the
# hierarchies systemd tracks units in (name=systemd, and the unified one of a hybrid or v2
# host), which systemd then takes as its root. The resource controllers' hierarchies are left
# as they are.
HOST_SETUP = """printf '%s\\n' {hostname} > /run/smartcron-hostname
mount --bind /run/smartcron-hostname /etc/hostname
hostname {hostname}
for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
    [ -e "$h/cgroup.procs" ] || continue
    mkdir -p "$h/{cgroup}" && echo $$ > "$h/{cgroup}/cgroup.procs"
done
"""


def _die_with_parent() -> None:
    """In the child before exec: ask the kernel for SIGKILL when the parent exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


PR_SET_PDEATHSIG = 1


class SandboxError(RuntimeError):
    """The private systemd could not be booted or driven."""


def available() -> str | None:
    """Return None if a private systemd can be booted here, else the reason it cannot."""
    if os.geteuid() != 0:
        return "needs root (unshare of PID and mount namespaces)"
    for tool in ("unshare", "nsenter", "systemctl", "journalctl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not Path("/lib/systemd/systemd").exists():
        return "/lib/systemd/systemd is not installed"
    return None


class PrivateSystemd:
    """A running private systemd. Use as a context manager or call start()/stop()."""

    def __init__(self, name: str = "smartcron-sandbox", hostname: str | None = None) -> None:
        self.name = name
        self.hostname = hostname
        self.pid = 0
        self.boot_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir = Path(tempfile.mkdtemp(prefix="smartcron-sandbox-", dir="/var/tmp"))
        # The instance's own cgroup (hosts only), named after its work directory: unique.
        self.cgroup = f"smartcron-{self._workdir.name}" if hostname else ""

    # Paths and addresses, as seen from the host.
    @property
    def root(self) -> Path:
        return Path(f"/proc/{self.pid}/root")

    @property
    def bus_address(self) -> str:
        return f"unix:path={self.root}/run/dbus/system_bus_socket"

    @property
    def journal_dir(self) -> Path:
        return self.root / "run/log/journal"

    @property
    def unit_dir(self) -> Path:
        """Where unit files go: /run/systemd/system inside, seen from the host."""
        return self.root / "run/systemd/system"

    def start(self, timeout: float = 15.0) -> None:
        """Boot the instance and wait until systemd says it is running."""
        reason = available()
        if reason:
            raise SandboxError(f"cannot boot a private systemd: {reason}")
        script = self._workdir / "boot.sh"
        setup = ""
        if self.hostname:
            if not self.hostname.replace("-", "").isalnum():
                raise SandboxError(f"hostname {self.hostname!r}: use letters, digits and -")
            setup = HOST_SETUP.format(hostname=self.hostname, cgroup=self.cgroup)
        script.write_text(BOOT_SCRIPT.format(target=TARGET, name=self.name, host_setup=setup))
        script.chmod(0o755)
        began = time.monotonic()
        self._proc = subprocess.Popen(
            [
                "unshare",
                "--pid",
                *(["--uts"] if self.hostname else []),
                "--mount",
                "--fork",
                "--mount-proc",
                "--propagation",
                "private",
                # The private systemd dies with unshare, and unshare with this process
                # (_die_with_parent): no sandbox outlives a killed test or benchmark.
                "--kill-child=SIGKILL",
                str(script),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(self._workdir / "boot.log", "wb"),  # noqa: SIM115 - kept for the process
            start_new_session=True,
            # A clean environment, as PID 1 gets at boot: an inherited DBUS_SYSTEM_BUS_ADDRESS
            # (say, of an earlier sandbox) would send systemd to the wrong bus for good.
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
            preexec_fn=_die_with_parent,  # runs before exec; no threads exist yet
        )
        self.pid = self._find_child(began + timeout)
        state = ""
        while time.monotonic() < began + timeout:
            state = self.run(["systemctl", "is-system-running"], check=False).stdout.strip()
            if state in {"running", "degraded"}:
                self._wait_on_bus(began + timeout)
                self.boot_seconds = time.monotonic() - began
                return
            time.sleep(0.02)
        log = (self._workdir / "boot.log").read_text(errors="replace")[-2000:]
        self.kill()
        raise SandboxError(
            f"private systemd did not reach running within {timeout}s "
            f"(last state {state!r}); boot log: {log}"
        )

    def _on_bus(self) -> bool:
        # A short timeout: while systemd is not on the bus, dbus-daemon holds the call (it
        # would try to activate the name), and a long wait would use up the whole boot budget
        # before _wait_on_bus could nudge systemd (seen once in a benchmark).
        try:
            proc = subprocess.run(
                [
                    "busctl",
                    f"--address={self.bus_address}",
                    "--timeout=1",
                    "get-property",
                    "org.freedesktop.systemd1",
                    "/org/freedesktop/systemd1",
                    "org.freedesktop.systemd1.Manager",
                    "Version",
                ],
                capture_output=True,
                timeout=3,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False
        return proc.returncode == 0

    def _wait_on_bus(self, deadline: float) -> None:
        """Wait until systemd answers on D-Bus. If it tried to connect before dbus-daemon was
        listening, it does not retry by itself; SIGUSR1 asks it to reconnect."""
        nudged = 0.0
        while time.monotonic() < deadline:
            if self._on_bus():
                return
            if time.monotonic() - nudged > 1.0:
                os.kill(self.pid, signal.SIGUSR1)
                nudged = time.monotonic()
            time.sleep(0.05)
        raise SandboxError("the private systemd did not register on D-Bus")

    def _find_child(self, deadline: float) -> int:
        assert self._proc is not None  # noqa: S101 - set by start()
        children = Path(f"/proc/{self._proc.pid}/task/{self._proc.pid}/children")
        while time.monotonic() < deadline:
            try:
                text = children.read_text().split()
            except OSError:
                text = []
            if text:
                return int(text[0])
            if self._proc.poll() is not None:
                break
            time.sleep(0.005)
        raise SandboxError("unshare did not start the private systemd")

    def run(
        self,
        argv: list[str],
        *,
        check: bool = True,
        input: str | None = None,
        timeout: float = 120,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run argv inside the instance's namespaces (nsenter) and return the result."""
        proc = subprocess.run(
            self.nsenter(argv),
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
            check=False,
            env=env,
        )
        if check and proc.returncode != 0:
            raise SandboxError(
                f"{' '.join(argv)} failed with {proc.returncode}: "
                f"{proc.stderr.strip() or proc.stdout.strip()}"
            )
        return proc

    def nsenter(self, argv: list[str]) -> list[str]:
        """Return the command line that runs argv inside the instance's namespaces."""
        spaces = ["-m", "-p", *(["-u"] if self.hostname else [])]
        return ["nsenter", "-t", str(self.pid), *spaces, "--", *argv]

    def isolate_for_install(self, fresh_accounts: tuple[str, ...] = ("smartcron",)) -> None:
        """Make install.sh inside the instance change nothing on the host.

        Inside the instance's mount namespace only: /etc, /usr/local, /usr/share and /var/lib
        become copy-on-write overlays, and so does /opt: the user, the config, the units, the
        polkit rule, the venv, completion, man page and data land in the upper layers, on a
        tmpfs. Accounts named in
        `fresh_accounts` that the host happens to have are removed inside, so install.sh
        starts from a clean host whatever accounts the real one has.
        """
        layers = "/run/smartcron-overlays"  # the instance's own /run (a tmpfs)
        script = f"mkdir -p {layers} && mount -t tmpfs -o mode=0755 tmpfs {layers}\n"
        for name, target in (
            ("etc", "/etc"),
            ("usr-local", "/usr/local"),
            ("var-lib", "/var/lib"),
            ("opt", "/opt"),
            ("usr-share", "/usr/share"),  # shell completion and the man page
        ):
            upper, work = f"{layers}/{name}/upper", f"{layers}/{name}/work"
            script += (
                f"mkdir -p {upper} {work} && mount -t overlay overlay "
                f"-o lowerdir={target},upperdir={upper},workdir={work} {target}\n"
            )
        # What systemd-tmpfiles does on a real host (masked here): journal files readable by
        # the systemd-journal group, which the smartcron services use to read task output.
        script += (
            "chgrp -R systemd-journal /run/log/journal && chmod 2755 /run/log/journal && "
            "chmod 2750 /run/log/journal/* && chmod 0640 /run/log/journal/*/*\n"
        )
        for account in fresh_accounts:
            script += f"if getent passwd {account} >/dev/null; then userdel {account}; fi\n"
            script += f"if getent group {account} >/dev/null; then groupdel {account}; fi\n"
        self.run(["sh", "-ec", script])
        # systemd reads unit files and users through the new /etc from now on.
        self.systemctl("daemon-reload")

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run systemctl inside the instance."""
        return self.run(["systemctl", "--no-pager", *args], check=check)

    def show(self, unit: str, *props: str) -> dict[str, str]:
        """Return systemd properties of a unit as a dict (systemctl show)."""
        out = self.systemctl("show", unit, "-p", ",".join(props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, *args: str) -> str:
        """Run journalctl on the instance's journal (from the host) and return its output."""
        proc = subprocess.run(
            ["journalctl", "-D", str(self.journal_dir), "--no-pager", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return proc.stdout

    def kill(self) -> None:
        """SIGKILL the instance's PID 1, which ends every process in it at once, as a host
        that loses power. `start()` boots it again (a fresh /run: no units, no journal)."""
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        if self._proc is not None:
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._proc = None
        self.pid = 0
        self._remove_cgroups()

    def _remove_cgroups(self) -> None:
        """Remove the instance's own cgroups, deepest first, once their processes are gone."""
        if not self.cgroup:
            return
        for hierarchy in [Path("/sys/fs/cgroup"), *Path("/sys/fs/cgroup").iterdir()]:
            top = hierarchy / self.cgroup
            if not top.is_dir():
                continue
            deadline = time.monotonic() + 10
            while top.exists() and time.monotonic() < deadline:
                for path in [*sorted(top.rglob("*"), key=lambda p: -len(p.parts)), top]:
                    if path.is_dir():
                        with contextlib.suppress(OSError):
                            path.rmdir()
                if top.exists():
                    time.sleep(0.05)  # the kernel empties killed processes' cgroups

    def stop(self) -> None:
        """Kill the instance and remove its work directory (it cannot be started again)."""
        self.kill()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> PrivateSystemd:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
