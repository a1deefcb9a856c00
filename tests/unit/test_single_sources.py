"""One source for every fact: each test proves that the copies that used to disagree are now
made from one place (durations, outcomes, task fields, run states, hardening, the journal,
next runs)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from smartcron.db.schema import tasks as tasks_table
from smartcron.errors import InvalidInput
from smartcron.model import config
from smartcron.model.outcome import FAILURE_OUTCOMES, OUTCOMES, SKIP_OUTCOMES, explain
from smartcron.model.quantities import parse_duration
from smartcron.model.task import FIELD_SPECS, FIELDS, Task
from smartcron.model.validate import CHECKS
from smartcron.systemd import bus
from smartcron.systemd.own_units import OwnUnits, template_names
from smartcron.watchdog import events

from support import ROOT

DURATIONS = ["4h", "90", "5m", "1.5h", "-1m", "4 h", "1d 2h", "0", "soon", "2min"]


def _duration_settings() -> list[str]:
    return [f.name for f in config.settings() if f.metadata.get("check") is config.check_duration]


def test_single_source_duration_settings_exist() -> None:
    assert "renotify_interval" in _duration_settings()


@pytest.mark.parametrize("value", DURATIONS)
@pytest.mark.parametrize("name", _duration_settings())
def test_single_source_duration_setting_is_read_as_parse_duration_reads_it(
    name: str, value: str
) -> None:
    env = {f"SMARTCRON_{name.upper()}": value}
    try:
        parse_duration(name, value, minimum=1)
        accepted, allowed = True, ""
    except InvalidInput as exc:
        accepted, allowed = False, exc.allowed
    if accepted:
        assert getattr(config.load(environ=env), name) == value
    else:
        with pytest.raises(InvalidInput) as refused:
            config.load(environ=env)
        assert refused.value.allowed == allowed  # the same words as the watchdog's


def test_single_source_every_outcome_explain_gives_is_listed() -> None:
    seen = set()
    for result in ("success", "exit-code", "signal", "core-dump", "timeout", "oom-kill",
                   "start-limit-hit", "resources", "exec-condition"):  # fmt: skip
        for code in (0, 1, 2, 3):
            for status in (0, 1, 2, 9, 11, 15, 127, 137, 203, 217):
                seen.add(explain(result, code, status, memory_max=1 << 20).outcome)
    assert seen <= set(OUTCOMES)
    assert set(FAILURE_OUTCOMES) == set(OUTCOMES) - {
        "success",
        "running",
        "not-run",
        *SKIP_OUTCOMES,
    }


def test_single_source_dashboard_filters_list_every_outcome(tmp_path: Path) -> None:
    templates = ROOT / "dashboard" / "templates"
    for page in ("task.html", "runs.html"):
        text = (templates / page).read_text()
        assert "outcome_filters" in text
        assert "'oom'" not in text and "'timeout'" not in text  # no hand-written list
    from smartcron.dashboard import create_app
    from smartcron.db.engine import make_engine
    from smartcron.db.migrate import upgrade

    url = f"sqlite:///{tmp_path}/smartcron.db"
    upgrade(make_engine(url))
    app = create_app(config.load(environ={"SMARTCRON_DATABASE_URL": url}))
    offered = [value for value, _label in app.jinja_env.globals["outcome_filters"]]
    assert offered == ["", "failures", *OUTCOMES]


def test_single_source_task_fields_make_the_columns() -> None:
    columns = {c.name for c in tasks_table.columns}
    internal = {"id", "created_at", "updated_at", "revision", "signature"}
    assert columns == {spec.column for spec in FIELD_SPECS} | internal


def test_single_source_every_task_field_is_validated() -> None:
    assert list(CHECKS) == list(FIELDS)


def test_single_source_every_task_field_is_a_cli_option() -> None:
    from click.testing import CliRunner

    from smartcron.cli import cli

    text = CliRunner().invoke(cli, ["task", "add", "--help"]).output
    flags = {spec.name: spec.flag for spec in FIELD_SPECS if spec.name != "name"}
    special = {
        "env": "--env",
        "channels": "--channel",
        "paused": "--paused",
        "catch_up": "--catch-up",
    }
    for name, flag in flags.items():
        assert (flag or special[name]) in text, name


def test_single_source_every_task_field_is_documented() -> None:
    text = (ROOT / "docs" / "tasks.md").read_text()
    first_cells = re.findall(r"^\| ((?:`\w+`(?:, )?)+) \|", text, flags=re.M)
    documented = {name for cell in first_cells for name in re.findall(r"`(\w+)`", cell)}
    assert documented == set(FIELDS)


def test_single_source_task_yaml_form_round_trips() -> None:
    from smartcron.model.validate import validate_task

    task = validate_task(
        {
            "name": "t",
            "command": ["/bin/true", "a b"],
            "schedule": "*/5 * * * *",
            "timezone": "UTC",
            "timeout": "90m",
            "memory_max": "512M",
            "cpu_quota": "50%",
            "env": {"B": "2", "A": "1"},
            "channels": ["ops"],
        },
        check_host=False,
    )
    assert isinstance(task, Task)
    assert validate_task(task.to_dict(), check_host=False) == task


def test_single_source_running_states_come_from_systemd_module() -> None:
    assert events.RUNNING is bus.RUNNING_STATES
    assert "refreshing" in bus.RUNNING_STATES


def test_single_source_own_units_share_one_hardening_block() -> None:
    templates = ROOT / "unit_templates"
    own = [n for n in template_names() if n.startswith("smartcron-") and n.endswith(".service.j2")]
    assert len(own) == 4
    for name in own:
        text = (templates / name).read_text()
        assert '{% include "_hardening.j2" %}' in text, name
        assert "NoNewPrivileges" not in text, f"{name} repeats a switch of _hardening.j2"
    units = OwnUnits.for_config(config.load(environ={}))
    rendered = {**units.services(), **units.shared_files()}
    for name, text in rendered.items():
        if name.endswith(".service") or name.endswith("@.service"):
            assert "CapabilityBoundingSet=\n" in text, name
            assert "ProtectSystem=strict" in text, name


def test_single_source_every_hardening_switch_has_a_comment() -> None:
    lines = (ROOT / "unit_templates" / "_hardening.j2").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[A-Z][A-Za-z]+=", line) and not line.startswith("ReadWritePaths"):
            before = [x for x in lines[:i] if not x.startswith("{%")]
            assert before and before[-1].startswith("#"), f"{line} has no comment above it"


def _package_trees() -> dict[Path, ast.Module]:
    paths = list((ROOT / "smartcron").rglob("*.py")) + list((ROOT / "dashboard").rglob("*.py"))
    return {p: ast.parse(p.read_text()) for p in paths}


def test_single_source_only_the_journal_module_reads_the_journal() -> None:
    offenders = []
    for path, tree in _package_trees().items():
        for node in ast.walk(tree):
            spawns = isinstance(node, ast.List) and any(
                isinstance(e, ast.Constant) and e.value in ("journalctl", "runuser")
                for e in node.elts[:1]
            )
            binding = isinstance(node, ast.ImportFrom) and node.module == "systemd"
            # sandbox.py (the test harness and scripts/sandbox) reads a private systemd's
            # journal with journalctl on purpose: it needs only the standard library.
            if (spawns or binding) and path.name not in ("journal.py", "sandbox.py"):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_single_source_next_runs_have_one_evaluator() -> None:
    offenders = []
    for path, tree in _package_trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                if any(n.split(".")[0] in ("croniter", "cronsim") for n in names):
                    offenders.append(f"{path.relative_to(ROOT)} imports a cron evaluator")
            if (
                isinstance(node, ast.Constant)
                and node.value == "systemd-analyze"
                and path.name not in ("analyze.py", "sandbox.py")
            ):
                offenders.append(f"{path.relative_to(ROOT)} runs systemd-analyze")
    assert offenders == []


def test_single_source_journal_message_ids_live_in_entries() -> None:
    from smartcron.systemd.entries import MESSAGE_IDS

    offenders = [
        str(path.relative_to(ROOT))
        for path in _package_trees()
        if path.name != "entries.py" and any(i in path.read_text() for i in MESSAGE_IDS)
    ]
    assert offenders == []


def test_single_source_version_is_the_package_attribute() -> None:
    """pyproject.toml names no version of its own: setuptools reads smartcron.__version__."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    dynamic = project["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "smartcron.__version__"}
