"""RunTracker on the signal sequence systemd 252 really sends (recorded from the sandbox)."""

from __future__ import annotations

from smartcron.watchdog.events import RunTracker

INV1 = list(bytes.fromhex("1f37da91a944436b8946dc793484477f"))
INV2 = list(bytes.fromhex("e3382dd8371a4723baadc89ad5853325"))
U = "smartcron-x.service"


def _feed(tracker: RunTracker, steps: list[tuple[str, dict[str, object]]]) -> list[object]:
    events = []
    for iface, values in steps:
        fn = tracker.unit_changed if iface == "Unit" else tracker.service_changed
        events.extend(fn(U, values))
    return events + tracker.flush()


def test_tracker_failed_run_with_one_retry() -> None:
    steps = [
        ("Unit", {"ActiveState": "activating", "SubState": "start", "InvocationID": INV1}),
        ("Service", {"NRestarts": 0, "ExecMainStartTimestamp": 1_795_782_668_078_020}),
        ("Unit", {"ActiveState": "failed", "SubState": "failed", "InvocationID": INV1}),
        (
            "Service",
            {
                "Result": "exit-code",
                "ExecMainExitTimestamp": 1_795_782_668_080_227,
                "ExecMainCode": 1,
                "ExecMainStatus": 3,
            },
        ),
        ("Unit", {"ActiveState": "activating", "SubState": "auto-restart", "InvocationID": INV1}),
        ("Service", {"NRestarts": 1}),
        ("Unit", {"ActiveState": "inactive", "SubState": "dead", "InvocationID": INV2}),
        (
            "Service",
            {
                "Result": "success",
                "ExecMainStartTimestamp": 1_795_782_668_494_102,
                "ExecMainExitTimestamp": 0,
                "ExecMainCode": 0,
                "ExecMainStatus": 0,
            },
        ),
        ("Unit", {"ActiveState": "activating", "SubState": "start", "InvocationID": INV2}),
        (
            "Service",
            {
                "Result": "exit-code",
                "ExecMainExitTimestamp": 1_795_782_668_496_610,
                "ExecMainCode": 1,
                "ExecMainStatus": 3,
            },
        ),
        ("Unit", {"ActiveState": "failed", "SubState": "failed", "InvocationID": INV2}),
        ("Service", {"NRestarts": 1}),
    ]
    events = _feed(RunTracker(), steps)
    summary = [(e.kind, e.invocation_id[:4], e.attempt, e.result, e.exec_status) for e in events]  # type: ignore[attr-defined]
    assert summary == [
        ("started", "1f37", 1, None, None),
        ("finished", "1f37", 1, "exit-code", 3),
        ("started", "e338", 2, None, None),
        ("finished", "e338", 2, "exit-code", 3),
    ]
    assert events[1].finished_at.isoformat() == "2026-11-27T12:31:08.080227+00:00"  # type: ignore[attr-defined]


def test_tracker_ignores_other_units_and_duplicate_signals() -> None:
    tracker = RunTracker()
    assert tracker.unit_changed("dbus.service", {"ActiveState": "active"}) == []
    steps = [
        ("Unit", {"ActiveState": "activating", "SubState": "start", "InvocationID": INV1}),
        ("Service", {"NRestarts": 0}),
        ("Unit", {"ActiveState": "inactive", "SubState": "dead", "InvocationID": INV1}),
        ("Service", {"Result": "success", "ExecMainCode": 1, "ExecMainStatus": 0}),
        ("Unit", {"ActiveState": "inactive", "SubState": "dead", "InvocationID": INV1}),
        ("Service", {"Result": "success"}),
    ]
    kinds = [e.kind for e in _feed(tracker, steps)]  # type: ignore[attr-defined]
    assert kinds == ["started", "finished"]


def test_tracker_records_a_run_that_started_before_it_subscribed() -> None:
    tracker = RunTracker()
    steps = [
        ("Unit", {"ActiveState": "active", "SubState": "running"}),  # no InvocationID yet seen
        ("Unit", {"ActiveState": "inactive", "SubState": "dead", "InvocationID": INV1}),
        ("Service", {"Result": "success", "ExecMainCode": 1, "ExecMainStatus": 0}),
    ]
    events = _feed(tracker, steps)
    assert [e.kind for e in events] == ["finished"]  # type: ignore[attr-defined]


