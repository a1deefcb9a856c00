"""`smartcron doctor`: check the whole installation, each finding with how to fix it.

Checks: the config, the database (reachable and migrated), the units (in sync with the
database), the watchdog (running and reporting), the dashboard (answering), the timers, the
journal (persistent) and disk space. Any "fail" makes the command exit 1.
"""

from __future__ import annotations

import datetime as dt
import ssl
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from smartcron.alerting.integrity import refused_alerts
from smartcron.db.engine import integrity_problem
from smartcron.db.migrate import current_revision, head_revision
from smartcron.db.tasks import list_tasks
from smartcron.db.windows import windowed_tasks
from smartcron.errors import OperationFailed, SmartcronError
from smartcron.model.config import Config, dashboard_tls
from smartcron.model.signing import Signer, load_signer
from smartcron.ops import health
from smartcron.ops.tls import certificate_fingerprint, client_context
from smartcron.systemd import sync as sync_mod
from smartcron.systemd.bus import Systemd
from smartcron.systemd.journal import JOURNAL_GROUP, Journal, account_can_read
from smartcron.systemd.own_units import (
    JOURNALD_DIR,
    JOURNALD_DROPIN,
    OwnUnits,
    journald_dropin,
    own_user,
)

DASHBOARD = "smartcron-dashboard.service"
MAINTENANCE = "smartcron-maintenance.timer"


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # ok, warn, fail
    message: str
    fix: str = ""


def check_database(engine: Engine) -> Finding:
    """Is the database reachable, sound (a full quick_check of a SQLite file) and migrated?"""
    damage = integrity_problem(engine)  # every page, however long it takes
    if damage:
        return Finding(
            "database",
            "fail",
            f"the SQLite file is damaged: {damage}",
            "stop smartcron-watchdog and smartcron-dashboard, move the file aside and "
            '`smartcron restore` the newest backup (docs/operations.md, "A damaged database")',
        )
    try:
        current = current_revision(engine)
    except SmartcronError as exc:
        return Finding("database", "fail", str(exc), "start the database; check database_url")
    head = head_revision()
    if current != head:
        return Finding(
            "database",
            "fail",
            f"schema is at {current or 'nothing (empty database)'}, this smartcron needs {head}",
            "smartcron db upgrade",
        )
    return Finding("database", "ok", f"reachable, schema {head} (latest)")


def check_units(config: Config, engine: Engine) -> list[Finding]:
    """Return two findings: do the units match the database, and are the definitions the
    ones root signed (verified with root's key; without it, from the alerts sync raised)."""
    unit_dir = Path(config.unit_dir)
    with engine.connect() as conn:
        tasks = list_tasks(conn)
        windowed = windowed_tasks(conn, tasks)
    try:
        signer: Signer | None = load_signer(config.signing_key_file)
    except OperationFailed:
        signer = None  # not root: the key is root's alone
    plans = sync_mod.plan(
        tasks, unit_dir, accuracy=config.timer_accuracy, signer=signer, windowed=windowed
    )
    refused = [p for p in plans if p.refused]
    # A task sync cannot install (a foreign file has its name, its units cannot render) needs
    # the fix its error names; sync alone would only fail again.
    stuck = [p for p in plans if p.action == "failed" and not p.refused]
    drifted = [p.name for p in plans if p.action not in ("unchanged", "failed") and not p.refused]
    drifted += sync_mod.target_drift(unit_dir, OwnUnits.for_config(config))
    findings = []
    if stuck:
        findings.append(
            Finding(
                "unit-conflicts",
                "fail",
                f"{len(stuck)} task(s) cannot be installed: "
                + "; ".join(f"{p.name}: {p.error}" for p in stuck[:3]),
                "do what the message says for each (sync cannot fix it by itself), then "
                "smartcron sync (as root)",
            )
        )
    if drifted:
        findings.append(
            Finding(
                "units",
                "fail",
                f"{len(drifted)} unit(s) differ from the database: {', '.join(drifted[:5])}",
                "smartcron sync --dry-run (to see why), then smartcron sync (as root)",
            )
        )
    else:
        findings.append(
            Finding("units", "ok", f"{len(tasks)} task(s), every unit matches the database")
        )
    if signer is None:
        alerted = refused_alerts(engine)
        refused_names = [name for name, _summary in alerted]
        how = "according to the alerts of root's last sync (run doctor as root to verify)"
    else:
        refused_names = [p.name for p in refused]
        how = "verified with root's signing key"
    if refused_names:
        first = next((p.error for p in refused), "") or refused_alerts(engine)[0][1]
        findings.append(
            Finding(
                "definitions",
                "fail",
                f"{len(refused_names)} task definition(s) changed outside smartcron, "
                f"{how}: {', '.join(refused_names[:5])}; sync does not install them. "
                f"{refused_names[0]}: {first}",
                "check each with `smartcron task show NAME --show-env`; if it is right, "
                "`sudo smartcron task sign NAME`, else `sudo smartcron import` your task file",
            )
        )
    elif signer is None:
        findings.append(Finding("definitions", "ok", f"no definition was refused, {how}"))
    else:
        findings.append(
            Finding("definitions", "ok", f"every definition is the one root signed ({how})")
        )
    return findings


