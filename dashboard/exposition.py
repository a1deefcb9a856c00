"""Prometheus text exposition format 0.0.4, written directly.

prometheus_client's generate_latest builds a Sample object per line and formats its labels
generically; /metrics writes ~20,000 lines per thousand task-host pairs, so the lines are
formatted here, each series' label text made once and shared by every family. The format is
the one generate_latest writes (counters' HELP/TYPE under the _total name, histograms'
buckets, _count and _sum), integers without a fraction; `promtool check metrics` passes on it
and prometheus_client's parser reads it back (tests/system/dashboard/test_metrics.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Family:
    """One metric family: its name (without _total for a counter), type, help and labels."""

    name: str
    kind: str  # "counter", "gauge" or "histogram"
    help: str
    labels: tuple[str, ...] = ()

    def samples(self) -> tuple[str, ...]:
        """The names its samples carry."""
        if self.kind == "counter":
            return (f"{self.name}_total",)
        if self.kind == "histogram":
            return tuple(f"{self.name}_{s}" for s in ("bucket", "sum", "count"))
        return (self.name,)


def label_value(value: str) -> str:
    """Escape a label value (backslash, double quote, newline)."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def number(value: float) -> str:
    """Format a sample value as Prometheus reads it (integers without a fraction)."""
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def header(family: Family) -> str:
    """Return the # HELP and # TYPE lines of a family."""
    name = family.samples()[0] if family.kind == "counter" else family.name
    text = family.help.replace("\\", "\\\\").replace("\n", "\\n")
    return f"# HELP {name} {text}\n# TYPE {name} {family.kind}\n"


def labels(names: Sequence[str], values: Sequence[str]) -> str:
    """Return the inside of a label set, `a="x",b="y"` (escaped), to pass to `lines` and
    `histogram`: made once per task and host, shared by every family."""
    return ",".join(f'{n}="{label_value(v)}"' for n, v in zip(names, values, strict=True))


def lines(family: Family, rows: Iterable[tuple[str, float]]) -> str:
    """Return a gauge's or counter's text: header, then one line per (labels, value)."""
    name = family.samples()[0]
    out = [header(family)]
    out.extend(
        f"{name}{{{inner}}} {number(x)}\n" if inner else f"{name} {number(x)}\n"
        for inner, x in rows
    )
    return "".join(out)


def histogram(
    family: Family, bounds: Sequence[float], rows: Iterable[tuple[str, Sequence[int], int, float]]
) -> str:
    """Return a histogram's text from (labels, count per bucket not cumulative, count, sum)
    rows; durations above the last bound are in the count only (the +Inf bucket)."""
    les = [f'le="{float(b)!r}"' for b in bounds] + ['le="+Inf"']
    out = [header(family)]
    bucket, total, count = (f"{family.name}_{s}" for s in ("bucket", "sum", "count"))
    for inner, per_bucket, n, seconds in rows:
        prefix = f"{bucket}{{{inner}," if inner else f"{bucket}{{"
        running = 0
        for le, c in zip(les, per_bucket, strict=False):
            running += c
            out.append(f"{prefix}{le}}} {running}\n")
        out.append(f"{prefix}{les[-1]}}} {n}\n")
        tail = f"{{{inner}}}" if inner else ""
        out.append(f"{count}{tail} {n}\n{total}{tail} {number(seconds)}\n")
    return "".join(out)
