"""The gate on real components: a private systemd 252 runs a `placement: one` task whose
ExecCondition= is `smartcron gate`, claims go to a real MariaDB, and the watchdog records
what systemd reports. Other hosts are `smartcron gate` processes racing for the same slots
here; tests/system/hosts/ runs whole hosts (private systemds with cgroups of their own)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from smartcron.db.engine import make_engine
from smartcron.db.schema import claims, executions, metadata
from smartcron.model import config
from smartcron.systemd.entries import MSG_RUN_RECORDED
from smartcron.systemd.units import smartcron_executable
from smartcron.watchdog.service import Watchdog

from support.systemd import SystemdEnv, journal_entries

EMPTY_CONFIG = str(Path(__file__).resolve().parents[2] / "data" / "empty.toml")
EVERY_5S = "*-*-* *:*:0/5"


@pytest.fixture
def maria(mysql_database: str, sd: SystemdEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The MariaDB database as this test's store, for the CLI and for the units' gate (the
    private systemd's manager environment, which every unit inherits): this host is "a"."""
    engine = make_engine(mysql_database)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()
    monkeypatch.setenv("SMARTCRON_DATABASE_URL", mysql_database)
    monkeypatch.setenv("SMARTCRON_HOST_NAME", "a")
    env = {
        "SMARTCRON_DATABASE_URL": mysql_database,
        "SMARTCRON_HOST_NAME": "a",
        "SMARTCRON_CONFIG": EMPTY_CONFIG,
    }
    sd.systemd.systemctl("set-environment", *(f"{k}={v}" for k, v in env.items()))
    sd.engine = make_engine(mysql_database)
    yield mysql_database
    sd.systemd.systemctl("unset-environment", *env)


