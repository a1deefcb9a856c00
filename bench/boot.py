"""Boot time of the private systemd used by the tests (target: under 2 s).

Usage: sudo .venv/bin/python bench/boot.py [N]
"""

from __future__ import annotations

import statistics
import sys

from smartcron.systemd.sandbox import PrivateSystemd


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    times = []
    for _ in range(rounds):
        with PrivateSystemd(name="smartcron-bench") as instance:
            times.append(instance.boot_seconds)
    print(
        f"private systemd boot, {rounds} rounds: median {statistics.median(times):.3f} s, "
        f"max {max(times):.3f} s (target < 2 s)"
    )


if __name__ == "__main__":
    main()
