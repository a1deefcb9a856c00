"""The task: one dataclass whose fields are the single source of what a task has.

Each field carries, in its metadata, everything the other layers need to know about it: the
help text (CLI options, docs), the database column, and the kind of value, which decides its
human form in YAML/JSON (`to_dict`) and how it is stored. `validate.py` checks every field;
`db/tasks.py` and the CLI derive their code from `FIELD_SPECS` instead of listing fields again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from smartcron.errors import InvalidInput
from smartcron.model.quantities import MAX_DURATION, format_duration, format_size

PRIORITIES = ("critical", "high", "normal", "low")
# A task NAME becomes the units smartcron-NAME.service/.timer. These names are smartcron's own
# units (watchdog, dashboard, maintenance, the alert@ template, the tasks target) or reserved
# for them, so no task may take them (systemd/own_units.py holds its units to this list).
RESERVED_NAMES = frozenset(
    {"watchdog", "dashboard", "maintenance", "alert", "tasks", "sync", "sandbox", "digest"}
)
# Where a task runs (docs/multi-host.md): on each listed host, or on exactly one of them.
PLACEMENTS = ("each", "one")
ALL_HOSTS = "*"
# What a `placement: one` task does when its host cannot reach the database to claim a run.
IF_DB_DOWN = ("run", "skip")
ALERT_EVENTS = ("failure", "final-failure", "late", "long-run", "success")
DEFAULT_ALERT_ON = ("final-failure", "late")

# Kinds of values. The kind decides the human form (to_dict) and the stored form.
DURATION, SIZE, PERCENT, ARGV, PAIRS, NAMES, PLAIN = (
    "duration",
    "size",
    "percent",
    "argv",
    "pairs",
    "names",
    "plain",
)


def _spec(
    default: Any,
    help: str,
    *,
    kind: str = PLAIN,
    column: str | None = None,
    flag: str | None = "",
) -> Any:
    """Declare a task field. `flag` "" derives --the-name from the field; None: no CLI option."""
    metadata = {"help": help, "kind": kind, "column": column, "flag": flag}
    if isinstance(default, list | dict):
        raise TypeError("use a tuple for sequence defaults")  # frozen dataclass
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, kw_only=True)
class Task:
    """A validated task. Durations are whole seconds, sizes bytes; `to_dict` gives human units.

    The field order is the order of a task in YAML, JSON and `smartcron task show`.
    """

    name: str = _spec("", "Task name: 1-64 of a-z, 0-9 and '-'.", flag=None)
    description: str = _spec("", "One line saying what the task is for.")
    command: tuple[str, ...] = _spec(
        (), "Command line (split like a shell) to run; the program must exist.", kind=ARGV
    )
    schedule: str = _spec(
        "",
        "Cron expression, @keyword or systemd OnCalendar expression (may be empty for a task "
        "that runs only after another, see --after).",
    )
    after: tuple[str, ...] = _spec(
        (),
        "Tasks after whose success this one runs, comma-separated (a chain, docs/chains.md): "
        "with several, it runs once all have succeeded since its last run. A chained task "
        "needs no schedule of its own.",
        kind=NAMES,
        column="after_tasks",
    )
    timezone: str = _spec("", "IANA timezone of the schedule (default: the host's).")
    timeout: int = _spec(
        3600,
        "Kill the run after this long, e.g. 30s, 10m, 2h; at most 365d (default 1h).",
        kind=DURATION,
        column="timeout_s",
    )
    retries: int = _spec(0, "Retry a failed run this many times, 0-10 (default 0).")
    retry_delay: int = _spec(
        30,
        "Wait between retries, e.g. 30s; at most 365d (default 30s).",
        kind=DURATION,
        column="retry_delay_s",
    )
    retry_backoff: float = _spec(
        1.0,
        "Multiply the wait by this after each retry, 1-10, e.g. 2 for 30s, 1m, 2m "
        "(default 1: the same wait every time).",
    )
    retry_max_delay: int | None = _spec(
        None,
        "Never wait longer than this between retries, e.g. 10m (default: no cap).",
        kind=DURATION,
        column="retry_max_delay_s",
    )
    memory_max: int | None = _spec(
        None, "Kill the run above this memory, e.g. 512M, 1G; at most 1024T.", kind=SIZE
    )
    cpu_quota: int | None = _spec(None, "CPU limit in percent of one CPU, e.g. 50%.", kind=PERCENT)
    nice: int | None = _spec(None, "Scheduling niceness, -20 to 19.")
    user: str = _spec(
        "",
        "Run as this system user (default: the default_user setting, nobody unless set; "
        "root only when you write --user root).",
        column="run_user",
    )
    group: str | None = _spec(None, "Run with this group.", column="run_group")
    workdir: str | None = _spec(None, "Working directory (absolute path).")
    env: tuple[tuple[str, str], ...] = _spec(
        (), "Environment variable for the run, KEY=VALUE; repeat for more.", kind=PAIRS, flag=None
    )
    stdin: str | None = _spec(
        None,
        "Text given to the command on standard input (a crontab's '%' lines), up to 64 KiB.",
    )
    category: str = _spec("general", "Free-form group, e.g. payroll, pos, cleanup.")
    priority: str = _spec("normal", f"One of {', '.join(PRIORITIES)} (default normal).")
    alert_on: tuple[str, ...] = _spec(
        DEFAULT_ALERT_ON,
        f"Comma list of events to alert on: {', '.join(ALERT_EVENTS)}.",
        kind=NAMES,
    )
    alert_after: int = _spec(1, "Alert only after this many consecutive failures.")
    warn_after: int | None = _spec(
        None,
        "Raise a long-run alert when a run lasts longer than this (at most 365d).",
        kind=DURATION,
        column="warn_after_s",
    )
    channels: tuple[str, ...] = _spec(
        (), "Alert channel name from the config; repeat for more.", kind=NAMES, flag=None
    )
    paused: bool = _spec(
        False, "Create or set the task paused (its timer does not fire).", flag=None
    )
    catch_up: bool = _spec(
        True, "Run once after downtime if a run was missed (default on).", flag=None
    )
    hosts: tuple[str, ...] = _spec(
        (ALL_HOSTS,),
        "Hosts that run the task: a comma list of host names, or * for every host "
        "(default: the host it is created on).",
        kind=NAMES,
    )
    placement: str = _spec(
        "each",
        "each: every listed host runs every scheduled run; one: exactly one of them does "
        "(default each).",
    )
    if_db_down: str = _spec(
        "run",
        "For placement one: when this host cannot reach the database to claim a run, "
        "run it anyway (run, the default) or skip it and alert (skip).",
    )
    concurrency_group: str | None = _spec(
        None,
        "Concurrency group (docs/groups.md): at most the group's max_concurrent tasks of it "
        "run at once on a host (the concurrency_groups setting, default 1); the others wait "
        "for a slot, and the wait counts against their timeout.",
    )
    id: int | None = field(default=None, compare=False, metadata={"internal": True})
    # Set when stored by a signing command (model/signing.py); not part of the definition.
    revision: int = field(default=0, compare=False, metadata={"internal": True})
    signature: str = field(default="", compare=False, metadata={"internal": True})

    def to_dict(self) -> dict[str, Any]:
        """Return the task as plain data with human units: the YAML/JSON form of a task (a
        new dict each call, the caller's to change; plain() for reading)."""
        return {spec.name: spec.plain(getattr(self, spec.name)) for spec in FIELD_SPECS}

    def plain(self) -> Mapping[str, Any]:
        """Return to_dict()'s data read-only, computed once per task: the dashboard's lists
        serialise 1,000 unchanged tasks per request (30 fields each, ~30 ms), and sync hashes
        each task three times. A Task is frozen (dataclasses.replace makes a new one)."""
        cached = self.__dict__.get("_plain")
        if cached is None:
            cached = MappingProxyType(self.to_dict())
            object.__setattr__(self, "_plain", cached)
        return cached

    def retry_waits(self) -> tuple[int, ...]:
        """Return the wait in whole seconds before each retry (retry 1 first): retry_delay,
        times retry_backoff after each retry, never above retry_max_delay."""
        waits = []
        for attempt in range(self.retries):
            wait = round(self.retry_delay * self.retry_backoff**attempt)
            if self.retry_max_delay is not None:
                wait = min(wait, self.retry_max_delay)
            waits.append(wait)
        return tuple(waits)

    def check_retry_waits(self) -> None:
        """Raise InvalidInput when a wait before a retry would exceed MAX_DURATION (365d), as
        retry_delay 365d times retry_backoff 10 per retry would: systemd's StartLimitIntervalSec=
        and TimeoutStopSec= hold the waits, and a span of millions of years overflows them."""
        longest = max(self.retry_waits(), default=0)
        if longest > MAX_DURATION:
            # An exact span only while it reads as one (3650d), not as 300000000000d.
            shown = (
                f"{format_duration(longest)}, more than"
                if longest <= 10 * MAX_DURATION
                else "far more than"
            )
            raise InvalidInput(
                "retry_backoff",
                SPEC_BY_NAME["retry_backoff"].plain(self.retry_backoff),
                f"the wait before retry {self.retries} would be {shown} "
                f"{format_duration(MAX_DURATION)}, the longest a wait may be: set "
                f"retry_max_delay (at most {format_duration(MAX_DURATION)}), or lower "
                "retry_backoff, retry_delay or retries",
            )

    def config_hash(self) -> str:
        """Return a short digest of everything that shapes the generated units."""
        # Computed once per task: sync asks three times per task (two units and the
        # fingerprint), and a Task is frozen (dataclasses.replace makes a new one).
        cached = self.__dict__.get("_config_hash")
        if cached is None:
            data = dict(self.plain())
            cached = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
            object.__setattr__(self, "_config_hash", cached)
        return cached


@dataclass(frozen=True)
class FieldSpec:
    """What the rest of smartcron knows about one task field."""

    name: str
    help: str
    kind: str
    column: str
    flag: str | None  # the CLI option, None when the CLI spells it another way
    default: Any

    def plain(self, value: Any) -> Any:
        """Given the field's value in a Task, return its human form (YAML/JSON)."""
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            return int(value)  # a factor of 2, not 2.0
        if self.kind == DURATION:
            return format_duration(value)
        if self.kind == SIZE:
            return format_size(value)
        if self.kind == PERCENT:
            return f"{value}%"
        if self.kind == PAIRS:
            return dict(value)
        if self.kind in (ARGV, NAMES):
            return list(value)
        return value

    @property
    def plain_default(self) -> Any:
        """The default in its human form, as validation receives it when the field is absent."""
        return self.plain(self.default)

    def stored(self, value: Any) -> Any:
        """Given the field's value in a Task, return its database column value."""
        if self.kind == PAIRS:
            return dict(value)
        if self.kind in (ARGV, NAMES):
            return list(value)
        return value

    def loaded(self, value: Any) -> Any:
        """Given the database column value, return the field's value in a Task."""
        if value is None:
            return () if self.kind == NAMES else None
        if self.kind == PAIRS:
            return tuple(sorted(value.items()))
        if self.kind in (ARGV, NAMES):
            return tuple(value)
        if isinstance(self.default, bool):
            return bool(value)
        if isinstance(self.default, float):
            return float(value)  # SQLite may hand back a REAL column's 1 as an int
        return value


HIDDEN = "(hidden)"


SECRET_FIELDS = ("env", "stdin")  # what hide_secrets hides: people keep secrets in both


def hide_secrets(data: Mapping[str, Any]) -> dict[str, Any]:
    """Given a task's plain form (`to_dict`), return it with environment values and standard
    input hidden: people keep tokens and passwords there (a crontab's '%' lines feed a
    password to a job). Only an admin who asks sees them (docs/dashboard.md)."""
    env = data.get("env") or {}
    return {**data, "env": {key: HIDDEN for key in env}, "stdin": data.get("stdin") and HIDDEN}


def env_changes(old: dict[str, str], new: dict[str, str]) -> str:
    """Given two environments, say which variables were added, removed or changed (names
    only, never values)."""
    parts = [
        f"{verb} {', '.join(keys)}"
        for verb, keys in (
            ("added", sorted(set(new) - set(old))),
            ("removed", sorted(set(old) - set(new))),
            ("changed", sorted(k for k in set(old) & set(new) if old[k] != new[k])),
        )
        if keys
    ]
    return "; ".join(parts) or "unchanged"


FIELD_SPECS: tuple[FieldSpec, ...] = tuple(
    FieldSpec(
        name=f.name,
        help=f.metadata["help"],
        kind=f.metadata["kind"],
        column=f.metadata["column"] or f.name,
        flag=None
        if f.metadata["flag"] is None
        else f.metadata["flag"] or "--" + f.name.replace("_", "-"),
        default=f.default,
    )
    for f in dataclasses.fields(Task)
    if not f.metadata.get("internal")
)
FIELDS = tuple(spec.name for spec in FIELD_SPECS)
SPEC_BY_NAME = {spec.name: spec for spec in FIELD_SPECS}
