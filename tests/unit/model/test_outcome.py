"""Outcome sentences: one per kind of ending, with the evidence in it."""

from __future__ import annotations

import pytest

from smartcron.model.outcome import explain


def test_explain_success() -> None:
    v = explain("success", 1, 0, duration=2.34)
    assert v.outcome == "success" and v.meaning == "Succeeded after 2.3 s."


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (1, "a general error"),
        (2, "invalid usage"),
        (126, "could not be executed"),
        (127, "command not found"),
        (130, "Ctrl-C"),
        (137, "SIGKILL"),
        (143, "SIGTERM"),
        (42, "exit status 42 after 1.0 s."),
    ],
)
def test_explain_exit_codes_have_conventional_meanings(status: int, words: str) -> None:
    v = explain("exit-code", 1, status, duration=1.0)
    assert v.outcome == "failed"
    assert f"exit status {status}" in v.meaning and words in v.meaning


def test_explain_timeout_names_the_limit_and_sigkill() -> None:
    v = explain("timeout", 2, 15, timeout=300)
    assert v.outcome == "timeout" and "timeout of 5m" in v.meaning
    assert "SIGKILL" in explain("timeout", 2, 9, timeout=300).meaning


def test_explain_signal_named() -> None:
    v = explain("signal", 2, 9, duration=3.0)
    assert v.outcome == "killed" and "SIGKILL (9)" in v.meaning


def test_explain_oom_names_the_limit() -> None:
    v = explain("oom-kill", 2, 9, memory_max=64 * 1024 * 1024)
    assert v.outcome == "oom" and "memory limit of 64M" in v.meaning


def test_explain_core_dump() -> None:
    v = explain("core-dump", 3, 11)
    assert v.outcome == "core-dump" and "SIGSEGV (11)" in v.meaning


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (217, "user does not exist"),
        (200, "working directory"),
        (203, "executable could not be run"),
    ],
)
def test_explain_could_not_start_with_systemd_reason(status: int, words: str) -> None:
    v = explain("exit-code", 1, status, systemd_reason="Failed to determine user credentials")
    assert v.outcome == "could-not-start" and words in v.meaning
    assert "systemd says: Failed to determine user credentials" in v.meaning


def test_explain_retries() -> None:
    assert (
        "Attempt 1 of 3; retrying in 30s."
        in explain("exit-code", 1, 1, attempt=1, retries=2, will_retry=True).meaning
    )
    assert (
        "Attempt 3 of 3: retries exhausted."
        in explain("exit-code", 1, 1, attempt=3, retries=2).meaning
    )


def test_explain_start_limit() -> None:
    v = explain("start-limit-hit", 0, 0)
    assert v.outcome == "start-limit" and "reset-failed" in v.meaning


def test_explain_crash_signal_is_not_blamed_on_the_outside() -> None:
    v = explain("signal", 2, 11, duration=0.5)
    assert v.outcome == "killed" and "Crashed with SIGSEGV (11)" in v.meaning
    assert "outside" not in v.meaning


def test_explain_a_sigkill_with_a_memory_limit_is_not_called_out_of_memory() -> None:
    # Only systemd's Result=oom-kill (or the kernel's word, read by the watchdog) says OOM.
    verdict = explain("signal", 2, 9, memory_max=64 * 1024 * 1024)
    assert verdict.outcome == "killed" and verdict.meaning.startswith("Killed by SIGKILL (9)")


def test_explain_a_timeout_waiting_for_a_concurrency_group_slot() -> None:
    verdict = explain(
        "timeout", 0, 0, duration=4.02, timeout=4, command_started=False, group="rep", waited=3.9
    )
    assert verdict.outcome == "timeout"
    assert verdict.meaning.startswith(
        "Timed out waiting for a slot of concurrency group rep after 3.9 s (the task's timeout "
        "of 4s): its command never started."
    ), verdict.meaning
    assert "still running" not in verdict.meaning
    # No group: a start-up step (the gate) ran into the timeout.
    other = explain("timeout", 0, 0, duration=4.0, timeout=4, command_started=False)
    assert other.meaning.startswith("Timed out before its command started after 4.0 s")
