"""Read crontab files (crontab(5)) into task definitions.

Both formats are read: a user crontab (`m h dom mon dow command`) and the system format of
/etc/crontab and /etc/cron.d (`m h dom mon dow user command`). Environment lines apply to the
entries below them; cron runs each command with `$SHELL -c`, and so does the task. In the
command, an unescaped `%` starts standard input (not supported here: the line is reported) and
`\\%` is a literal `%`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from smartcron.model.schedule import KEYWORDS, REBOOT

_ENV_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_CRON_CHARS = re.compile(r"^[0-9A-Za-z*,/\-]+$")
_SLUG_RE = re.compile(r"[^a-z0-9]+")


@dataclass
class CrontabEntry:
    """One schedule line, turned into raw task data (validated later)."""

    line: int
    data: dict[str, Any]


@dataclass
class ParsedCrontab:
    entries: list[CrontabEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "line N: why"
    notes: list[str] = field(default_factory=list)  # things that were understood but changed


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _split_fields(line: str, count: int) -> list[str] | None:
    parts = line.split(None, count)
    return parts if len(parts) == count + 1 else None


def _command_text(raw: str, lineno: int, problems: list[str]) -> str | None:
    """Apply crontab's `%` rules; return the shell command or None (with a problem noted)."""
    out = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw) and raw[i + 1] == "%":
            out.append("%")
            i += 2
            continue
        if ch == "%":
            problems.append(
                f"line {lineno}: '%' passes standard input to the command, which "
                "smartcron does not support; write the input to a file and redirect "
                "it, or escape a literal percent sign as '\\%'"
            )
            return None
        out.append(ch)
        i += 1
    return "".join(out).strip()


def _slug(command: str) -> str:
    words = [w for w in re.split(r"\s+", command) if w and "=" not in w]
    base = words[0].rsplit("/", 1)[-1] if words else "job"
    return _SLUG_RE.sub("-", base.lower()).strip("-")[:40] or "job"


def parse(text: str, *, system: bool, prefix: str = "cron") -> ParsedCrontab:
    """Given crontab text, return the entries as task data plus problems and notes."""
    result = ParsedCrontab()
    env: dict[str, str] = {}
    shell = "/bin/sh"
    timezone: str | None = None
    names: set[str] = set()
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _ENV_RE.match(line)
        first = line.split(None, 1)[0]
        if match and not _CRON_CHARS.match(first) and not first.startswith("@"):
            key, value = match.group(1), _unquote(match.group(2))
            if key in {"TZ", "CRON_TZ"}:
                timezone = value
            elif key == "SHELL":
                shell = value
            elif key == "MAILTO":
                result.notes.append(
                    f"line {lineno}: MAILTO is not used; smartcron sends alerts "
                    "through its channels instead (see docs/alerts.md)"
                )
            else:
                env[key] = value
            continue
        if line.startswith("@"):
            parts = _split_fields(line, 2 if system else 1)
            spec = first.lower()
            if spec != REBOOT and spec not in KEYWORDS:
                result.problems.append(
                    f"line {lineno}: unknown keyword {first!r}; use "
                    "@reboot, @hourly, @daily, @weekly, @monthly or @yearly"
                )
                continue
            schedule = spec
        else:
            parts = _split_fields(line, 6 if system else 5)
            schedule = " ".join(parts[:5]) if parts else ""
        if parts is None:
            what = "a schedule, a user and a command" if system else "a schedule and a command"
            result.problems.append(f"line {lineno}: expected {what}: {line!r}")
            continue
        user = parts[-2] if system else None
        command = _command_text(parts[-1], lineno, result.problems)
        if command is None:
            continue
        name = f"{prefix}-{lineno}-{_slug(command)}"[:64].rstrip("-")
        while name in names:
            name = name[:60] + "-x"
        names.add(name)
        data: dict[str, Any] = {
            "name": name,
            "command": [shell, "-c", command],
            "schedule": schedule,
            "description": f"imported from crontab line {lineno}",
            "category": "crontab",
        }
        if env:
            data["env"] = dict(env)
        if timezone:
            data["timezone"] = timezone
        if user:
            data["user"] = user  # root stays root, written out
        result.entries.append(CrontabEntry(lineno, data))
    return result
