"""udev hotplug: which events matter (a pure function of action and properties), and the watch
that starts where udev runs and stands aside where it does not.

pyudev builds Device objects only from a real sysfs and udev database, so the properties below
are written out as `udevadm monitor --property --subsystem-match=input` prints them for a
scanner plugged in and pulled out (reconstructed, not captured).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from devices.scanner import udev
from devices.scanner.udev import Hotplug, HotplugWatch, hotplug_event

EVENT_NODE = {
    "DEVPATH": "/devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0/usb1/1-1/"
    "1-1.3/1-1.3:1.0/0003:0C2E:0B81.0004/input/input5/event3",
    "SUBSYSTEM": "input",
    "DEVNAME": "/dev/input/event3",
    "ID_INPUT": "1",
    "ID_INPUT_KEYBOARD": "1",
    "ID_BUS": "usb",
    "ID_VENDOR_ID": "0c2e",
    "ID_MODEL_ID": "0b81",
    "ID_SERIAL": "Honeywell_Imaging___Mobility_1400g_17086B1E45",
    "ID_SERIAL_SHORT": "17086B1E45",
    "DEVLINKS": "/dev/input/by-id/usb-Honeywell_Imaging___Mobility_1400g_17086B1E45-event-kbd",
}
PARENT = {  # the inputN device: no node to open
    "DEVPATH": EVENT_NODE["DEVPATH"].rsplit("/", 1)[0],
    "SUBSYSTEM": "input",
    "NAME": '"Honeywell Imaging & Mobility 1400g"',
    "PRODUCT": "3/c2e/b81/110",
}


@pytest.mark.parametrize(
    ("action", "properties", "expected"),
    [
        ("add", EVENT_NODE, Hotplug("add", "/dev/input/event3", "17086B1E45")),
        ("remove", EVENT_NODE, Hotplug("remove", "/dev/input/event3", "17086B1E45")),
        ("remove", {**EVENT_NODE, "ID_SERIAL_SHORT": ""}, Hotplug("remove", "/dev/input/event3")),
        ("change", EVENT_NODE, None),
        ("bind", EVENT_NODE, None),
        (None, EVENT_NODE, None),
        ("add", PARENT, None),
        ("add", {**EVENT_NODE, "DEVNAME": "/dev/input/mouse0"}, None),
        ("add", {**EVENT_NODE, "DEVNAME": "/dev/input/js0"}, None),
        ("add", {**EVENT_NODE, "SUBSYSTEM": "hidraw", "DEVNAME": "/dev/hidraw0"}, None),
    ],
)
def test_only_event_nodes_coming_and_going_matter(
    action: str | None, properties: dict[str, str], expected: Hotplug | None
) -> None:
    assert hotplug_event(action, properties) == expected


def test_without_udev_the_watch_stands_aside_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(udev, "UDEV_CONTROL", str(tmp_path / "no-udev" / "control"))
    watch = HotplugWatch(lambda event: None)
    with caplog.at_level(logging.INFO, logger="devices.scanner.udev"):
        assert watch.start() is False
    assert "polling" in caplog.text
    watch.stop()
    assert udev.udev_properties("/dev/input/event3") == {}


def test_with_udev_the_watch_runs_a_monitor_thread_until_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    control = tmp_path / "control"
    control.touch()
    monkeypatch.setattr(udev, "UDEV_CONTROL", str(control))
    watch = HotplugWatch(lambda event: None)
    assert watch.start() is True
    watch.stop()  # the leaked-thread check fails the test if the observer lives on
