"""Two tiers, chosen by directory: tests/unit (pure logic: no root, no systemd, no database
server; marker `unit`) and tests/system (the real private systemd, MariaDB, Chromium;
marker `system`). `scripts/test -m unit` runs the fast tier alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
# `support` (helpers shared by both tiers) is imported as a top-level package.
sys.path.insert(0, str(TESTS))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.path)).resolve().relative_to(TESTS).parts[0]
        if tier not in ("unit", "system"):
            raise pytest.UsageError(f"{item.nodeid}: tests live in tests/unit or tests/system")
        item.add_marker(tier)
