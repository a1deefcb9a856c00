"""A small client for the systemd manager over D-Bus (pystemd).

It talks to the system bus; `DBUS_SYSTEM_BUS_ADDRESS` points it at another manager, which is
how the tests drive a private systemd. Property names are systemd's own (ActiveState,
NextElapseUSecRealtime, ...) so that systemd's documentation applies. One bus connection is
opened lazily and reused, because sync makes a few calls per task.
"""

from __future__ import annotations

import datetime as dt
import errno
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from smartcron.errors import OperationFailed

DESTINATION = b"org.freedesktop.systemd1"
MANAGER_PATH = b"/org/freedesktop/systemd1"
MANAGER_IFACE = b"org.freedesktop.systemd1.Manager"
# Properties of the org.freedesktop.systemd1.Unit interface that smartcron reads; any other
# name is looked up on the unit type's interface (Service, Timer).
UNIT_PROPERTIES = frozenset(
    {
        "Id",
        "Description",
        "LoadState",
        "ActiveState",
        "SubState",
        "InvocationID",
        "Job",
        "ActiveEnterTimestamp",
        "ActiveExitTimestamp",
        "InactiveEnterTimestamp",
        "InactiveExitTimestamp",
        "StateChangeTimestamp",
        "FragmentPath",
        "NeedDaemonReload",
    }
)
# The ActiveState values of a unit whose job is not over (systemd.unit(5)); the one list of them.
RUNNING_STATES = frozenset({"activating", "active", "deactivating", "reloading", "refreshing"})
NEVER = 2**64 - 1  # systemd's USEC_INFINITY: "no time", e.g. a timer with no next elapse


def usec_to_datetime(usec: int | None) -> dt.datetime | None:
    """Return systemd's microsecond timestamp as an aware UTC datetime (0 is None)."""
    if not usec or usec >= 2**63:
        return None
    return dt.datetime.fromtimestamp(usec / 1_000_000, tz=dt.UTC)


def invocation_hex(value: Any) -> str:
    """Return an InvocationID (bytes or a list of ints from D-Bus) as 32 hex digits."""
    if isinstance(value, str):
        return value
    return bytes(value).hex() if value else ""


