"""Hotplug of input devices through udev: a scanner plugged in is read at once, one pulled out
is offline at once, with no polling.

The decision is pure (hotplug_event, a function of a udev event's action and properties) so it
is tested without udev; HotplugWatch is the thin I/O around pyudev's monitor. Where udev does
not run (containers, some minimal images) the watch does not start and the scanner host falls
back to looking at /dev/input every SUPERVISE_INTERVAL_S.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger(__name__)

# udevd creates its control socket here (systemd's udev and eudev alike); without a running
# udevd a udev monitor starts fine but never hears anything.
UDEV_CONTROL = "/run/udev/control"


@dataclass(frozen=True)
class Hotplug:
    action: Literal["add", "remove"]
    devnode: str  # /dev/input/event3
    serial: str = ""  # ID_SERIAL_SHORT when udev knows it


def hotplug_event(action: str | None, properties: Mapping[str, str]) -> Hotplug | None:
    """What a udev event on the input subsystem means for scanners, or None if nothing.

    Only event nodes matter (not the parent inputN device, mice, or joysticks); "change" and
    "bind" events leave a device where it is.
    """
    devnode = properties.get("DEVNAME", "")
    name = os.path.basename(devnode)
    if action not in ("add", "remove") or not name.startswith("event"):
        return None
    if properties.get("SUBSYSTEM", "input") != "input":
        return None
    return Hotplug(
        "add" if action == "add" else "remove", devnode, properties.get("ID_SERIAL_SHORT", "")
    )


def udev_properties(devnode: str) -> Mapping[str, str]:
    """udev's properties of a device node (ID_SERIAL_SHORT, ...), or {} without udev."""
    if not os.path.exists(UDEV_CONTROL):
        return {}
    try:
        import pyudev

        device = pyudev.Devices.from_device_file(pyudev.Context(), devnode)
        return dict(device.properties)
    except (ImportError, OSError, ValueError) as exc:  # pyudev's DeviceNotFoundError is both
        log.debug("udev knows nothing of %s: %s", devnode, exc)
        return {}


class HotplugWatch:
    """Calls on_event(Hotplug) from its own thread for each input event node added or removed."""

    def __init__(self, on_event: Callable[[Hotplug], None]) -> None:
        self._on_event = on_event
        self._observer: Any = None

    def start(self) -> bool:
        """Start watching; False (and why, in the log) where udev is not available."""
        if not os.path.exists(UDEV_CONTROL):
            log.info("udev is not running (no %s); looking for scanners by polling", UDEV_CONTROL)
            return False
        try:
            import pyudev

            monitor = pyudev.Monitor.from_netlink(pyudev.Context())
            monitor.filter_by("input")
            observer = pyudev.MonitorObserver(monitor, callback=self._on_device, name="udev-input")
            observer.start()
        except (ImportError, OSError) as exc:
            log.warning("cannot watch udev for scanners (%s); looking for them by polling", exc)
            return False
        self._observer = observer
        return True

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer = None

    def _on_device(self, device: Any) -> None:
        event = hotplug_event(device.action, device.properties)
        if event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # the watch must outlive a bug in one event's handling
            log.exception("handling udev %s of %s failed", event.action, event.devnode)