def check_own_units(config: Config) -> Finding:
    """smartcron's own units are the ones this version ships (not edited, not replaced)."""
    unit_dir = Path(config.unit_dir)
    wanted = OwnUnits.for_config(config)
    files = {**wanted.services(), **wanted.shared_files()}
    missing, changed = [], []
    for name, text in files.items():
        path = unit_dir / name
        if not path.exists():
            missing.append(name)
        elif path.read_text(encoding="utf-8", errors="replace") != text:
            changed.append(name)
    if changed:
        return Finding(
            "own units",
            "fail",
            f"{', '.join(changed)} differ from the units this smartcron ships (edited by hand, "
            "replaced, or left by an older version)",
            "smartcron units install && smartcron sync && systemctl daemon-reload, then "
            "systemctl restart smartcron-watchdog smartcron-dashboard",
        )
    if missing:
        return Finding(
            "own units",
            "fail",
            f"not installed: {', '.join(missing)}",
            "run install.sh (or smartcron units install && smartcron sync as root)",
        )
    if config.service_user and wanted.user is None:
        # The default account is missing (install.sh creates it): the services then run as
        # root, which is right on a developer's machine and wrong on a shop's server.
        return Finding(
            "own units",
            "warn",
            f"the account {config.service_user!r} does not exist, so smartcron's own services "
            "(watchdog, dashboard) run as root",
            'run install.sh (it creates the account), or set service_user = "" to run them '
            "as root on purpose",
        )
    return Finding("own units", "ok", f"{len(files)} unit(s), as shipped")


def check_dashboard(config: Config) -> Finding:
    host, _, port = config.dashboard_listen.rpartition(":")
    try:
        tls = dashboard_tls(config, host.strip("[]"))
    except SmartcronError as exc:
        return Finding("dashboard", "fail", str(exc), 'docs/install.md, "HTTPS"')
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host.strip("[]")  # noqa: S104
    host = f"[{host}]" if ":" in host else host
    url = f"{'https' if tls else 'http'}://{host}:{port}/healthz"
    try:
        context = client_context(tls[0]) if tls else None
        with urllib.request.urlopen(url, timeout=5, context=context) as answer:  # noqa: S310
            status = answer.status
    except (OSError, ssl.SSLError, SmartcronError) as exc:
        return Finding(
            "dashboard",
            "fail",
            f"{url} does not answer ({exc})",
            f"systemctl status {DASHBOARD}; journalctl -u {DASHBOARD}",
        )
    if status != 200:
        return Finding(
            "dashboard", "fail", f"{url} answered {status}", f"journalctl -u {DASHBOARD}"
        )
    if tls:
        fingerprint = certificate_fingerprint(tls[0])
        return Finding("dashboard", "ok", f"answers at {url}, certificate SHA-256 {fingerprint}")
    return Finding("dashboard", "ok", f"answers at {url} (plain HTTP, this host only)")


