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


def test_parse_reads_numbers_and_booleans_only_in_their_plain_forms() -> None:
    text = (
        "version: 1\ntasks:\n- name: a\n  retries: 3\n  nice: -5\n  paused: true\n"
        "  env: {MODE: 0777, AT: 12:30, ON: yes, HEX: 0x1F, BIG: 1_000, EXP: 1e3, N: ~, Q: '7'}\n"
    )
    entry = taskfile.parse(text, "f")[0]
    assert entry["retries"] == 3 and entry["nice"] == -5 and entry["paused"] is True
    assert entry["env"] == {
        "MODE": "0777", "AT": "12:30", "ON": "yes", "HEX": "0x1F", "BIG": "1_000",
        "EXP": "1e3", "N": None, "Q": "7",
    }  # fmt: skip


def test_parse_refuses_a_duplicate_key_naming_it_and_its_line() -> None:
    import pytest

    from smartcron.errors import InvalidInput

    with pytest.raises(InvalidInput, match=r"^f: line 4: key 'name': .* appears twice"):
        taskfile.parse("version: 1\ntasks:\n- name: a\n  name: b\n", "f")
    with pytest.raises(InvalidInput, match=r"line 2: key 'version'"):
        taskfile.parse("version: 1\nversion: 1\ntasks: []\n", "f")


def test_parse_keeps_yaml_merge_keys() -> None:
    text = "- &base {name: a, schedule: '@daily'}\n- <<: *base\n  name: b\n"
    assert taskfile.parse(text, "f")[1] == {"name": "b", "schedule": "@daily"}


def test_dump_quotes_what_parse_would_read_otherwise() -> None:
    from smartcron.model.validate import validate_task

    task = validate_task(
        {"name": "a", "command": ["/bin/chmod", "0777", "x"], "schedule": "@daily",
         "timezone": "UTC", "env": {"MODE": "0777", "PORT": "8080", "ON": "yes", "AT": "12:30"}},
        check_host=False,
    )  # fmt: skip
    back = taskfile.validate_all(taskfile.parse(taskfile.dump([task]), "f"), "f", check_host=False)
    assert back == [task]


def _alias_bomb(levels: int) -> str:
    """A task whose memory_max is a "billion laughs": each level lists the one before 9 times."""
    chain = ['&l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    chain += [f"&l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]" for n in range(1, levels)]
    return f"- name: t\n  command: [/bin/true]\n  memory_max: [{', '.join(chain)}]\n"


def test_parse_refuses_an_alias_bomb_before_building_it() -> None:
    import time

    import pytest

    from smartcron.errors import InvalidInput

    started = time.monotonic()
    with pytest.raises(InvalidInput, match=r"^f: aliases: .* at most 1000000 values"):
        taskfile.validate_all(taskfile.parse(_alias_bomb(7), "f"), "f")  # 9**7 values
    assert time.monotonic() - started < 1
    taskfile.parse(_alias_bomb(3), "f")  # 9**3 values: aliases as such are fine


def test_invalid_input_shows_a_huge_value_without_a_full_repr() -> None:
    from smartcron.errors import InvalidInput

    shown = []

    class Leaf:
        def __repr__(self) -> str:
            shown.append(self)
            return "leaf"

    value: list[object] = [Leaf()] * 10
    for _ in range(4):
        value = [value] * 10  # 100000 leaves, as an alias bomb builds them: shared lists
    message = str(InvalidInput("memory_max", value, "a size"))
    assert message.startswith("memory_max: '[[[[...], [...]") and len(message) < 200
    assert len(shown) < 100


def test_describe_change_says_stdin_changed_without_its_text() -> None:
    from smartcron.model.task import hide_secrets
    from smartcron.model.validate import validate_task

    base = {"name": "a", "command": ["/bin/true"], "schedule": "@daily"}
    old = validate_task({**base, "stdin": "password=old-secret\n"})
    new = validate_task({**base, "stdin": "password=new-secret\n"})
    assert taskfile.describe_change(old, new) == "stdin: changed"
    assert hide_secrets(new.to_dict())["stdin"] == "(hidden)"
    assert hide_secrets(validate_task(base).to_dict())["stdin"] is None


def test_parse_refuses_deep_nesting_in_one_line() -> None:
    import pytest

    from smartcron.errors import InvalidInput

    with pytest.raises(InvalidInput, match=r"^f: '\(file\)' is not valid: nested too deeply"):
        taskfile.parse("- name: " + "[" * 5000 + "]" * 5000 + "\n", "f")
