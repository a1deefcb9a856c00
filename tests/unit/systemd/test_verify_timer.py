"""sync verifies started timers from their listed SubState; properties only when it is not
enough (verify_timer)."""

from __future__ import annotations

from typing import Any

from smartcron.systemd import sync
from smartcron.systemd.bus import NEVER

from support import ROOT


class Props:
    """Stands in for Systemd.properties (the only call verify_timer may make); counts calls."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.calls = 0

    def properties(self, unit: str, *names: str) -> dict[str, Any]:
        self.calls += 1
        return {n: self.values.get(n) for n in names}


def test_verify_timer_waiting_timer_needs_no_property_read() -> None:
    bus = Props({})
    assert sync.verify_timer(bus, "t", ("loaded", "active", "waiting")) is None  # type: ignore[arg-type]
    assert sync.verify_timer(bus, "t", ("loaded", "active", "running")) is None  # type: ignore[arg-type]
    assert bus.calls == 0


def test_verify_timer_elapsed_timer_that_never_fired_is_reported() -> None:
    bus = Props({"NextElapseUSecRealtime": NEVER, "NextElapseUSecMonotonic": 0})
    problem = sync.verify_timer(bus, "t", ("loaded", "active", "elapsed"))  # type: ignore[arg-type]
    assert problem is not None and "has no next elapse" in problem
    assert bus.calls == 1


def test_verify_timer_elapsed_timer_that_fired_is_fine() -> None:
    bus = Props({"NextElapseUSecRealtime": NEVER, "LastTriggerUSec": 1_700_000_000_000_000})
    assert sync.verify_timer(bus, "t", ("loaded", "active", "elapsed")) is None  # type: ignore[arg-type]


def test_verify_timer_inactive_or_missing_timer_is_reported() -> None:
    bus = Props({})
    inactive = sync.verify_timer(bus, "t", ("loaded", "inactive", "dead"))  # type: ignore[arg-type]
    assert inactive is not None and "not active" in inactive
    missing = sync.verify_timer(bus, "t", None)  # type: ignore[arg-type]
    assert missing is not None and "not loaded" in missing
    assert bus.calls == 0


def test_verify_timer_template_sets_no_wakeup_without_elapse() -> None:
    # "waiting" means "has a next elapse" only while task timers wait on nothing else.
    text = (ROOT / "unit_templates" / "task.timer.j2").read_text()
    assert "OnTimezoneChange" not in text and "OnClockChange" not in text
