"""The shipped task files: the retail example and the sandbox's demo set."""

from __future__ import annotations

from smartcron.model import taskfile

from support import ROOT


def test_example_task_set_is_valid() -> None:
    from smartcron.model import taskfile

    path = ROOT / "examples" / "tasks.yaml"
    entries = taskfile.parse(path.read_text(), str(path))
    tasks = taskfile.validate_all(entries, str(path), check_host=False)
    names = {t.name for t in tasks}
    assert {"pos-sync", "payroll-export", "bank-import", "cleanup-exports"} <= names


def test_demo_task_set_runs_anywhere() -> None:
    path = ROOT / "examples" / "demo-tasks.yaml"
    tasks = taskfile.validate_all(taskfile.parse(path.read_text(), str(path)), str(path))
    # Checked against this host: only /bin/sh is needed. One task fails on purpose.
    assert {t.command[0] for t in tasks} == {"/bin/sh"}
    assert any("exit 75" in t.command[-1] for t in tasks)
    assert all(t.name.startswith("demo-") for t in tasks)
