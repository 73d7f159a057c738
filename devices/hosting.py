"""What every device host of the agent shares: the way to put a device on the bus.

A host (devices/scanner/host.py, devices/scale/host.py, devices/printer/host.py) owns the
drivers of one kind of device. The agent gives each the same Hosting: it makes a device's
link (its own MQTT client with a last will), lends the worker pool commands run in, and says
when the agent is closing.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from devices import bus
from devices.link import DeviceLink, MqttSettings

COMMAND_TIMEOUT_S = 5.0

_NOT_IN_ID = re.compile(r"[^A-Za-z0-9._:-]+")


class SettingsError(ValueError):
    """Agent settings that cannot work, with the key and the fix."""


def derived_id(kind: str, identity: str) -> str:
    """A device id from what identifies the device, in the characters bus.check_id takes."""
    return f"{kind}-{_NOT_IN_ID.sub('-', identity).strip('-')}"[:128]


class DeviceHost(Protocol):
    """The drivers of one kind of device, as the agent runs them."""

    def start(self) -> None: ...
    def supervise(self) -> None: ...
    def stop(self) -> None: ...


class Hosting:
    """Links to the bus for the devices of one agent; stopped together at the end."""

    def __init__(self, hub_id: str, mqtt: MqttSettings, workers: int = 4) -> None:
        self.hub_id, self.mqtt = hub_id, mqtt
        self.closing = threading.Event()
        self.workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agent-job")
        self.links: dict[str, DeviceLink] = {}

    def new_link(self, dev_id: str, config: bus.DeviceConfig) -> DeviceLink:
        link = DeviceLink(self.hub_id, dev_id, config, self.mqtt, self.workers, self.closing)
        self.links[dev_id] = link
        return link

    def close(self) -> None:
        """Cancel waiting commands, finish running ones, then mark every device offline."""
        self.closing.set()
        self.workers.shutdown(wait=True, cancel_futures=True)
        for link in self.links.values():
            link.stop()
