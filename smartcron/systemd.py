"""A small client for the systemd manager over D-Bus (pystemd).

It talks to the system bus; `DBUS_SYSTEM_BUS_ADDRESS` points it at another manager, which is
how the tests drive a private systemd. Property names are systemd's own (ActiveState,
NextElapseUSecRealtime, ...) so that systemd's documentation applies. One bus connection is
opened lazily and reused, because sync makes a few calls per task.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pystemd.dbusexc import DBusBaseError
from pystemd.dbuslib import DBus
from pystemd.systemd1 import Manager, Unit

from smartcron.errors import OperationFailed

RUNNING_STATES = {"activating", "active", "deactivating", "reloading", "refreshing"}


def _plain(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


class Systemd:
    """Manager calls that smartcron needs; each raises OperationFailed with systemd's reason."""

    def __init__(self) -> None:
        self._bus: DBus | None = None
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
        try:
            if self._bus is None:
                bus = DBus()
                bus.open()
                self._bus = bus
                self._manager = Manager(bus=bus, _autoload=True)
            yield self._bus
        except DBusBaseError as exc:
            self.close()
            raise OperationFailed(
                f"systemd refused to {what}: {exc}. Is systemd running and are you root? "
                "(`systemctl status` shows the manager's state)"
            ) from None

    def reload(self) -> None:
        """Reload unit files (systemctl daemon-reload): one call for any number of changes."""
        with self._call("reload its unit files"):
            self._manager.Manager.Reload()

    def start(self, unit: str) -> None:
        with self._call(f"start {unit}"):
            self._manager.Manager.StartUnit(unit.encode(), b"replace")

    def stop(self, unit: str) -> None:
        with self._call(f"stop {unit}"):
            self._manager.Manager.StopUnit(unit.encode(), b"replace")

    def reset_failed(self, unit: str) -> None:
        with self._call(f"reset {unit}"):
            self._manager.Manager.ResetFailedUnit(unit.encode())

    def list_units(self, pattern: str) -> dict[str, tuple[str, str, str]]:
        """Return {name: (LoadState, ActiveState, SubState)} of loaded units matching pattern."""
        with self._call(f"list units {pattern}"):
            rows = self._manager.Manager.ListUnitsByPatterns([], [pattern.encode()])
        return {_plain(r[0]): (_plain(r[2]), _plain(r[3]), _plain(r[4])) for r in rows}

    def properties(self, unit: str, *names: str) -> dict[str, Any]:
        """Return the named Unit/Timer/Service properties of a unit ("not-found" if unknown)."""
        with self._call(f"describe {unit}") as bus:
            obj = Unit(unit.encode(), bus=bus, _autoload=True)
            out: dict[str, Any] = {}
            for name in names:
                for iface in ("Unit", "Timer", "Service"):
                    proxy = getattr(obj, iface, None)
                    if proxy is not None and name in getattr(proxy, "properties", ()):
                        out[name] = _plain(getattr(proxy, name))
                        break
            return out
