"""The polkit rule install.sh installs, evaluated by a JavaScript engine (node) as polkitd
would: the smartcron account may start and stop task units, and nothing else."""

from __future__ import annotations

from smartcron.systemd.own_units import polkit_rule

from support import need


def test_polkit_rule_allows_only_task_units_for_the_smartcron_user() -> None:
    """Issue 13, case 6: task units only; not smartcron-alert@*, not the maintenance job."""
    import json
    import shutil
    import subprocess

    node = shutil.which("node")
    need(node is not None, "node is needed to evaluate the polkit rule (JavaScript)")
    cases = [
        ("smartcron", "smartcron-pos-sync.service", "start", True),
        ("smartcron", "smartcron-pos-sync.timer", "stop", True),
        ("smartcron", "smartcron-pos-sync.service", "restart", True),
        ("smartcron", "smartcron-watchdog.service", "stop", False),
        ("smartcron", "smartcron-dashboard.service", "restart", False),
        ("smartcron", "ssh.service", "stop", False),
        ("smartcron", "smartcron-x.service/../ssh.service", "start", False),
        ("smartcron", "smartcron-pos-sync.service", "enable", False),
        ("www-data", "smartcron-pos-sync.service", "start", False),
        # Not task units: the fallback alert, the maintenance job, the target, odd names.
        ("smartcron", "smartcron-alert@smartcron-pos-sync.service.service", "start", False),
        ("smartcron", "smartcron-alert@.service", "start", False),
        ("smartcron", "smartcron-maintenance.service", "start", False),
        ("smartcron", "smartcron-maintenance.timer", "stop", False),
        ("smartcron", "smartcron-tasks.target", "stop", False),
        ("smartcron", "smartcron-tasks.service", "start", False),
        ("smartcron", "smartcron-sync.service", "start", False),
        ("smartcron", "smartcron-digest.timer", "stop", False),
        ("smartcron", "smartcron-Pos.service", "start", False),
        ("smartcron", "smartcron-.service", "start", False),
        ("smartcron", "smartcron-a.b.service", "start", False),
        ("smartcron", "smartcron-" + "a" * 65 + ".service", "start", False),
        ("smartcron", "smartcron-pos-sync.socket", "start", False),
        ("smartcron", None, "start", False),
    ]
    script = polkit_rule() + (
        "\nvar cases = " + json.dumps(cases) + ";\n"
        "console.log(JSON.stringify(cases.map(function (c) {\n"
        "  var action = {id: 'org.freedesktop.systemd1.manage-units',\n"
        "    lookup: function (k) { return k == 'unit' ? c[1] : c[2]; }};\n"
        "  return rules[0](action, {user: c[0]}) === 'yes';\n"
        "})));\n"
    )
    prelude = (
        "var rules = []; var polkit = {Result: {YES: 'yes', NOT_HANDLED: null},"
        " addRule: function (f) { rules.push(f); }};\n"
    )
    proc = subprocess.run(
        [str(node), "-e", prelude + script], capture_output=True, text=True, check=True
    )
    assert json.loads(proc.stdout) == [c[3] for c in cases]


def test_polkit_rule_reserves_the_names_validation_reserves() -> None:
    import re

    from smartcron.model.task import RESERVED_NAMES

    listed = re.search(r"var reserved = \[([^\]]*)\]", polkit_rule())
    assert listed is not None
    assert {n.strip().strip('"') for n in listed.group(1).split(",")} == set(RESERVED_NAMES)