def _gate(url: str, host: str, task: str, fired: dt.datetime) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "SMARTCRON_DATABASE_URL": url,
        "SMARTCRON_HOST_NAME": host,
        "SMARTCRON_CONFIG": EMPTY_CONFIG,
        "INVOCATION_ID": uuid.uuid4().hex,
        "TRIGGER_UNIT": f"smartcron-{task}.timer",
    }
    proc = subprocess.Popen(
        [smartcron_executable(), "gate", task],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.args_invocation = env["INVOCATION_ID"]  # type: ignore[attr-defined]
    return proc


def test_gate_three_hosts_racing_on_mariadb_claim_each_slot_exactly_once(
    sd: SystemdEnv, maria: str
) -> None:
    task = sd.add("race", "--command", "/bin/true", "--schedule", EVERY_5S, "--hosts", "a,b,c",
                  "--placement", "one")  # fmt: skip
    wins: list[tuple[str, str]] = []  # (host, invocation id) of each gate that said go
    for _round in range(8):
        # Each round starts just after an elapse, as three hosts' timers would.
        time.sleep(5 - time.time() % 5 + 0.05)
        fired = dt.datetime.now(dt.UTC)
        procs = {h: _gate(maria, h, task, fired) for h in ("a", "b", "c")}
        for host, proc in procs.items():
            _out, err = proc.communicate(timeout=60)
            assert proc.returncode in (0, 1), err
            if proc.returncode == 0:
                wins.append((host, proc.args_invocation))  # type: ignore[attr-defined]
            else:
                assert "ran on" in err, err
    with sd.engine.connect() as conn:
        skips = conn.execute(
            sa.select(executions.c.host, executions.c.outcome, executions.c.meaning).where(
                executions.c.task_name == task
            )
        ).all()
        held = conn.execute(
            sa.select(claims.c.slot, claims.c.host, claims.c.invocation_id).where(
                claims.c.claim_key == f"task:{task}"
            )
        ).all()
    # Exactly once, counted by scheduled time (the slot each gate named from its own clock:
    # on a loaded machine a gate that starts late names the next slot, and wins that one).
    # Every go is one claim of its own, and no slot has a second claim (the unique key).
    assert sorted(wins) == sorted((c.host, c.invocation_id) for c in held)
    assert len({c.slot for c in held}) == len(held) >= 7
    assert len(wins) + len(skips) == 24
    assert {s.outcome for s in skips} == {"ran-elsewhere"}
    # Each skip names a slot that a different host claimed.
    by_slot = {c.slot.isoformat(): c.host for c in held}
    for skip in skips:
        named = [slot for slot in by_slot if slot in skip.meaning]
        assert len(named) == 1, skip.meaning
        assert f"ran on {by_slot[named[0]]}" in skip.meaning and by_slot[named[0]] != skip.host


def test_gate_on_systemd_skips_cleanly_and_the_watchdog_keeps_the_gates_outcome(
    sd: SystemdEnv, maria: str
) -> None:
    out = sd.shared / "ran.txt"
    script = sd.script("job.sh", f"#!/bin/sh\ndate +%s.%N >> {out}\n")
    cfg = config.load(
        environ={
            "SMARTCRON_CONFIG": "",
            "SMARTCRON_DATABASE_URL": maria,
            "SMARTCRON_HOST_NAME": "a",
            "SMARTCRON_JOURNAL_DIRECTORY": str(sd.systemd.journal_dir),
        }
    )
    watchdog = Watchdog(cfg)
    watchdog.skip_journal_history()
    thread = threading.Thread(target=watchdog.serve, daemon=True)
    thread.start()
    assert watchdog.listener.subscribed.wait(15)
    try:
        task = sd.add("gated", "--command", str(script), "--schedule", EVERY_5S,
                      "--hosts", "a,b", "--placement", "one")  # fmt: skip
        unit = sd.systemd.unit_dir / f"smartcron-{task}.service"
        # Host b has already claimed the next two slots; host a claims the ones after.
        now = dt.datetime.now(dt.UTC)
        first = now.replace(microsecond=0) + dt.timedelta(seconds=5 - now.second % 5)
        b_slots = [first + dt.timedelta(seconds=5 * i) for i in range(2)]
        with sd.engine.begin() as conn:
            for slot in b_slots:
                conn.execute(claims.insert().values(claim_key=f"task:{task}", slot=slot, host="b",
                                                    claimed_at=now))  # fmt: skip
        result = sd.run("sync")
        assert result.exit_code == 0, result.stderr
        assert "ExecCondition=+" in unit.read_text()
        deadline = time.monotonic() + 40
        rows: list[sa.Row[object]] = []
        while time.monotonic() < deadline:
            with sd.engine.connect() as conn:
                rows = list(conn.execute(sa.select(executions).where(
                    executions.c.task_name == task, executions.c.outcome != "running")))  # fmt: skip
            if {r.outcome for r in rows} >= {"ran-elsewhere", "success"} and len(rows) >= 3:
                break
            time.sleep(0.5)
        outcomes = {r.outcome for r in rows}
        assert {"ran-elsewhere", "success"} <= outcomes, [(r.outcome, r.meaning) for r in rows]
        assert not outcomes - {"ran-elsewhere", "success"}, [(r.outcome, r.meaning) for r in rows]
        skipped = [r for r in rows if r.outcome == "ran-elsewhere"]
        assert all(r.host == "a" and "ran on b" in r.meaning for r in skipped)
        assert {r.started_at for r in skipped} and all(
            r.result == "exec-condition" for r in skipped
        )
        # The gate, inside the private systemd, wrote each skip's journal entry after its row.
        found = journal_entries(sd, f"MESSAGE_ID={MSG_RUN_RECORDED}", f"SMARTCRON_TASK={task}",
                                "SMARTCRON_OUTCOME=ran-elsewhere", count=len(skipped))  # fmt: skip
        assert sorted(e["SMARTCRON_RUN"] for e in found) == sorted(str(r.id) for r in skipped)
        assert {(e["PRIORITY"], e["SMARTCRON_HOST"]) for e in found} == {("6", "a")}
        ran = [r for r in rows if r.outcome == "success"]
        assert all(r.host == "a" for r in ran)
        # The command ran only for slots a claimed, never for b's.
        ran_at = [float(line) for line in out.read_text().split()]
        ran_slots = {dt.datetime.fromtimestamp(f // 5 * 5, dt.UTC) for f in ran_at}
        assert ran_slots and not ran_slots & set(b_slots)
        state = sd.systemd.show(f"smartcron-{task}.service", "ActiveState", "Result")
        assert state["ActiveState"] != "failed" and state["Result"] == "success"
    finally:
        watchdog.stop()
        thread.join(timeout=15)
