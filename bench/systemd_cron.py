"""Benchmark a cold `smartcron sync` against Debian's systemd-cron for the same crontab lines.

Both sides start from nothing in the same kind of private systemd and end with every timer
started:
  - systemd-cron: its generator (`systemd-crontab-generator`, from Debian's package, run on a
    file in /etc/cron.d seen through a private mount) writes the units, then daemon-reload,
    then `systemctl start cron.target` (which starts every timer);
  - smartcron: the same lines imported once with `smartcron import-crontab` (not timed: that
    is a one-off), then a cold `smartcron sync` (render, daemon-reload, start, verify).
Runs alternate (REPEATS each, default 3), each in a fresh private systemd, so the machine's
load hits both alike. The package is not installed (it conflicts with cron): its .deb is
downloaded with `apt-get download` and unpacked into the work directory.

Goal (issue #14): smartcron's cold sync no slower than systemd-cron (ratio <= 1.0, medians).

Usage (root): .venv/bin/python bench/systemd_cron.py [LINES]   (default 1000)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from contract import Report, byte_compile, spread
from sync import run_sync

from smartcron.systemd.sandbox import PrivateSystemd

SMARTCRON = str(Path(sys.executable).with_name("smartcron"))
GENERATOR = "lib/systemd/system-generators/systemd-crontab-generator"
# The sync bench's schedules (all on 29 February, so that no job fires while it runs).
SCHEDULES = ["*/5 * 29 2 *", "0 * 29 2 *", "30 6 29 2 *", "0 2 29 2 *", "0 9,17 29 2 *"]
REPEATS = int(os.environ.get("REPEATS", "3"))


def unpack_systemd_cron(workdir: Path) -> Path:
    """Given a work directory, return the root of Debian's systemd-cron unpacked into it."""
    subprocess.run(["apt-get", "download", "-q", "systemd-cron"], cwd=workdir, check=True,
                   capture_output=True)  # fmt: skip
    deb = next(workdir.glob("systemd-cron_*.deb"))
    root = workdir / "systemd-cron"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def write_crontab(path: Path, lines: int) -> None:
    """A system crontab (user field) of LINES jobs over the five schedules."""
    body = ["SHELL=/bin/sh"]
    body += [f"{SCHEDULES[i % len(SCHEDULES)]} root /bin/true job-{i}" for i in range(lines)]
    path.write_text("\n".join(body) + "\n")


def systemd_cron_cold(package: Path, crond: Path) -> float:
    """Generator + daemon-reload + start cron.target in a fresh private systemd; seconds."""
    with PrivateSystemd(name="bench-systemd-cron") as instance:
        # The package's own targets and services, as its install would place them.
        for unit in (package / "lib/systemd/system").iterdir():
            shutil.copy(unit, instance.unit_dir / unit.name)
        script = (f"mount --bind {crond} /etc/cron.d && "
                  f"{package / GENERATOR} {instance.unit_dir}")  # fmt: skip
        began = time.perf_counter()
        subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                       check=True)  # fmt: skip
        instance.systemctl("daemon-reload")
        instance.systemctl("start", "cron.target")
        elapsed = time.perf_counter() - began
        timers = instance.systemctl("list-timers", "--all", "--no-legend", "cron-*").stdout
        started = timers.count("\n")
    if started < len(crond.joinpath("bench").read_text().splitlines()) - 1:
        raise SystemExit(f"systemd-cron started only {started} timers")
    return elapsed


def smartcron_cold(workdir: Path, crond: Path, lines: int) -> float:
    """Import the crontab into a fresh store, then time a cold `smartcron sync`; seconds."""
    run = workdir / f"smartcron-{time.monotonic_ns()}"
    run.mkdir()
    with PrivateSystemd(name="bench-smartcron") as instance:
        env = {
            **os.environ,
            "SMARTCRON_DATABASE_URL": f"sqlite:///{run}/bench.db",
            "SMARTCRON_UNIT_DIR": str(instance.unit_dir),
            "DBUS_SYSTEM_BUS_ADDRESS": instance.bus_address,
            "SMARTCRON_CONFIG": str(run / "none.toml"),
            "SMARTCRON_SIGNING_KEY_FILE": str(run / "signing.key"),
        }
        (run / "none.toml").write_text("")
        subprocess.run([SMARTCRON, "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run([SMARTCRON, "import-crontab", "--format", "system", str(crond / "bench")],
                       env=env, check=True, capture_output=True)  # fmt: skip
        elapsed, _rss, out = run_sync(env)
    created = len(out["created"])  # type: ignore[arg-type]
    if created != lines or out["failed"]:
        raise SystemExit(f"smartcron created {created} of {lines}: {out['failed']}")
    return elapsed


def main(lines: int) -> None:
    report = Report("systemd_cron")
    print(f"byte-compiled {byte_compile()}")
    workdir = Path(tempfile.mkdtemp(prefix="smartcron-bench-", dir="/var/tmp"))
    try:
        package = unpack_systemd_cron(workdir)
        crond = workdir / "cron.d"
        crond.mkdir()
        write_crontab(crond / "bench", lines)
        theirs, ours = [], []
        for _ in range(REPEATS):  # alternating, so load falls on both alike
            theirs.append(systemd_cron_cold(package, crond))
            ours.append(smartcron_cold(workdir, crond, lines))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    a, b = spread(theirs), spread(ours)
    ratio = round(b["median"] / a["median"], 2)
    print(f"{lines} crontab lines, load {Path('/proc/loadavg').read_text().split()[:3]}")
    print(f"  systemd-cron generator + daemon-reload + start: {a}")
    print(f"  smartcron cold sync                           : {b}  ({ratio} x systemd-cron)")
    report.figure("lines", lines)
    report.figure("systemd_cron_cold_s", a)
    report.figure("smartcron_cold_s", b)
    report.below("ratio_to_systemd_cron", ratio, 1.01)  # at least as fast: <= 1.0
    report.emit()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
