"""Tasks running under the real private systemd: on time, limits, retries, pause, run-now, bytes."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time

from support.systemd import SystemdEnv

PRINT_ARGS = """#!/usr/bin/python3
import json, os, sys
with open(sys.argv[1], "w", encoding="utf-8", errors="surrogateescape") as out:
    json.dump({"argv": sys.argv[2:], "env": {k: v for k, v in os.environ.items() if k.startswith("SC_")}}, out)
"""


def _wait(predicate, timeout: float = 20.0, step: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def _service(sd: SystemdEnv, name: str, *props: str) -> dict[str, str]:
    return sd.systemd.show(f"smartcron-{name}.service", *props)


def test_task_runs_on_time_from_its_timer(sd: SystemdEnv) -> None:
    stamp = sd.shared / "ran-at"
    # Written aside and renamed: the test polls for the file and must never read it half-made.
    script = sd.script(
        "stamp.sh", f"#!/bin/sh\ndate +%s.%N > {stamp}.part && mv {stamp}.part {stamp}\n"
    )
    target = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=4)).replace(microsecond=0)
    name = sd.add(
        "ontime",
        "--command",
        str(script),
        "--schedule",
        f"{target:%Y-%m-%d %H:%M:%S}",
        "--timezone",
        "UTC",
    )
    assert sd.run("sync").exit_code == 0
    assert _wait(stamp.exists, timeout=15), "the timer did not fire"
    ran = dt.datetime.fromtimestamp(float(stamp.read_text()), tz=dt.UTC)
    lateness = (ran - target).total_seconds()
    assert 0 <= lateness < 3, f"ran {lateness:.2f}s after {target} (AccuracySec=1s)"
    assert _service(sd, name, "Result")["Result"] == "success"


def test_task_timeout_kills_run_with_result_timeout(sd: SystemdEnv) -> None:
    name = sd.add("slow", "--command", "/bin/sleep 60", "--schedule", "@yearly", "--timeout", "2s")
    assert sd.run("sync").exit_code == 0
    result = sd.run("task", "run", name, "--wait")
    assert result.exit_code == 1
    # The plain meaning, not systemd's raw result words.
    assert "Timed out: still running at the task's timeout of 2s" in result.stderr
    props = _service(sd, name, "Result", "ExecMainCode", "ExecMainStatus")
    assert props["Result"] == "timeout"
    assert props["ExecMainCode"] == "2" and props["ExecMainStatus"] == "15"  # killed by SIGTERM


def test_failing_task_is_retried_the_configured_number_of_times(sd: SystemdEnv) -> None:
    counter = sd.shared / "attempts"
    script = sd.script("fail.sh", f"#!/bin/sh\necho attempt >> {counter}\nexit 4\n")
    name = sd.add(
        "flaky",
        "--command",
        str(script),
        "--schedule",
        "@yearly",
        "--retries",
        "2",
        "--retry-delay",
        "1s",
    )
    assert sd.run("sync").exit_code == 0
    result = sd.run("task", "run", name, "--wait")
    assert result.exit_code == 1
    assert counter.read_text().count("attempt") == 3  # the first run plus 2 retries
    props = _service(sd, name, "NRestarts", "ActiveState", "Result")
    # systemd counts the refused fourth start as a restart too, then gives up; the result
    # stays that of the last attempt.
    assert props == {"NRestarts": "3", "ActiveState": "failed", "Result": "exit-code"}, props
    time.sleep(1.5)  # no fourth attempt after the retries are exhausted
    assert counter.read_text().count("attempt") == 3


def test_memory_max_kills_task_that_goes_over(sd: SystemdEnv) -> None:
    script = sd.script(
        "hog.py",
        "#!/usr/bin/python3\nblock = bytearray(400 * 1024 * 1024)\n"
        "for i in range(0, len(block), 4096):\n    block[i] = 1\nprint('survived')\n",
    )
    name = sd.add("hog", "--command", str(script), "--schedule", "@yearly", "--memory-max", "64M")
    assert sd.run("sync").exit_code == 0
    result = sd.run("task", "run", name, "--wait")
    assert result.exit_code == 1
    props = _service(sd, name, "Result", "ExecMainCode", "ExecMainStatus", "InvocationID")
    assert props["Result"] in {"oom-kill", "signal"}, props
    assert props["ExecMainStatus"] == "9"  # SIGKILL from the OOM killer
    output = sd.systemd.journal(f"_SYSTEMD_INVOCATION_ID={props['InvocationID']}", "-o", "cat")
    assert "survived" not in output


def test_paused_task_stops_firing(sd: SystemdEnv) -> None:
    counter = sd.shared / "ticks"
    script = sd.script("tick.sh", f"#!/bin/sh\necho tick >> {counter}\n")
    name = sd.add("ticker", "--command", str(script), "--schedule", "*:*:0/2")
    assert sd.run("sync").exit_code == 0
    assert _wait(lambda: counter.exists() and counter.read_text().count("tick") >= 1, timeout=10)
    paused = sd.run("task", "pause", name)
    assert paused.exit_code == 0, paused.stderr
    assert sd.systemd.show(f"smartcron-{name}.timer", "ActiveState")["ActiveState"] == "inactive"
    time.sleep(0.5)  # a run that had already started may finish
    ticks = counter.read_text().count("tick")
    time.sleep(5)
    assert counter.read_text().count("tick") == ticks
    resumed = sd.run("task", "resume", name)
    assert resumed.exit_code == 0, resumed.stderr
    assert _wait(lambda: counter.read_text().count("tick") > ticks, timeout=10)


def test_run_now_twice_in_quick_succession_runs_once(sd: SystemdEnv) -> None:
    log = sd.shared / "runs"
    script = sd.script("once.sh", f"#!/bin/sh\necho run >> {log}\nsleep 2\n")
    name = sd.add("once", "--command", str(script), "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    first = sd.run("task", "run", name)
    second = sd.run("task", "run", name)
    assert first.exit_code == 0 and second.exit_code == 0
    assert "already running" in second.stdout
    assert _wait(lambda: _service(sd, name, "ActiveState")["ActiveState"] == "inactive", timeout=15)
    assert log.read_text().count("run") == 1


def test_task_run_of_unsynced_task_says_to_sync(sd: SystemdEnv) -> None:
    name = sd.add("unsynced", "--command", "/bin/true", "--schedule", "@daily")
    result = sd.run("task", "run", name)
    assert result.exit_code == 1
    assert "run `smartcron sync` first" in result.stderr


def test_arguments_and_environment_reach_the_process_byte_for_byte(sd: SystemdEnv) -> None:
    out = sd.shared / "args.json"
    printer = sd.script("printargs.py", PRINT_ARGS)
    args = [
        "100%",
        "%n %i %%",
        "$HOME",
        "${PATH}",
        "$$",
        "'single'",
        '"double"',
        "back\\slash",
        "trailing\\",
        "tab\there",
        " spaced  out ",
        "ünïcødé ☕ 日本",
        "",
        "a" * 20000,
        "semi;colon",
        "-dash",
        "@at",
    ]
    env = {
        "SC_PCT": "50% %h",
        "SC_DOLLAR": "$USER ${X}",
        "SC_QUOTES": 'it\'s "quoted"',
        "SC_BACK": "C:\\path\\",
        "SC_UNI": "kia ora ā",
        "SC_EMPTY": "",
    }
    command = json.dumps([str(printer), str(out), *args])
    name = sd.name("argv")
    import yaml

    task_file = sd.shared / "task.yaml"
    task_file.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "tasks": [
                    {
                        "name": name,
                        "command": json.loads(command),
                        "schedule": "@yearly",
                        "env": env,
                    }
                ],
            }
        )
    )
    imported = sd.run("import", str(task_file))
    assert imported.exit_code == 0, imported.stderr
    assert sd.run("sync").exit_code == 0
    result = sd.run("task", "run", name, "--wait")
    assert result.exit_code == 0, result.stderr
    seen = json.loads(out.read_text(encoding="utf-8"))
    assert seen["argv"] == args
    assert seen["env"] == env


def _attempt_starts(sd: SystemdEnv, unit: str) -> list[float]:
    """Return when each attempt's command printed its line, in seconds, from the journal."""
    out = sd.systemd.journal("-u", unit, "-o", "json", "--output-fields=MESSAGE")
    return [
        int(entry["__REALTIME_TIMESTAMP"]) / 1e6
        for entry in map(json.loads, out.splitlines())
        if entry.get("MESSAGE") == "attempt"
    ]


def test_retry_backoff_waits_grow_on_systemd_252(sd: SystemdEnv) -> None:
    script = sd.script("always-fails.sh", "#!/bin/sh\necho attempt\nexit 3\n")
    name = sd.add(
        "backoff",
        "--command",
        str(script),
        "--schedule",
        "@yearly",
        "--retries",
        "3",
        "--retry-delay",
        "1s",
        "--retry-backoff",
        "2",
        "--retry-max-delay",
        "3s",
    )
    assert sd.run("sync").exit_code == 0
    result = sd.run("task", "run", name, "--wait")
    assert result.exit_code == 1
    starts = _attempt_starts(sd, f"smartcron-{name}.service")
    assert len(starts) == 4, starts  # the first run plus 3 retries
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(starts)]
    # 1s, then twice that, then capped at 3s; each gap also holds one attempt's start-up.
    for gap, wait in zip(gaps, (1, 2, 3), strict=True):
        assert wait <= gap < wait + 1.0, gaps
    props = _service(sd, name, "NRestarts", "ActiveState", "Result")
    assert props["ActiveState"] == "failed" and props["Result"] == "exit-code", props
