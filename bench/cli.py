"""Start-up of the command line: `smartcron --help` and `smartcron --version` as commands.

Each is run REPEATS times (default 10) in its own process; min/median/max in ms, and the
floor: a bare `python -c pass` of the same interpreter. Goal (issue #14): --help < 150 ms
(median).

Usage: .venv/bin/python bench/cli.py [REPEATS]
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from contract import Report, byte_compile, spread

SMARTCRON = str(Path(sys.executable).with_name("smartcron"))


def timed(argv: list[str], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        began = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd="/")
        out.append((time.perf_counter() - began) * 1000)
    return out


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    report = Report("cli")
    print(f"byte-compiled {byte_compile()}")
    help_ms, version_ms, floor_ms = [], [], []
    for _ in range(repeats):  # interleaved, so load hits all three alike
        help_ms += timed([SMARTCRON, "--help"], 1)
        version_ms += timed([SMARTCRON, "--version"], 1)
        floor_ms += timed([sys.executable, "-c", "pass"], 1)
    report.figure("help_ms", spread(help_ms))
    report.figure("version_ms", spread(version_ms))
    report.figure("floor_python_ms", spread(floor_ms))
    median = spread(help_ms)["median"]
    report.figure("help_ratio_to_floor", round(median / spread(floor_ms)["median"], 2))
    print(f"smartcron --help: {spread(help_ms)} ms; python -c pass: {spread(floor_ms)} ms")
    report.below("help_median_ms", median, 150)
    report.emit()


if __name__ == "__main__":
    main()