def test_tracker_reports_a_refused_start_once() -> None:
    # Recorded from the sandbox: a start refused by the start limit leaves the unit failed with
    # the same InvocationID; only StateChangeTimestamp moves.
    failed = {"ActiveState": "failed", "SubState": "failed", "InvocationID": INV1}
    steps = [
        ("Unit", {**failed, "StateChangeTimestamp": 1_795_789_247_646_682}),
        ("Service", {"Result": "exit-code", "NRestarts": 2}),
        ("Unit", {**failed, "StateChangeTimestamp": 1_795_789_247_778_371}),
        ("Unit", {**failed, "StateChangeTimestamp": 1_795_789_247_778_371}),
    ]
    events = _feed(RunTracker(), steps)
    refused = [e for e in events if getattr(e, "result", None) == "start-limit-hit"]
    assert len(refused) == 1
    assert refused[0].kind == "finished" and refused[0].task == "x"
    assert refused[0].invocation_id not in (bytes(INV1).hex(), "")


def test_tracker_keeps_the_attempt_seen_at_start() -> None:
    # A successful retry resets NRestarts (ExecStartPost reset-failed) before systemd reports
    # the end of the run: the attempt is still the third.
    steps = [
        ("Unit", {"ActiveState": "activating", "SubState": "start", "InvocationID": INV2}),
        ("Service", {"NRestarts": 2, "ExecMainStartTimestamp": 1_795_782_668_494_102}),
        ("Unit", {"ActiveState": "inactive", "SubState": "dead", "InvocationID": INV2}),
        ("Service", {"NRestarts": 0, "Result": "success", "ExecMainCode": 1}),
    ]
    events = _feed(RunTracker(), steps)
    assert [(getattr(e, "kind", ""), getattr(e, "attempt", 0)) for e in events] == [
        ("started", 3),
        ("finished", 3),
    ]


def test_resource_figures_come_from_systemds_consumed_message() -> None:
    from smartcron.systemd.journal import parse_resources

    # The fields of "Consumed 1.234s CPU time." (SD_MESSAGE_UNIT_RESOURCES); systemd writes
    # what it could not measure as UINT64_MAX.
    entry = {
        "MESSAGE": "smartcron-x.service: Consumed 1.234s CPU time.",
        "CPU_USAGE_NSEC": "1234000000",
        "IO_METRIC_READ_BYTES": "18446744073709551615",
        "IO_METRIC_WRITE_BYTES": "4096",
        "MEMORY_PEAK": "52428800",
    }
    assert parse_resources(entry) == {
        "cpu_usage_nsec": 1_234_000_000,
        "io_write_bytes": 4096,
        "memory_peak": 52_428_800,
    }
    assert parse_resources({"MESSAGE": "nothing measured"}) == {}


def test_tracker_never_takes_smartcrons_own_services_for_tasks() -> None:
    from smartcron.watchdog.events import task_of_unit

    for own in ("watchdog", "dashboard", "maintenance", "alert"):
        assert task_of_unit(f"smartcron-{own}.service") is None
    assert task_of_unit("smartcron-alert@smartcron-x.service.service") is None
    assert task_of_unit("smartcron-pos-sync.service") == "pos-sync"


def test_tracker_reads_the_trigger_from_activation_details() -> None:
    from smartcron.watchdog.events import trigger_unit

    assert (
        trigger_unit(
            [(b"trigger_unit", b"smartcron-x.timer"), (b"trigger_timer_realtime_usec", b"1")]
        )
        == "smartcron-x.timer"
    )
    assert trigger_unit([]) == ""


def test_tracker_marks_a_run_its_exec_condition_ended() -> None:
    # The sequence measured on systemd 252 for a unit whose ExecCondition= exited 1.
    steps = [
        (
            "Unit",
            {
                "ActiveState": "inactive",
                "SubState": "dead",
                "InvocationID": INV1,
                "ConditionResult": True,
            },
        ),
        ("Service", {"Result": "success", "NRestarts": 0, "ExecMainStartTimestamp": 0}),
        (
            "Unit",
            {
                "ActiveState": "activating",
                "SubState": "condition",
                "InvocationID": INV1,
                "ConditionResult": True,
            },
        ),
        ("Service", {"Result": "exec-condition", "ExecMainStartTimestamp": 0}),
        (
            "Unit",
            {
                "ActiveState": "inactive",
                "SubState": "dead",
                "InvocationID": INV1,
                "ConditionResult": False,
            },
        ),
    ]
    events = _feed(RunTracker(), steps)
    finished = [e for e in events if getattr(e, "kind", "") == "finished"]
    assert len(finished) == 1 and finished[0].condition_said_no  # type: ignore[attr-defined]


