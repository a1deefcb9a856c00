"""Task placement: hosts and placement fields, their validation and defaults."""

from __future__ import annotations

import pytest

from smartcron.errors import InvalidInput
from smartcron.model import config
from smartcron.model.placement import check_hosts, needs_gate, placed_on, unknown_hosts_note
from smartcron.model.validate import validate_task

BASE = {"name": "bank", "command": ["/bin/true"], "schedule": "@daily", "timezone": "UTC"}


def test_placement_new_task_defaults_to_the_creating_host() -> None:
    task = validate_task(BASE, check_host=False, host_name="till-1")
    assert task.hosts == ("till-1",) and task.placement == "each"
    assert placed_on(task, "till-1") and not placed_on(task, "till-2")


def test_placement_hosts_list_and_star_are_canonical() -> None:
    assert check_hosts("hosts", "A, b,a") == ("a", "b")
    assert check_hosts("hosts", ["*"]) == ("*",)
    task = validate_task({**BASE, "hosts": "*", "placement": "one"}, check_host=False)
    assert placed_on(task, "anything") and needs_gate(task)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("hosts", "*,a", "either * (every host) alone"),
        ("hosts", "bad_name", "a host name of 1-64"),
        ("placement", "two", "choose from each, one"),
        ("if_db_down", "maybe", "choose from run, skip"),
    ],
)
def test_placement_bad_values_name_field_and_allowed(field: str, value: str, words: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_task({**BASE, field: value}, check_host=False)
    assert refused.value.field == field and words in str(refused.value)


def test_placement_unknown_host_is_a_warning_naming_the_known_ones() -> None:
    task = validate_task({**BASE, "hosts": "a,zz"}, check_host=False)
    note = unknown_hosts_note(task, ["a", "b"])
    assert "zz" in note and "known hosts: a, b" in note
    assert unknown_hosts_note(task, ["a", "zz"]) == ""


def test_placement_host_name_setting_is_checked_and_lowercased() -> None:
    assert config.load(environ={"SMARTCRON_HOST_NAME": "Till-1"}).host_name == "till-1"
    with pytest.raises(InvalidInput) as refused:
        config.load(environ={"SMARTCRON_HOST_NAME": "no spaces"})
    assert "SMARTCRON_HOST_NAME" in str(refused.value)
