"""`smartcron gate` as ExecCondition= runs it: a gate that cannot decide fails the unit (255)
instead of exiting 1-254, which systemd takes as "skip this run" without a failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SMARTCRON = str(Path(sys.executable).parent / "smartcron")


def test_gate_with_a_broken_configuration_fails_the_run_instead_of_skipping_it(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "smartcron.toml"
    broken.write_text('host_down_after = "1s"\n')  # refused: below three heartbeats
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMARTCRON_")}
    result = subprocess.run(
        [SMARTCRON, "gate", "bank-import"],
        capture_output=True,
        text=True,
        env={**clean, "SMARTCRON_CONFIG": str(broken)},
        cwd="/",
        timeout=60,
        check=False,
    )
    assert result.returncode == 255, result
    assert "cannot decide whether bank-import runs here" in result.stderr
    assert "host_down_after" in result.stderr and "Traceback" not in result.stderr