def check_timers(systemd: Systemd, engine: Engine) -> list[Finding]:
    with engine.connect() as conn:
        tasks = list_tasks(conn)
    out = [
        Finding("timers", c.status, f"{c.name}: {c.message}", "smartcron sync")
        for c in health.check_timers(tasks, systemd)
        if c.status != "ok"
    ]
    maintenance = systemd.properties(MAINTENANCE, "ActiveState").get("ActiveState")
    if maintenance != "active":
        out.append(
            Finding(
                "timers",
                "fail",
                f"{MAINTENANCE} is {maintenance}: no backups, no pruning",
                f"systemctl enable --now {MAINTENANCE}",
            )
        )
    if not out:
        out.append(Finding("timers", "ok", f"all active, {MAINTENANCE} included"))
    return out


def check_journald_limits() -> Finding:
    """journald's rate limit is raised by smartcron's drop-in (else output can be lost)."""
    wanted = journald_dropin()
    places = [Path(d) / JOURNALD_DROPIN for d in (JOURNALD_DIR, "/run/systemd/journald.conf.d")]
    if any(p.exists() and p.read_text(encoding="utf-8") == wanted for p in places):
        return Finding("journald", "ok", f"rate limit raised ({JOURNALD_DROPIN})")
    return Finding(
        "journald",
        "warn",
        f"{places[0]} is missing or changed: journald keeps only about 35,000 lines per 30 s of "
        "a task that exits at once, and runs that print more lose the rest (smartcron marks "
        "them 'output incomplete')",
        "smartcron units install && systemctl restart systemd-journald",
    )


def check_journal(config: Config) -> Finding:
    journal = Journal(config.journal_directory)
    if not journal.persistent():
        return Finding(
            "journal",
            "warn",
            "the journal is volatile (no /var/log/journal): task output is lost at every reboot",
            "mkdir -p /var/log/journal && systemd-tmpfiles --create --prefix /var/log/journal "
            "&& systemctl restart systemd-journald",
        )
    account = own_user(config.service_user)
    if account and not config.journal_directory and not account_can_read(account):
        # The watchdog, the dashboard and the alert unit read task output as this account.
        return Finding(
            "journal",
            "fail",
            f"the {account} account cannot read the journal (not in {JOURNAL_GROUP}): task "
            "output and fallback alerts lose their details",
            f"usermod -a -G {JOURNAL_GROUP} {account}; systemctl restart "
            "smartcron-watchdog smartcron-dashboard",
        )
    usage = health.check_journal(config).message
    return Finding("journal", "ok", f"persistent; {usage}")


def check_disk(config: Config) -> list[Finding]:
    return [
        Finding(c.name, c.status, c.message, "free space on that file system")
        for c in health.check_disk(config)
    ]


def run(config: Config, engine: Engine, now: dt.datetime) -> list[Finding]:
    """Given the configuration, return every finding, in the order they are printed."""
    findings = [Finding("config", "ok", f"valid ({config.source})"), check_database(engine)]
    database_ok = findings[-1].status == "ok"
    if database_ok:
        findings += check_units(config, engine)
        delivery = health.check_delivery(engine, now)
        findings.append(Finding(delivery.name, delivery.status, delivery.message, delivery.fix))
    findings.append(check_own_units(config))
    try:
        with Systemd() as systemd:
            if database_ok:
                watchdog = health.check_watchdog(systemd, engine, now)
                findings.append(
                    Finding(watchdog.name, watchdog.status, watchdog.message, watchdog.fix)
                )
                findings += check_timers(systemd, engine)
    except SmartcronError as exc:
        findings.append(
            Finding("systemd", "fail", f"cannot talk to systemd: {exc}", "run doctor on the host")
        )
    findings.append(check_dashboard(config))
    findings.append(check_journal(config))
    findings.append(check_journald_limits())
    findings += check_disk(config)
    return findings
