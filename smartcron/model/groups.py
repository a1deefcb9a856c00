"""Concurrency groups (docs/groups.md): the grammar of a group name and of the
`concurrency_groups` setting, and the limit a group has.

A task names at most one group (its `concurrency_group` field). On each host at most the
group's `max_concurrent` tasks of it run at once; the setting says it per group:

    [concurrency_groups.reports]
    max_concurrent = 2

A group the setting does not name has the default limit, 1: its tasks run one at a time. The
limit lives in the settings, not on the tasks, because it is a property of the group (tasks
that disagreed on it would have no meaning); it is read when a run starts (ops/groups.py), so
a change applies to the next start without `smartcron sync`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from smartcron.errors import InvalidInput

GROUP_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
GROUP_ALLOWED = "1-64 of a-z, 0-9, '_' and '-', starting with a letter or digit"
DEFAULT_MAX_CONCURRENT = 1
MAX_CONCURRENT_LIMIT = 1000
GROUP_KEYS = ("max_concurrent",)


def check_group_name(name: str, value: Any) -> str:
    """Given a task's concurrency_group value, return it or raise InvalidInput."""
    if not isinstance(value, str) or not GROUP_RE.match(value):
        raise InvalidInput(name, value, GROUP_ALLOWED)
    return value


def check_groups_setting(name: str, value: Any) -> str | None:
    """The concurrency_groups setting: a table of group name -> {max_concurrent = N}. Return
    None when it is valid, else what is allowed (naming the group and key at fault)."""
    if not isinstance(value, Mapping):
        return "a table of groups, e.g. [concurrency_groups.reports] max_concurrent = 2"
    for group, table in value.items():
        if not GROUP_RE.match(str(group)):
            return f"group name {group!r}: {GROUP_ALLOWED}"
        if not isinstance(table, Mapping):
            return f"group {group}: a table, e.g. [concurrency_groups.{group}] max_concurrent = 2"
        for key, limit in table.items():
            if key not in GROUP_KEYS:
                return f"group {group}: unknown key {key!r}; known keys: {', '.join(GROUP_KEYS)}"
            whole = isinstance(limit, int) and not isinstance(limit, bool)
            if not whole or not 1 <= limit <= MAX_CONCURRENT_LIMIT:
                return (
                    f"group {group}: max_concurrent {limit!r} is not allowed; expected a whole "
                    f"number from 1 to {MAX_CONCURRENT_LIMIT}"
                )
    return None


def max_concurrent(groups: Mapping[str, Mapping[str, int]], group: str) -> int:
    """Given the concurrency_groups setting and a group, return how many of its tasks may run
    at once on a host (DEFAULT_MAX_CONCURRENT when the setting does not name it)."""
    return int(groups.get(group, {}).get("max_concurrent", DEFAULT_MAX_CONCURRENT))


def describe_group(group: str, limit: int, waited: float | None) -> str:
    """Given a task's group, its limit and its latest run's wait (None: not recorded), return
    the line `smartcron task show` prints about it."""
    line = f"{group}: at most {limit} of its tasks at once on a host"
    if waited is not None:
        line += f"; the latest run waited {waited:.1f} s for a slot"
    return line
