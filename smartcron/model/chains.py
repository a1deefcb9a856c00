"""Chains: a task that runs after other tasks succeeded (the task field `after`).

One predecessor: its service's `OnSuccess=` starts the follower (systemd >= 249), so the
follower runs exactly when the predecessor succeeded, through the timer, a catch-up or
`smartcron task run` alike, and never after a failure.

Several predecessors ("run when all of them succeeded", a join): systemd has no such
dependency, and a start condition on the follower would race (two predecessors ending within
the condition's run would merge into one start job and lose the second). So the watchdog,
which records every run in order in one thread, starts the follower after it recorded the
success that completes the set: `waiting_for` is that rule as a pure function (docs/chains.md).

Everything about the graph is here: validation across tasks (unknown names, self, cycles,
hosts), the followers each service starts, and the lines `smartcron task show` prints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from smartcron.errors import InvalidInput
from smartcron.model.task import Task

MAX_PREDECESSORS = 8


def check_after(name: str, after: tuple[str, ...]) -> tuple[str, ...]:
    """Given a task's name and its `after` list, return it or raise for itself or too many."""
    if name and name in after:
        raise InvalidInput("after", name, "a task cannot run after itself; name another task")
    if len(after) > MAX_PREDECESSORS:
        raise InvalidInput(
            "after",
            ",".join(after),
            f"at most {MAX_PREDECESSORS} predecessors per task; join fewer, or chain them "
            "(A, then B --after A, then C --after B)",
        )
    return after


def check_graph(tasks: Iterable[Task]) -> None:
    """Given every task (with a new or changed one in place), raise InvalidInput naming the
    field and task for an unknown predecessor, a predecessor on other hosts, or a cycle."""
    by_name = {t.name: t for t in tasks}
    for task in by_name.values():
        for pred in task.after:
            if pred not in by_name:
                raise InvalidInput(
                    "after",
                    pred,
                    f"task {task.name!r} names no existing task; create {pred!r} first or "
                    "correct the name (`smartcron task list`)",
                )
            _same_hosts(task, by_name[pred])
    for task in by_name.values():
        cycle = _cycle_from(task.name, by_name, [])
        if cycle:
            raise InvalidInput(
                "after", task.name, f"the chain would be a cycle ({' -> '.join(cycle)}); break it"
            )


def _same_hosts(task: Task, pred: Task) -> None:
    # A follower starts on the host where its predecessor ran (OnSuccess=, or that host's
    # watchdog): a chain across hosts would start a task on a host it is not placed on.
    if set(task.hosts) != set(pred.hosts):
        raise InvalidInput(
            "after",
            pred.name,
            f"task {task.name!r} runs on hosts {','.join(task.hosts)} but {pred.name!r} on "
            f"{','.join(pred.hosts)}; a chain runs on one set of hosts, so give both the "
            "same --hosts",
        )


def _cycle_from(name: str, by_name: Mapping[str, Task], path: list[str]) -> list[str]:
    """Return a cycle through the predecessors of `name` (first to last), or []."""
    if name in path:
        return [*path[path.index(name) :], name][::-1]
    task = by_name.get(name)
    for pred in task.after if task else ():
        cycle = _cycle_from(pred, by_name, [*path, name])
        if cycle:
            return cycle
    return []


def followers(tasks: Iterable[Task]) -> dict[str, tuple[str, ...]]:
    """Given every task, return for each predecessor the names of the tasks that follow it."""
    out: dict[str, list[str]] = {}
    for task in sorted(tasks, key=lambda t: t.name):
        for pred in task.after:
            out.setdefault(pred, []).append(task.name)
    return {name: tuple(names) for name, names in out.items()}


def on_success_of(tasks: Iterable[Task]) -> dict[str, tuple[str, ...]]:
    """Given every task, return for each predecessor the followers its service's OnSuccess=
    starts: those with that one predecessor (joins are started by the watchdog)."""
    return followers(t for t in tasks if len(t.after) == 1)


