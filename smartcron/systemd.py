"""A small client for the systemd manager over D-Bus (pystemd).

It talks to the system bus; `DBUS_SYSTEM_BUS_ADDRESS` points it at another manager, which is
how the tests drive a private systemd. Property names are systemd's own (ActiveState,
NextElapseUSecRealtime, ...) so that systemd's documentation applies.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pystemd.dbusexc import DBusBaseError
from pystemd.dbuslib import DBus
from pystemd.systemd1 import Manager, Unit

from smartcron.errors import OperationFailed


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Systemd:
    """Manager calls that smartcron needs; each raises OperationFailed with systemd's reason."""

    @contextmanager
    def _bus(self, what: str) -> Iterator[Any]:
        try:
            with DBus() as bus:
                yield bus
        except DBusBaseError as exc:
            raise OperationFailed(
                f"systemd refused to {what}: {exc}. Is systemd running and are you root? "
                "(`systemctl status` shows the manager's state)"
            ) from None

    def reload(self) -> None:
        """Reload unit files (systemctl daemon-reload): one call for any number of changes."""
        with self._bus("reload its unit files") as bus:
            Manager(bus=bus, _autoload=True).Manager.Reload()

    def start(self, unit: str) -> None:
        with self._bus(f"start {unit}") as bus:
            Manager(bus=bus, _autoload=True).Manager.StartUnit(unit.encode(), b"replace")

    def stop(self, unit: str) -> None:
        with self._bus(f"stop {unit}") as bus:
            Manager(bus=bus, _autoload=True).Manager.StopUnit(unit.encode(), b"replace")

    def reset_failed(self, unit: str) -> None:
        with self._bus(f"reset {unit}") as bus:
            Manager(bus=bus, _autoload=True).Manager.ResetFailedUnit(unit.encode())

    def properties(self, unit: str, *names: str) -> dict[str, Any]:
        """Return the named Unit/Timer/Service properties of a unit ("not-found" if unknown)."""
        with self._bus(f"describe {unit}") as bus:
            obj = Unit(unit.encode(), bus=bus, _autoload=True)
            out: dict[str, Any] = {}
            for name in names:
                for iface in ("Unit", "Timer", "Service"):
                    proxy = getattr(obj, iface, None)
                    if proxy is not None and name in getattr(proxy, "properties", ()):
                        value = getattr(proxy, name)
                        out[name] = _text(value) if isinstance(value, bytes) else value
                        break
            return out