def test_tracker_a_run_whose_condition_said_yes_is_a_normal_run() -> None:
    steps = [
        ("Unit", {"ActiveState": "activating", "SubState": "condition", "InvocationID": INV1}),
        ("Service", {"Result": "success", "ExecMainStartTimestamp": 0}),
        ("Unit", {"ActiveState": "activating", "SubState": "start", "InvocationID": INV1}),
        ("Service", {"ExecMainStartTimestamp": 1_795_782_668_078_020, "ExecMainCode": 1}),
        ("Unit", {"ActiveState": "inactive", "SubState": "dead", "InvocationID": INV1}),
        (
            "Service",
            {
                "Result": "success",
                "ExecMainExitTimestamp": 1_795_782_668_080_227,
                "ExecMainStatus": 0,
            },
        ),
    ]
    finished = [e for e in _feed(RunTracker(), steps) if getattr(e, "kind", "") == "finished"]
    assert len(finished) == 1 and not finished[0].condition_said_no  # type: ignore[attr-defined]
    assert finished[0].result == "success"  # type: ignore[attr-defined]


def test_tracker_completes_a_finish_at_once_when_its_service_values_came_first() -> None:
    # The order systemd 252 sends (dbus-unit.c send_changed_signal): the Service interface's
    # values of a change, then the Unit's. The finish needs no later signal nor the flush.
    tracker = RunTracker()
    tracker.service_changed(U, {"NRestarts": 0, "ExecMainStartTimestamp": 1_795_782_668_078_020})
    tracker.unit_changed(
        U, {"ActiveState": "activating", "SubState": "start", "InvocationID": INV1}
    )
    exit_values = {
        "Result": "exit-code",
        "ExecMainExitTimestamp": 1_795_782_668_080_227,
        "ExecMainCode": 1,
        "ExecMainStatus": 3,
    }
    started = tracker.service_changed(U, exit_values)
    finished = tracker.unit_changed(U, {"ActiveState": "failed", "SubState": "failed"})
    assert [(e.kind, e.result, e.exec_status) for e in started + finished] == [
        ("started", None, None),
        ("finished", "exit-code", 3),
    ]
    assert tracker.flush() == []


def test_tracker_waits_for_service_values_that_name_the_runs_exit() -> None:
    # Service values older than the run (the previous run's exit, before this start) do not
    # complete a finish: it waits for the next signal (or the flush).
    tracker = RunTracker()
    tracker.service_changed(
        U,
        {
            "Result": "success",
            "ExecMainStartTimestamp": 1_795_782_668_494_102,
            "ExecMainExitTimestamp": 1_795_782_668_000_000,
        },
    )
    tracker.unit_changed(
        U, {"ActiveState": "activating", "SubState": "start", "InvocationID": INV2}
    )
    tracker.service_changed(U, {"NRestarts": 0})
    assert tracker.unit_changed(U, {"ActiveState": "inactive", "SubState": "dead"}) == []
    [event] = tracker.service_changed(
        U, {"ExecMainExitTimestamp": 1_795_782_668_496_610, "Result": "success"}
    )
    assert event.kind == "finished" and event.finished_at is not None
    assert event.finished_at.isoformat() == "2026-11-27T12:31:08.496610+00:00"


def test_tracker_dates_a_run_that_timed_out_before_its_command_started() -> None:
    # systemd 252 for a run killed at its timeout while ExecStartPre= (`smartcron group-wait`)
    # still waited for a slot: no ExecMainStartTimestamp, nor any exit of the command.
    began, ended = 1_795_782_668_000_000, 1_795_782_672_000_000
    steps = [
        (
            "Unit",
            {
                "ActiveState": "activating",
                "SubState": "start-pre",
                "InvocationID": INV1,
                "InactiveExitTimestamp": began,
                "StateChangeTimestamp": began,
            },
        ),
        ("Service", {"NRestarts": 0, "ExecMainStartTimestamp": 0}),
        (
            "Unit",
            {
                "ActiveState": "deactivating",
                "SubState": "stop-sigterm",
                "StateChangeTimestamp": ended - 5,
            },
        ),
        ("Service", {"Result": "timeout", "ExecMainCode": 0, "ExecMainStatus": 0}),
        ("Unit", {"ActiveState": "failed", "SubState": "failed", "StateChangeTimestamp": ended}),
    ]
    events = _feed(RunTracker(), steps)
    started, finished = events
    assert started.started_at is not None  # type: ignore[attr-defined]
    assert finished.kind == "finished" and finished.result == "timeout"  # type: ignore[attr-defined]
    assert not finished.command_started  # type: ignore[attr-defined]
    assert int(finished.started_at.timestamp() * 1e6) == began  # type: ignore[attr-defined]
    assert int(finished.finished_at.timestamp() * 1e6) == ended  # type: ignore[attr-defined]
