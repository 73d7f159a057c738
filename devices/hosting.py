"""What every device host of the agent shares: the way to put a device on the bus.

A host (devices/scanner/host.py, devices/scale/host.py, devices/printer/host.py) owns the
drivers of one kind of device. The agent gives each the same Hosting: it makes a device's
link (its own MQTT client with a last will), lends the worker pool commands run in, and says
when the agent is closing.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion

from devices import bus
from devices.link import DeviceLink, MqttSettings, close_client

log = logging.getLogger(__name__)

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
        self._watches: dict[str, list[Callable[[bytes], None]]] = {}
        self._watcher: Client | None = None

    def new_link(self, dev_id: str, config: bus.DeviceConfig) -> DeviceLink:
        link = DeviceLink(self.hub_id, dev_id, config, self.mqtt, self.workers, self.closing)
        self.links[dev_id] = link
        return link

    def watch(self, topic: str, on_message: Callable[[bytes], None]) -> None:
        """Call on_message (in the worker pool) with each payload on a hub topic, retained ones too.

        One client of the agent's own serves every watch; call before start_watching().
        """
        self._watches.setdefault(topic, []).append(on_message)

    def start_watching(self) -> None:
        if not self._watches or self._watcher is not None:
            return
        client = Client(
            CallbackAPIVersion.VERSION2, client_id=f"backroom-{self.hub_id}-agent-watch"
        )
        if self.mqtt.username:
            client.username_pw_set(self.mqtt.username, self.mqtt.password or None)
        client.reconnect_delay_set(1, 30)
        client.on_connect = self._on_watch_connect
        client.on_message = self._on_watched
        client.on_socket_open = bus.no_delay
        self._watcher = client
        client.connect_async(self.mqtt.host, self.mqtt.port, self.mqtt.keepalive)
        client.loop_start()

    def _on_watch_connect(self, client: Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            client.subscribe([(topic, 1) for topic in self._watches])

    def _on_watched(self, _client: Client, _userdata: Any, msg: MQTTMessage) -> None:
        for callback in self._watches.get(msg.topic, ()):
            try:
                self.workers.submit(callback, msg.payload)
            except RuntimeError:  # the pool is shut down: the agent is stopping
                return

    def close(self) -> None:
        """Cancel waiting commands, finish running ones, then mark every device offline."""
        self.closing.set()
        if self._watcher is not None:
            close_client(self._watcher)
            self._watcher = None
        self.workers.shutdown(wait=True, cancel_futures=True)
        for link in self.links.values():
            link.stop()
