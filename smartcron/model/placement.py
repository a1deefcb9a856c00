"""Where a task runs when several hosts share one database (docs/multi-host.md).

A task names its `hosts` (host names, or `*` for every host) and its `placement`: `each` (every
listed host runs every scheduled run) or `one` (exactly one of them runs each; the gate,
ops/gate.py, claims the run in the database). Host names are compared lowercased.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from smartcron.errors import InvalidInput
from smartcron.model.task import ALL_HOSTS, Task

# A host name as `hostname` prints it (RFC 1123 labels).
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
HOST_RE = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
MAX_HOST_NAME = 64
HOST_HELP = (
    f"a host name of 1-{MAX_HOST_NAME} letters, digits, '-' and '.' (as `hostname` prints it)"
)


def check_host_name(name: str, value: object) -> str:
    """Given a host name, return it lowercased, or raise InvalidInput naming `name`."""
    text = value.strip().lower() if isinstance(value, str) else ""
    if not text or len(text) > MAX_HOST_NAME or not HOST_RE.match(text):
        raise InvalidInput(name, value, HOST_HELP)
    return text


def check_hosts(name: str, value: object) -> tuple[str, ...]:
    """Given a task's hosts (a list, or a comma list as the CLI gives it), return them
    canonical: ("*",) alone for every host, else the distinct lowercased names."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise InvalidInput(name, value, "expected a list of host names, or *")
    texts = [item.strip() if isinstance(item, str) else item for item in items]
    texts = [t for t in texts if t != ""]
    if ALL_HOSTS in texts:
        if len(texts) > 1:
            raise InvalidInput(name, value, "either * (every host) alone, or a list of host names")
        return (ALL_HOSTS,)
    return tuple(dict.fromkeys(check_host_name(name, item) for item in texts))


def placed_on(task: Task, host: str) -> bool:
    """Return True when `host` is one of the task's hosts (every host for `*`)."""
    return ALL_HOSTS in task.hosts or host.lower() in task.hosts


def needs_gate(task: Task, windowed: bool = False) -> bool:
    """Return True when the task's service must ask the gate before each run
    (`ExecCondition=`): a run that only one host may make, or a task that a maintenance
    window with `skip` covers (`windowed`, model/windows.py). Not every task: the gate costs
    a process per run (docs/windows.md), and a gate that cannot start (a missing working
    directory) would turn a could-not-start failure into a quiet skip. A chained task too:
    its predecessor's declined run still starts it (ops/chain_gate.py)."""
    return task.placement == "one" or windowed or bool(task.after)


def gate_if_db_down(task: Task) -> str:
    """Return what the gate does when it cannot read the database: the task's if_db_down for
    `placement: one` (it cannot claim the run); run for the others, which never needed the
    database to run."""
    return task.if_db_down if task.placement == "one" else "run"


def unknown_hosts_note(task: Task, known: Collection[str]) -> str:
    """Given a task and the hosts the database knows (their watchdogs registered), return a
    warning naming the hosts no watchdog has registered, or "" (a host may be set up later)."""
    unknown = [h for h in task.hosts if h != ALL_HOSTS and h not in known]
    if not unknown:
        return ""
    listed = ", ".join(sorted(known)) or "none yet"
    return (
        f"warning: hosts: {', '.join(unknown)} not known (no smartcron watchdog has registered "
        f"it; known hosts: {listed}). The task runs there once smartcron runs on that host and "
        "`smartcron sync` is run there."
    )
