"""The bench contract: each script in bench/ prints, as its last line, one JSON object with its
figures, each goal of issue #14 and whether it is met.

    {"bench": "collector", "p99_ms": 41.0, "floor_p99_ms": 14.2, "goal_p99_ms": 100,
     "met": true, "goals": {"p99_ms": {"value": 41.0, "goal": "< 100", "met": true}}}

`goal_<figure>` is the bound, `goals` says for each figure whether it is met, and `met` is
true only when every goal is. bench/run collects these lines.
"""

from __future__ import annotations

import json
import os
import statistics
from typing import Any


class Report:
    """Figures and goals of one bench run; `emit` prints the contract's JSON line."""

    def __init__(self, bench: str) -> None:
        self.out: dict[str, Any] = {"bench": bench, "load_average": list(os.getloadavg())}
        self.goals: dict[str, dict[str, Any]] = {}

    def figure(self, name: str, value: Any) -> Any:
        self.out[name] = round(value, 4) if isinstance(value, float) else value
        return value

    def below(self, name: str, value: float, bound: float) -> bool:
        """Record figure `name` with goal value < bound; return whether it is met."""
        self.figure(name, value)
        met = bool(value < bound)
        self.out[f"goal_{name}"] = bound
        self.goals[name] = {"value": self.out[name], "goal": f"< {bound}", "met": met}
        return met

    def true(self, name: str, value: bool) -> bool:
        self.figure(name, bool(value))
        self.goals[name] = {"value": bool(value), "goal": "true", "met": bool(value)}
        return bool(value)

    def emit(self) -> None:
        self.out["goals"] = self.goals
        self.out["met"] = all(g["met"] for g in self.goals.values())
        print(json.dumps(self.out), flush=True)


def spread(values: list[float]) -> dict[str, float]:
    """min / median / max of repeated measurements."""
    return {
        "min": round(min(values), 4),
        "median": round(statistics.median(values), 4),
        "max": round(max(values), 4),
    }


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def byte_compile() -> str:
    """Byte-compile the smartcron package being measured, as an installed package is.

    An editable install under PYTHONDONTWRITEBYTECODE=1 (this workplace's shells set it) would
    otherwise compile every module from source on every command: 0.1-0.2 s of a no-op sync
    that no installed copy pays. Returns the package directory compiled.
    """
    import compileall

    import smartcron

    where = os.path.dirname(smartcron.__file__)
    compileall.compile_dir(where, quiet=1)
    return where
