"""Slots of a concurrency group (ops/groups.py) on real flock(2) and inotify: the limit holds,
a waiter sleeps (no busy loop) until a holder closes its slot, a killed holder frees it, and
the group name and the setting are checked (model/groups.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from smartcron.errors import InvalidInput
from smartcron.model import config
from smartcron.model.groups import check_group_name, check_groups_setting, max_concurrent
from smartcron.ops.groups import Slot, acquire, group_dir, hand_over


def _acquire_later(directory: Path, limit: int) -> tuple[threading.Thread, list[Slot], list[float]]:
    got: list[Slot] = []
    cpu: list[float] = []

    def take() -> None:
        before = time.thread_time()
        got.append(acquire(directory, limit))
        cpu.append(time.thread_time() - before)

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    return thread, got, cpu


def test_groups_acquire_takes_free_slots_up_to_the_limit(tmp_path: Path) -> None:
    directory = group_dir("g", tmp_path)
    first, second = acquire(directory, 2), acquire(directory, 2)
    assert {first.number, second.number} == {0, 1}
    assert first.waited_s < 0.5 and second.waited_s < 0.5
    thread, got, _cpu = _acquire_later(directory, 2)
    thread.join(0.5)
    assert not got, "a third run took a slot of a group of two"
    os.close(first.fd)
    thread.join(5)
    assert got and got[0].number == first.number
    for slot in (second, got[0]):
        os.close(slot.fd)


def test_groups_waiter_sleeps_until_a_slot_is_closed(tmp_path: Path) -> None:
    directory = group_dir("g", tmp_path)
    held = acquire(directory, 1)
    thread, got, cpu = _acquire_later(directory, 1)
    time.sleep(1.0)
    assert not got
    os.close(held.fd)
    thread.join(5)
    assert got and got[0].waited_s >= 0.9
    assert cpu[0] < 0.1, f"the waiter used {cpu[0]:.3f} s of CPU in 1 s: a busy loop"
    os.close(got[0].fd)


def test_groups_killed_holder_frees_its_slot(tmp_path: Path) -> None:
    directory = group_dir("g", tmp_path)
    slot = acquire(directory, 1)
    holder_pid = hand_over(slot)  # our descriptor is closed: only the holder keeps the lock
    thread, got, _cpu = _acquire_later(directory, 1)
    thread.join(0.5)
    assert not got, "the slot was free while its holder lived"
    os.kill(holder_pid, 9)
    os.waitpid(holder_pid, 0)
    thread.join(5)
    assert got, "the slot of a SIGKILLed holder was never freed"
    os.close(got[0].fd)


def test_groups_slot_files_are_roots_alone(tmp_path: Path) -> None:
    directory = group_dir("g", tmp_path)
    os.close(acquire(directory, 1).fd)
    assert directory.stat().st_mode & 0o777 == 0o700
    assert (directory / "slot-0").stat().st_mode & 0o777 == 0o600


def test_groups_wait_cli_outside_systemd_says_the_wait_is_not_recorded(tmp_path: Path) -> None:
    env = {**os.environ, "SMARTCRON_CONFIG": "", "SMARTCRON_DATABASE_URL": "sqlite:///:memory:"}
    env.pop("INVOCATION_ID", None)
    code = (
        "import sys; from smartcron.ops.groups import wait_for_slot; from pathlib import Path;"
        f"print(wait_for_slot('t', 'g', 1, database_url=None, invocation_id='',"
        f" base=Path({str(tmp_path)!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert "(0, 't took slot 1 of 1 of concurrency group g after waiting" in out.stdout
    assert "not recorded: the configuration could not be read" in out.stdout


@pytest.mark.parametrize("name", ["Reports", "-x", "a b", "", "x" * 65, 3])
def test_groups_bad_group_name_is_refused_naming_the_field(name: object) -> None:
    with pytest.raises(InvalidInput) as err:
        check_group_name("concurrency_group", name)
    assert "concurrency_group" in str(err.value) and "a-z, 0-9" in str(err.value)


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ({"Bad": {"max_concurrent": 1}}, "group name 'Bad'"),
        ({"g": 2}, "group g: a table"),
        ({"g": {"max": 2}}, "unknown key 'max'"),
        ({"g": {"max_concurrent": 0}}, "max_concurrent 0 is not allowed"),
        ({"g": {"max_concurrent": True}}, "max_concurrent True is not allowed"),
    ],
)
def test_groups_setting_refuses_bad_tables(value: object, said: str) -> None:
    problem = check_groups_setting("concurrency_groups", value)
    assert problem is not None and said in problem


def test_groups_setting_from_file_and_environment(tmp_path: Path) -> None:
    file = tmp_path / "smartcron.toml"
    file.write_text("[concurrency_groups.reports]\nmax_concurrent = 3\n")
    loaded = config.load(environ={"SMARTCRON_CONFIG": str(file)})
    assert max_concurrent(loaded.concurrency_groups, "reports") == 3
    assert max_concurrent(loaded.concurrency_groups, "other") == 1
    env = {"SMARTCRON_CONFIG": "", "SMARTCRON_CONCURRENCY_GROUPS": '{"a": {"max_concurrent": 2}}'}
    assert max_concurrent(config.load(environ=env).concurrency_groups, "a") == 2
    file.write_text("[concurrency_groups.reports]\nmax_concurrent = 0\n")
    with pytest.raises(InvalidInput) as err:
        config.load(environ={"SMARTCRON_CONFIG": str(file)})
    assert "concurrency_groups" in str(err.value) and "1 to 1000" in str(err.value)