def joins(tasks: Iterable[Task]) -> dict[str, tuple[str, ...]]:
    """Given every task, return for each predecessor the followers with several predecessors
    (the watchdog starts them once all succeeded)."""
    return followers(t for t in tasks if len(t.after) > 1)


def chain_of(name: str, tasks: Sequence[Task]) -> list[str]:
    """Given a task name and every task, return the chain through it, first task first: up
    through single predecessors and down through single followers, so that it stays a true
    line with branches (it stops where a join or a fan-out begins; path_through names them)."""
    by_name = {t.name: t for t in tasks}
    after = followers(tasks)
    chain = [name]
    while (up := by_name.get(chain[0])) and len(up.after) == 1 and up.after[0] not in chain:
        chain.insert(0, up.after[0])
    while (
        len(nexts := after.get(chain[-1], ())) == 1
        and nexts[0] not in chain
        and len(by_name[nexts[0]].after) == 1
    ):
        chain.append(nexts[0])
    return chain


def path_through(name: str, tasks: Sequence[Task]) -> str:
    """Given a task name and every task, return the chain through it as one line that stays
    true with branches: chain_of, where a join shows all its predecessors "(p1 + p2) -> j" and
    a fan-out all its followers "a -> (b, c)"."""
    by_name = {t.name: t for t in tasks}
    chain = chain_of(name, tasks)
    line = " -> ".join(chain)
    head = by_name.get(chain[0])
    if head is not None and len(head.after) > 1:
        line = f"({' + '.join(head.after)}) -> {line}"
    nexts = followers(tasks).get(chain[-1], ())
    if len(nexts) > 1:
        return f"{line} -> ({', '.join(nexts)})"
    if nexts and len(by_name[nexts[0]].after) > 1:
        others = " and ".join(p for p in by_name[nexts[0]].after if p != chain[-1])
        return f"{line} -> {nexts[0]} (also after {others})"
    return line


def describe(name: str, tasks: Sequence[Task]) -> list[str]:
    """Given a task name and every task, return the lines that describe its place in chains
    ([] when it is in none): its predecessors, its followers, and the chain through it."""
    by_name = {t.name: t for t in tasks}
    task = by_name.get(name)
    after = followers(tasks).get(name, ())
    if task is None or (not task.after and not after):
        return []
    lines = []
    if len(task.after) == 1:
        lines.append(f"runs after: {task.after[0]} (when it succeeds)")
    elif task.after:
        lines.append(
            f"runs after: {', '.join(task.after)} (when all have succeeded since its last run)"
        )
    single = [f for f in after if len(by_name[f].after) == 1]
    if single:
        lines.append(f"then starts: {', '.join(single)} (when this run succeeds)")
    for join in (f for f in after if len(by_name[f].after) > 1):
        preds = by_name[join].after
        lines.append(
            f"then starts: {join} (a join: when {', '.join(preds[:-1])} and {preds[-1]} "
            f"have all succeeded since {join}'s last run)"
        )
    lines.append("chain: " + path_through(name, tasks))
    return lines


def waiting_for(
    after: Sequence[str],
    last_success: Mapping[str, dt.datetime | None],
    own_last_start: dt.datetime | None,
) -> list[str]:
    """Given the predecessors, the time each last succeeded, and when the follower last
    started, return the predecessors that have not succeeded since ([] means: run now)."""
    waiting = []
    for pred in after:
        succeeded = last_success.get(pred)
        if succeeded is None or (own_last_start is not None and succeeded <= own_last_start):
            waiting.append(pred)
    return waiting


def in_order(tasks: Sequence[Task]) -> list[Task]:
    """Given tasks, return them with every predecessor before its followers (an import stores
    them in this order; removals go in reverse)."""
    names = {t.name for t in tasks}
    done: set[str] = set()
    out: list[Task] = []
    pending = list(tasks)
    while pending:
        ready = [t for t in pending if all(p in done or p not in names for p in t.after)]
        if not ready:  # a cycle: left as it is, check_graph refuses it with the reason
            ready = pending[:1]
        for task in ready:
            out.append(task)
            done.add(task.name)
            pending.remove(task)
    return out