def _plain(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


class SystemdTimeout(OperationFailed):
    """A call reached systemd but no answer came back in time (it may still have happened)."""


class Systemd:
    """Manager calls that smartcron needs; each raises OperationFailed with systemd's reason."""

    def __init__(self) -> None:
        self._bus: Any = None
        self._manager: Any = None

    def close(self) -> None:
        if self._bus is not None:
            self._bus.close()
            self._bus = None
            self._manager = None

    def __enter__(self) -> Systemd:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _call(self, what: str) -> Iterator[Any]:
        # pystemd is imported here: commands that never talk to systemd should not load it.
        from pystemd.dbusexc import DBusBaseError
        from pystemd.dbuslib import DBus
        from pystemd.systemd1 import Manager

        try:
            if self._bus is None:
                bus = DBus()
                bus.open()
                self._bus = bus
                self._manager = Manager(bus=bus, _autoload=True)
            yield self._bus
        except DBusBaseError as exc:
            self.close()
            # -ETIMEDOUT / NoReply: the call reached systemd but its answer did not come back.
            timed_out = abs(getattr(exc, "errno", 0) or 0) == errno.ETIMEDOUT or "NoReply" in str(
                getattr(exc, "err_name", "")
            )
            raise (SystemdTimeout if timed_out else OperationFailed)(
                f"systemd refused to {what}: {exc}. Is systemd running and are you root? "
                "(`systemctl status` shows the manager's state)"
            ) from None

    def reload(self, probe_unit: str | None = None, patience: float = 300.0) -> None:
        """Reload unit files (systemctl daemon-reload): one call for any number of changes.

        With thousands of units a reload outlasts D-Bus's 25 s call timeout, and systemd
        re-attaches to the bus meanwhile, so the reply can be lost although the reload goes
        on. Then wait until the manager answers again and confirm with `probe_unit` (a unit
        whose file was just written) that nothing is left to reload; retry once if it is.
        """
        for attempt in (1, 2, 3):
            try:
                with self._call("reload its unit files"):
                    self._manager.Manager.Reload()
                return
            except SystemdTimeout:
                # The reply was lost or late; the reload itself may still be running.
                if attempt == 3 or not self._wait_responsive(patience):
                    raise
                if probe_unit is None:
                    return
                if self.properties(probe_unit, "NeedDaemonReload").get("NeedDaemonReload") is False:
                    return

    def _wait_responsive(self, patience: float) -> bool:
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            try:
                self.list_units("smartcron-tasks.target")
                return True
            except OperationFailed:
                time.sleep(0.5)
        return False

    def _manager_call(self, what: str, method: bytes, signature: bytes, args: list[Any]) -> Any:
        from pystemd.dbuslib import apply_signature

        with self._call(what) as bus:
            return bus.call_method(
                DESTINATION, MANAGER_PATH, MANAGER_IFACE, method, apply_signature(signature, args)
            ).body

    def start(self, unit: str) -> None:
        self._manager_call(f"start {unit}", b"StartUnit", b"ss", [unit.encode(), b"replace"])

    def start_and_wait(self, unit: str, timeout: float) -> bool:
        """Start `unit` and wait until its start job is over; False if `timeout` passed first.

        A target's job ends only after the jobs of the units it wants (it is ordered after
        them), so this waits for every timer a sync started, as `systemctl start` does.
        Polling the one job object is cheap; listing a thousand units while systemd starts
        them is not (seconds at 1,000 timers).
        """
        from pystemd.dbusexc import DBusBaseError
        from pystemd.dbuslib import apply_signature

        job = self._manager_call(f"start {unit}", b"StartUnit", b"ss", [unit.encode(), b"replace"])
        state = apply_signature(b"ss", [b"org.freedesktop.systemd1.Job", b"State"])
        deadline = time.monotonic() + timeout
        with self._call(f"follow the start job of {unit}") as bus:
            while time.monotonic() < deadline:
                try:
                    bus.call_method(DESTINATION, job, b"org.freedesktop.DBus.Properties", b"Get",
                                    state)  # fmt: skip
                except DBusBaseError:
                    return True  # the job object is gone: the job is over
                time.sleep(0.02)
        return False

    def stop(self, unit: str) -> None:
        self._manager_call(f"stop {unit}", b"StopUnit", b"ss", [unit.encode(), b"replace"])

    def reset_failed(self, unit: str) -> None:
        with self._call(f"reset {unit}"):
            self._manager.Manager.ResetFailedUnit(unit.encode())

    def list_units(self, pattern: str) -> dict[str, tuple[str, str, str]]:
        """Return {name: (LoadState, ActiveState, SubState)} of loaded units matching pattern."""
        with self._call(f"list units {pattern}"):
            rows = self._manager.Manager.ListUnitsByPatterns([], [pattern.encode()])
        return {_plain(r[0]): (_plain(r[2]), _plain(r[3]), _plain(r[4])) for r in rows}

    def properties(self, unit: str, *names: str) -> dict[str, Any]:
        """Return the named properties of a unit (LoadState "not-found" if it does not exist).

        One Properties.Get per name: pystemd's Unit() introspects the object first (~6 ms a
        unit) and GetAll serialises ~200 properties (~4 ms); a Get costs ~0.4 ms.
        """
        from pystemd.dbuslib import apply_signature, path_encode

        path = path_encode(b"/org/freedesktop/systemd1/unit", unit.encode())
        kind = f"org.freedesktop.systemd1.{unit.rsplit('.', 1)[-1].capitalize()}".encode()
        out: dict[str, Any] = {}
        with self._call(f"describe {unit}") as bus:
            for name in names:
                iface = b"org.freedesktop.systemd1.Unit" if name in UNIT_PROPERTIES else kind
                reply = bus.call_method(
                    DESTINATION,
                    path,
                    b"org.freedesktop.DBus.Properties",
                    b"Get",
                    apply_signature(b"ss", [iface, name.encode()]),
                )
                out[name] = _plain(reply.body)
        return out
