"""Read crontab files (crontab(5)) into task definitions, the way cronie reads them.

Both formats are read: a user crontab (`m h dom mon dow command`) and the system format of
/etc/crontab and /etc/cron.d (`m h dom mon dow user command`). What cronie does, and so this:
- lines are split on `\\n` only; a line whose first non-blank is `#` is a comment;
- an environment line is cronie's `load_env()` (src/env.c): `NAME = value` with blanks around
  `=`, single or double quotes around the name or the value, an unquoted value trimmed at its
  end; it applies to the entries below it;
- fields are separated by blanks (spaces and tabs); the command is the rest of the line, byte
  for byte (trailing blanks included);
- in the command (src/do_command.c) an unescaped `%` ends the command and the rest is the job's
  standard input, with `\\%` a literal `%`, every other `%` a newline and a newline added at the
  end; before the first unescaped `%`, `\\%` is `%` and any other backslash is kept as it is.
smartcron runs each command with `$SHELL -c` (default /bin/sh), as cron does; `CRON_TZ` is the
schedule's timezone, `TZ` and the other variables are passed to the job, `MAILTO` becomes a
suggestion of an alert channel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from smartcron.model.schedule import KEYWORDS, REBOOT

_SLUG_RE = re.compile(r"[^a-z0-9]+")
_BLANKS = " \t"
CONSUMED = {"SHELL", "CRON_TZ", "MAILTO"}  # read by smartcron, not passed to the job


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


def load_env(line: str) -> tuple[str, str] | None:
    """Given one crontab line, return (name, value) if cronie reads it as an environment line
    (a transcription of the state machine of cronie's load_env), else None."""
    name: list[str] = []
    value: list[str] = []
    state = "NAMEI"
    quote = ""
    i = 0
    while state != "ERROR" and i < len(line):
        c = line[i]
        if state in ("NAMEI", "VALUEI"):
            if c in "'\"":
                quote = c
                i += 1
            state = "NAME" if state == "NAMEI" else "VALUE"
            continue
        if state in ("NAME", "VALUE"):
            target = name if state == "NAME" else value
            if quote:
                if c == quote:
                    state = "EQ1" if state == "NAME" else "FINI"
                    i += 1
                    continue
                if state == "NAME" and c == "=":
                    state = "ERROR"
                    continue
            elif state == "NAME":
                if c.isspace():
                    state, i = "EQ1", i + 1
                    continue
                if c == "=":
                    state = "EQ1"
                    continue
            target.append(c)
            i += 1
        elif state == "EQ1":
            if c == "=":
                state, quote = "EQ2", ""
            elif not c.isspace():
                state = "ERROR"
            i += 1
        elif state in ("EQ2", "FINI"):
            if c.isspace():
                i += 1
            else:
                state = "VALUEI" if state == "EQ2" else "ERROR"
    if state not in ("FINI", "EQ2") and not (state == "VALUE" and not quote):
        return None
    text = "".join(value)
    if state == "VALUE":
        text = text.rstrip(" \t\n\r\f\v")
    return "".join(name), text


def split_command(raw: str) -> tuple[str, str | None]:
    """Given a crontab command, return (command, standard input or None) as cron makes them."""
    out: list[str] = []
    escaped = False
    for i, ch in enumerate(raw):
        if escaped:
            if ch == "%":
                out[-1] = "%"  # the backslash before it is dropped
            else:
                out.append(ch)
            escaped = False
            continue
        if ch == "\\":
            escaped = True
            out.append(ch)
            continue
        if ch == "%":
            return "".join(out), _stdin(raw[i + 1 :])
        out.append(ch)
    return "".join(out), None


def _stdin(rest: str) -> str:
    """cronie's translation of the input part (do_command.c): \\% -> %, % -> newline,
    \\x -> \\x, and a newline at the end unless the last character written was one."""
    out: list[str] = []
    escaped = need_newline = False
    for ch in rest:
        if escaped:
            if ch != "%":
                out.append("\\")
        elif ch == "%":
            ch = "\n"
        escaped = ch == "\\"
        if not escaped:
            out.append(ch)
            need_newline = ch != "\n"
    if escaped:
        out.append("\\")
    if need_newline:
        out.append("\n")
    return "".join(out)


def _fields(line: str, count: int) -> tuple[list[str], str] | None:
    """Split `count` blank-separated fields off the line; return them and the rest after the
    blanks that follow (None if the line ends first)."""
    parts: list[str] = []
    rest = line.lstrip(_BLANKS)
    for _ in range(count):
        end = 0
        while end < len(rest) and rest[end] not in _BLANKS:
            end += 1
        if end == 0:
            return None
        parts.append(rest[:end])
        rest = rest[end:].lstrip(_BLANKS)
    return (parts, rest) if rest else None


def _slug(command: str) -> str:
    words = [w for w in re.split(r"\s+", command) if w and "=" not in w]
    base = words[0].rsplit("/", 1)[-1] if words else "job"
    return _SLUG_RE.sub("-", base.lower()).strip("-")[:40] or "job"


@dataclass
class _Env:
    shell: str = "/bin/sh"
    timezone: str | None = None
    mailto: str | None = None
    values: dict[str, str] = field(default_factory=dict)


def _apply_env(env: _Env, key: str, value: str, lineno: int, result: ParsedCrontab) -> None:
    if key == "SHELL":
        env.shell = value
    elif key == "CRON_TZ":
        env.timezone = value or None
    elif key == "MAILTO":
        env.mailto = value
        where = f"mailed their output to {value!r}" if value else "mailed nothing (MAILTO empty)"
        result.notes.append(
            f"line {lineno}: MAILTO: cron {where}; smartcron alerts through channels instead: "
            "add an email channel to the config (docs/alerts.md) and give the imported tasks "
            "`--channel NAME` with `smartcron task edit`"
        )
    else:
        env.values[key] = value


def _schedule(
    line: str, system: bool, lineno: int, result: ParsedCrontab
) -> tuple[str, str | None, str] | None:
    """Return (schedule, user, raw command) of an entry line, or None with a problem noted."""
    if line.lstrip(_BLANKS).startswith("@"):
        found = _fields(line, 2 if system else 1)
        if found is None:
            _missing(line, system, lineno, result)
            return None
        parts, rest = found
        spec = parts[0].lower()
        if spec != REBOOT and spec not in KEYWORDS:
            result.problems.append(
                f"line {lineno}: unknown keyword {parts[0]!r}; use @reboot, @hourly, "
                "@daily, @midnight, @weekly, @monthly, @yearly or @annually"
            )
            return None
        return spec, parts[1] if system else None, rest
    found = _fields(line, 6 if system else 5)
    if found is None:
        _missing(line, system, lineno, result)
        return None
    parts, rest = found
    return " ".join(parts[:5]), parts[5] if system else None, rest


def _missing(line: str, system: bool, lineno: int, result: ParsedCrontab) -> None:
    what = "a schedule, a user and a command" if system else "a schedule and a command"
    result.problems.append(f"line {lineno}: expected {what}: {line!r}")


def _options(raw: str, lineno: int, result: ParsedCrontab) -> str:
    """Strip cronie's `-n` option (mail only on error) from the start of a command."""
    while raw.startswith("-n") and raw[2:3] in (" ", "\t"):
        raw = raw[2:].lstrip(_BLANKS)
        result.notes.append(
            f"line {lineno}: '-n' (mail only when the job fails) dropped: smartcron alerts "
            "on failures by default (alert_on)"
        )
    return raw


def parse(text: str, *, system: bool, prefix: str = "cron") -> ParsedCrontab:
    """Given crontab text, return the entries as task data plus problems and notes."""
    result = ParsedCrontab()
    env = _Env()
    names: set[str] = set()
    for lineno, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.lstrip(_BLANKS)
        if not stripped or stripped.startswith("#"):
            continue
        pair = load_env(stripped)
        if pair is not None:
            _apply_env(env, pair[0], pair[1], lineno, result)
            continue
        line = raw
        if stripped.startswith("-"):
            line = stripped[1:]
            result.notes.append(f"line {lineno}: '-' (do not log the run) dropped")
        found = _schedule(line, system, lineno, result)
        if found is None:
            continue
        schedule, user, rest = found
        command, stdin = split_command(_options(rest, lineno, result))
        name = f"{prefix}-{lineno}-{_slug(command)}"[:64].rstrip("-")
        while name in names:
            name = name[:60] + "-x"
        names.add(name)
        data: dict[str, Any] = {
            "name": name,
            "command": [env.shell, "-c", command],
            "schedule": schedule,
            "description": f"imported from crontab line {lineno}",
            "category": "crontab",
        }
        if stdin:
            data["stdin"] = stdin
        if env.values:
            data["env"] = dict(env.values)
        if env.timezone:
            data["timezone"] = env.timezone
        if user:
            data["user"] = user  # root stays root, written out
        result.entries.append(CrontabEntry(lineno, data))
    return result
