"""Task files: YAML export and an all-or-nothing import plan.

Import validates every task before touching the database, reports every problem it finds (not
only the first), and computes a plan that is applied in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from smartcron.errors import InvalidInput
from smartcron.model.config import DEFAULT_TASK_USER
from smartcron.model.task import ALL_HOSTS, Task, env_changes
from smartcron.model.validate import validate_task

FORMAT_VERSION = 1


class ImportErrors(InvalidInput):
    """Several invalid entries in one file; each message is one line."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            source,
            f"{len(problems)} problem(s)",
            "nothing was imported; fix these:\n  " + "\n  ".join(problems),
        )


def dump(tasks: Iterable[Task]) -> str:
    """Given tasks, return the YAML text of a task file."""
    import yaml

    body = {"version": FORMAT_VERSION, "tasks": [t.to_dict() for t in tasks]}
    header = (
        "# smartcron task file. Apply with `smartcron import FILE` "
        "(add --dry-run to preview, --prune to delete tasks not listed).\n"
    )
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)


# What a plain (unquoted) YAML scalar may be read as, besides text. YAML 1.1, which PyYAML
# follows, also reads 0777 as the octal 511, 12:30 as the base-60 750 and yes/no/on/off as
# booleans, silently. Here only these forms are numbers or booleans; everything else stays the
# text that was written, and validation refuses text where a number is needed (and a number
# where text is needed), naming the field.
_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")
_BOOL = {"true": True, "false": False}
_NULL = {"", "~", "null"}


# What aliases (*name) may add to a task file, in values: a merge key (<<: *base) per task
# adds a few dozen, while an alias bomb ("billion laughs") adds billions.
MAX_ALIAS_EXPANSION = 1_000_000


def _check_expansion(root: Any) -> None:
    """Given a composed YAML document, raise InvalidInput when its aliases would expand it by
    more than MAX_ALIAS_EXPANSION values. Each node is visited once (sizes are memoized), so an
    alias bomb is refused in the time of reading it, before anything is built from it."""
    sizes: dict[int, int] = {}
    entered: set[int] = set()  # a node met again before its size is known is a cycle: 0
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            sizes[id(node)] = 1 + sum(sizes.get(id(c), 0) for c in _children(node))
        elif id(node) not in entered:
            entered.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in _children(node))
    added = sizes[id(root)] - len(sizes)
    if added > MAX_ALIAS_EXPANSION:
        raise InvalidInput(
            "aliases",
            f"{added} values added",
            f"aliases (*name) may add at most {MAX_ALIAS_EXPANSION} values to a task file; "
            "write the values out",
        )


def _children(node: Any) -> list[Any]:
    if isinstance(node.value, list):  # a sequence's items, a mapping's (key, value) pairs
        return [c for item in node.value for c in (item if isinstance(item, tuple) else [item])]
    return []


def _loader() -> Any:
    """A PyYAML SafeLoader with the plain-scalar rules above that refuses duplicate keys."""
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_document(self, node: Any) -> Any:
            _check_expansion(node)
            return super().construct_document(node)

    def scalar(loader: Loader, node: Any) -> Any:
        value = loader.construct_scalar(node)
        if node.style:  # quoted, or a block scalar: always text
            return value
        lowered = value.lower()
        if lowered in _NULL:
            return None
        if lowered in _BOOL:
            return _BOOL[lowered]
        if _INT.match(value):
            return int(value) if len(value) <= 30 else value
        if _FLOAT.match(value):
            return float(value)
        return value

    def mapping(loader: Loader, node: Any) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # keys merged in (<<: *anchor) may be overridden, as YAML says
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool | None):
                raise InvalidInput(
                    f"line {key_node.start_mark.line + 1}: key", key, "a key must be text"
                )
            if key in seen:
                raise InvalidInput(
                    f"line {key_node.start_mark.line + 1}: key {key!r}",
                    key,
                    "this key appears twice in the same mapping; keep one",
                )
            seen.add(key)
        loader.flatten_mapping(node)
        return {
            loader.construct_object(k, deep=True): loader.construct_object(v, deep=True)
            for k, v in node.value
        }

    # Resolve every plain scalar as a string first, so that the tag is decided here; only the
    # merge key (<<) keeps its resolver.
    Loader.yaml_implicit_resolvers = {}
    Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])
    Loader.add_constructor("tag:yaml.org,2002:str", scalar)
    Loader.add_constructor("tag:yaml.org,2002:map", mapping)
    return Loader


