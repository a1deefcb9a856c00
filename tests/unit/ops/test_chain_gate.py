"""The gate's chain check decided from the units' timestamps (ops/chain_gate.py)."""

from __future__ import annotations

from smartcron.ops.chain_gate import declined_predecessor

S = 1_000_000  # µs


def test_chain_gate_follower_of_a_declined_run_is_found() -> None:
    # a's last activation began at 100 s, its main process never started (0 or an older
    # run's time), it ended at 101 s, and b started 5 ms later: a's OnSuccess= started b.
    for main in (0, 50 * S):
        times = {"a": (100 * S, 101 * S, main), "b": (101 * S + 5000, 0, 0)}
        assert declined_predecessor("b", ["a"], times) == "a"


def test_chain_gate_follower_of_a_run_that_ran_goes_ahead() -> None:
    times = {"a": (100 * S, 160 * S, 100 * S + 300), "b": (160 * S + 5000, 0, 0)}
    assert declined_predecessor("b", ["a"], times) is None


def test_chain_gate_follower_started_later_than_the_declined_run_goes_ahead() -> None:
    # b started by hand (or its own timer) an hour after a's declined run ended.
    times = {"a": (100 * S, 101 * S, 0), "b": (3700 * S, 0, 0)}
    assert declined_predecessor("b", ["a"], times) is None


def test_chain_gate_without_unit_facts_goes_ahead() -> None:
    assert declined_predecessor("b", ["a"], {}) is None
    assert declined_predecessor("b", ["a"], {"b": (5 * S, 0, 0), "a": (0, 0, 0)}) is None


def test_chain_gate_ungated_predecessor_that_ran_goes_ahead() -> None:
    # Without ExecCondition= systemd stamps the main start a few µs before the activation.
    times = {"a": (100 * S, 101 * S, 100 * S - 30), "b": (101 * S + 5000, 0, 0)}
    assert declined_predecessor("b", ["a"], times) is None
