"""The gate (ExecCondition=) and its claim, on an SQLite file: who runs a `placement: one`
run, what the others record, retries, hand starts, and an unreachable database."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcron.db.claims import ClaimUndecided, is_deadlock, lost_race
from smartcron.db.engine import make_engine
from smartcron.db.migrate import upgrade
from smartcron.db.schema import claims, executions
from smartcron.db.state import KEY_LENGTH, manual_key, set_state
from smartcron.model import config
from smartcron.model.validate import validate_task
from smartcron.ops.gate import GO, SKIP, GateContext, GateVerdict, decide, run_gate, slot_of

from support.dashboard import add_task

SLOT = dt.datetime(2026, 12, 3, 10, 0, 5, tzinfo=dt.UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path}/gate.db")
    upgrade(eng)
    add_task(eng, "bank", schedule="*-*-* *:*:0/5", hosts="a,b,c", placement="one")
    add_task(eng, "each", schedule="*-*-* *:*:0/5", hosts="*")
    yield eng
    eng.dispose()


def _env(
    inv: str, fired: dt.datetime | None = SLOT, timer: str = "smartcron-bank.timer"
) -> dict[str, str]:
    env = {"INVOCATION_ID": inv, "FIRED": (fired or SLOT).isoformat()}
    if fired is not None:
        env["TRIGGER_UNIT"] = timer
    return env


def _gate(
    engine: Engine, host: str, env: dict[str, str], task: str = "bank", **kw: Any
) -> tuple[int, str]:
    cfg = config.load(
        environ={"SMARTCRON_HOST_NAME": host, "SMARTCRON_DATABASE_URL": "sqlite:////unused.db"}
    )
    kw.setdefault("restarts", 0)
    now = dt.datetime.fromisoformat(env["FIRED"])
    return run_gate(cfg, engine, task, environ=env, now=now, **kw)


def _rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(sa.select(executions).order_by(executions.c.id)).all()


def test_gate_slot_is_the_schedule_elapse_at_or_before_the_timer_firing() -> None:
    task = validate_task(
        {"name": "x", "command": ["/bin/true"], "schedule": "*-*-* *:*:0/5", "timezone": "UTC"},
        check_host=False,
    )
    # Fired 0.7 s late (AccuracySec=), or by a clock 0.3 s behind: the same slot.
    assert slot_of(task, SLOT + dt.timedelta(seconds=0.7)) == SLOT
    assert slot_of(task, SLOT) == SLOT
    assert slot_of(task, SLOT + dt.timedelta(seconds=4.9)) == SLOT


def test_gate_one_winner_per_slot_losers_record_ran_on_host(engine: Engine) -> None:
    results = {host: _gate(engine, host, _env(uuid.uuid4().hex)) for host in ("b", "a", "c")}
    assert results["b"][0] == GO
    assert results["a"][0] == SKIP and results["c"][0] == SKIP
    assert "ran on b" in results["a"][1]
    rows = _rows(engine)
    assert [(r.host, r.outcome) for r in rows] == [("a", "ran-elsewhere"), ("c", "ran-elsewhere")]
    assert "ran on b" in rows[0].meaning and rows[0].result == "exec-condition"
    # The next slot is a new claim: anyone may win it.
    later = _env(uuid.uuid4().hex, SLOT + dt.timedelta(seconds=5.2))
    assert _gate(engine, "c", later)[0] == GO
    with engine.connect() as conn:
        held = conn.execute(sa.select(claims.c.host, claims.c.slot).order_by(claims.c.slot)).all()
    assert [h for h, _ in held] == ["b", "c"]


def test_gate_retry_of_a_claimed_run_stays_on_the_claiming_host(engine: Engine) -> None:
    # A retry (NRestarts > 0) comes later, maybe in the next slot: it is not claimed again.
    first = _env(uuid.uuid4().hex)
    assert _gate(engine, "a", first)[0] == GO
    assert _gate(engine, "a", first)[0] == GO  # the same invocation asking again: its own
    assert _gate(engine, "b", _env(uuid.uuid4().hex))[0] == SKIP
    later = _env(uuid.uuid4().hex, SLOT + dt.timedelta(seconds=31))
    assert _gate(engine, "a", later, restarts=1)[0] == GO
    assert _gate(engine, "b", later)[0] == GO  # the retry claimed nothing: b wins that slot


def test_gate_winning_host_never_runs_a_slot_twice(engine: Engine) -> None:
    # A second timer start on the winner for the slot it already ran (a late start that
    # still names that slot) is skipped, and says why.
    assert _gate(engine, "a", _env(uuid.uuid4().hex))[0] == GO
    status, line = _gate(engine, "a", _env(uuid.uuid4().hex, SLOT + dt.timedelta(seconds=4)))
    assert status == SKIP and "already ran on this host" in line
    assert [(r.host, r.outcome) for r in _rows(engine)] == [("a", "skipped")]


def test_gate_start_by_hand_is_not_claimed(engine: Engine) -> None:
    assert _gate(engine, "a", _env(uuid.uuid4().hex, fired=None))[0] == GO
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(claims)).scalar() == 0


def test_gate_each_placement_always_goes_ahead(engine: Engine) -> None:
    for host in ("a", "b"):
        assert (
            _gate(engine, host, _env(uuid.uuid4().hex, timer="smartcron-each.timer"), "each")[0]
            == GO
        )


def test_gate_host_the_task_moved_away_from_skips(engine: Engine) -> None:
    status, line = _gate(engine, "z", _env(uuid.uuid4().hex))
    assert status == SKIP and "not on z" in line
    assert _rows(engine)[0].outcome == "skipped"


def test_gate_overwrites_the_watchdogs_running_row_of_the_same_invocation(engine: Engine) -> None:
    inv = uuid.uuid4().hex
    assert _gate(engine, "a", _env(uuid.uuid4().hex))[0] == GO
    with engine.begin() as conn:
        conn.execute(
            executions.insert().values(
                task_name="bank",
                invocation_id=inv,
                trigger="timer",
                outcome="running",
                recorded_at=SLOT,
            )
        )
    assert _gate(engine, "b", _env(inv))[0] == SKIP
    assert [(r.invocation_id, r.outcome, r.host) for r in _rows(engine)] == [
        (inv, "ran-elsewhere", "b")
    ]


def test_gate_unreachable_database_follows_the_tasks_choice(tmp_path: Path) -> None:
    gone = make_engine(f"sqlite:///{tmp_path}/missing-dir/none.db")
    assert _gate(gone, "a", _env("x" * 32), if_db_down="run")[0] == GO
    status, line = _gate(gone, "a", _env("x" * 32), if_db_down="skip")
    assert status == SKIP and "if_db_down: skip" in line


def test_gate_checks_are_an_ordered_list_first_verdict_wins(engine: Engine) -> None:
    cfg = config.load(environ={"SMARTCRON_HOST_NAME": "a"})
    from smartcron.db.tasks import find_task

    with engine.connect() as conn:
        task = find_task(conn, "bank")
    assert task is not None
    ctx = GateContext(cfg, engine, task, "a", "i" * 32, "t", SLOT, SLOT)
    calls: list[str] = []

    def first(_c: GateContext) -> GateVerdict | None:
        calls.append("first")
        return None

    def second(_c: GateContext) -> GateVerdict | None:
        calls.append("second")
        return GateVerdict("skipped", "in a maintenance window")

    def third(_c: GateContext) -> GateVerdict | None:
        calls.append("third")
        return None

    assert decide(ctx, [first, second, third]) == GateVerdict("skipped", "in a maintenance window")
    assert calls == ["first", "second"]


def test_gate_claim_counts_a_galera_deadlock_at_commit_as_lost() -> None:
    # Galera's certification failure reaches the client as MySQL error 1213 at COMMIT.
    deadlock = sa.exc.OperationalError(
        "COMMIT", {}, Exception(1213, "Deadlock found when trying to get lock")
    )
    assert is_deadlock(deadlock) and lost_race(deadlock)
    down = sa.exc.OperationalError("INSERT", {}, Exception(2003, "Can't connect to server"))
    assert not is_deadlock(down) and not lost_race(down)


def test_gate_undecided_claim_skips_even_when_the_task_says_run(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Deadlock after deadlock with no winner visible: the database is reachable, so this is
    # not if_db_down's case, and running could run the slot twice.
    import smartcron.ops.gate as gate

    def undecided(*_a: object, **_k: object) -> None:
        raise ClaimUndecided("the claim of task:bank at 2026-12-04T10:00:00+00:00 stayed undecided")

    monkeypatch.setattr(gate, "claim", undecided)
    status, line = _gate(engine, "a", _env(uuid.uuid4().hex), if_db_down="run")
    assert status == SKIP and "stayed undecided" in line and "never runs twice" in line
    assert [(r.host, r.outcome) for r in _rows(engine)] == [("a", "skipped")]


def test_gate_start_by_hand_after_a_timer_start_is_not_claimed(engine: Engine) -> None:
    # systemd 252 still sets TRIGGER_UNIT for a start by hand that follows a timer start:
    # Run now / `task run` (which write the manual state first) must run, not be skipped
    # as "ran on b". The request is used once: a later timer start claims its slot again.
    assert _gate(engine, "b", _env(uuid.uuid4().hex))[0] == GO  # b ran the slot
    asked = SLOT + dt.timedelta(seconds=2)
    with engine.begin() as conn:
        set_state(conn, manual_key("bank"), asked.isoformat())
    by_hand = _gate(engine, "a", _env(uuid.uuid4().hex, asked + dt.timedelta(seconds=0.3)))
    assert by_hand[0] == GO, by_hand
    status, line = _gate(engine, "a", _env(uuid.uuid4().hex, asked + dt.timedelta(seconds=1)))
    assert status == SKIP and "ran on b" in line


def test_manual_key_fits_the_state_key_column_for_the_longest_task_name() -> None:
    assert manual_key("bank") == "manual:bank"
    longest = manual_key("a" * 64)
    assert len(longest) <= KEY_LENGTH and longest.startswith("manual:")
    assert longest != manual_key("a" * 63 + "b")


def test_gate_database_without_schema_is_not_called_unreachable(tmp_path: Path) -> None:
    bare = make_engine(f"sqlite:///{tmp_path}/bare.db")  # reachable, never migrated
    status, line = _gate(bare, "a", _env("x" * 32), if_db_down="skip")
    assert status == SKIP and "no smartcron schema" in line and "db upgrade" in line
    assert "could not be reached" not in line
    gone = make_engine(f"sqlite:///{tmp_path}/missing-dir/none.db")
    assert "could not be reached" in _gate(gone, "a", _env("x" * 32), if_db_down="skip")[1]