def parse(text: str, source: str) -> list[dict[str, Any]]:
    """Given YAML text, return the list of raw task mappings, or raise InvalidInput.

    Duplicate keys are refused, and only plain decimal numbers and true/false are read as
    numbers and booleans (see `_loader`).
    """
    import yaml

    try:
        data = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except InvalidInput as exc:
        raise InvalidInput(f"{source}: {exc.field}", exc.value, exc.allowed) from None
    except RecursionError:  # PyYAML composes nested values recursively
        raise InvalidInput(
            source, "(file)", "nested too deeply: a task file needs a few levels, not hundreds"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInput(source, "(file)", f"malformed YAML{where}: {problem}") from None
    if isinstance(data, list):
        entries = data
    elif isinstance(data, dict) and isinstance(data.get("tasks"), list):
        version = data.get("version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise InvalidInput(
                f"{source}: version", version, f"this smartcron reads version {FORMAT_VERSION}"
            )
        extra = sorted(set(data) - {"version", "tasks"})
        if extra:
            raise InvalidInput(
                f"{source}: key {extra[0]!r}",
                extra[0],
                "a task file has only 'version' and 'tasks'",
            )
        entries = data["tasks"]
    else:
        raise InvalidInput(
            source,
            "(file)",
            "expected a mapping with a 'tasks' list (as `smartcron export` writes)",
        )
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise InvalidInput(
                f"{source}: task #{index}", entry, "each task is a mapping of field: value"
            )
    return entries


def validate_all(
    entries: Sequence[dict[str, Any]],
    source: str,
    *,
    check_host: bool = True,
    default_user: str = DEFAULT_TASK_USER,
    known_channels: Collection[str] | None = None,
    host_name: str = ALL_HOSTS,
) -> list[Task]:
    """Given raw entries, return valid Tasks or raise ImportErrors listing every problem."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    out: list[Task] = []
    for index, entry in enumerate(entries, start=1):
        label = f"task #{index}" + (
            f" ({entry['name']})" if isinstance(entry.get("name"), str) else ""
        )
        try:
            task = validate_task(
                entry,
                check_host=check_host,
                default_user=default_user,
                known_channels=known_channels,
                host_name=host_name,
            )
        except InvalidInput as exc:
            problems.append(f"{label}: {exc}")
            continue
        if task.name in seen:
            problems.append(
                f"{label}: name: {task.name!r} is not valid: the name is already used "
                f"by task #{seen[task.name]}; names must be unique"
            )
            continue
        seen[task.name] = index
        out.append(task)
    if problems:
        raise ImportErrors(source, problems)
    return out


@dataclass
class Plan:
    """What an import would do. `changed` holds (old, new) pairs."""

    added: list[Task] = field(default_factory=list)
    changed: list[tuple[Task, Task]] = field(default_factory=list)
    removed: list[Task] = field(default_factory=list)
    unchanged: list[Task] = field(default_factory=list)

    def is_noop(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def summary(self) -> str:
        return (
            f"{len(self.added)} to add, {len(self.changed)} to change, "
            f"{len(self.removed)} to remove, {len(self.unchanged)} unchanged"
        )


def plan(current: Sequence[Task], wanted: Sequence[Task], *, prune: bool) -> Plan:
    """Given the stored tasks and the file's tasks, return the import plan."""
    existing = {t.name: t for t in current}
    result = Plan()
    for task in wanted:
        old = existing.get(task.name)
        if old is None:
            result.added.append(task)
        elif old == task:
            result.unchanged.append(old)
        else:
            result.changed.append((old, task))
    names = {t.name for t in wanted}
    if prune:
        result.removed = [t for t in current if t.name not in names]
    return result


def describe_change(old: Task, new: Task) -> str:
    """Given two versions of a task, return "field: old -> new" for each difference."""
    a, b = old.to_dict(), new.to_dict()
    return "; ".join(
        f"env: {env_changes(a[k], b[k])}"
        if k == "env"
        else "stdin: changed"
        if k == "stdin"
        else f"{k}: {a[k]!r} -> {b[k]!r}"
        for k in a
        if a[k] != b[k]
    )
