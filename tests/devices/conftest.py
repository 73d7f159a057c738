"""Fixtures for the devices tests: a real mosquitto on a free loopback port, a bus probe, and
fast timing for the serial scale loop."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion

from devices.link import close_client
from devices.scale import serial_scale
from hub.mosquitto import Broker
from tests.conftest import USERS
from tests.helpers import WAIT_S, wait_until

__all__ = ["WAIT_S", "BusProbe", "wait_until"]


@pytest.fixture
def mosquitto_broker(broker: Broker) -> tuple[str, int]:
    """The shared broker (passwords, production ACL, no anonymous clients) as (host, port)."""
    return broker.host, broker.port


class BusProbe:
    """A test client that records every message under backroom/#."""

    def __init__(self, host: str, port: int, topic: str = "backroom/#") -> None:
        self.messages: list[MQTTMessage] = []
        self._cond = threading.Condition()
        subscribed = threading.Event()
        self.client = Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}")
        self.client.username_pw_set("hub", USERS["hub"])  # the hub's user may read everything
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.connect(host, port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        if not subscribed.wait(WAIT_S):
            raise AssertionError("probe could not subscribe")

    def _on_message(self, _client: Client, _userdata: object, msg: MQTTMessage) -> None:
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def mark(self) -> int:
        """A position; wait_for(since=mark) then sees only messages after it."""
        with self._cond:
            return len(self.messages)

    def wait_for(
        self,
        topic: str,
        payload: Callable[[bytes], bool] | bytes | None = None,
        since: int = 0,
        timeout: float = WAIT_S,
    ) -> MQTTMessage:
        def match(m: MQTTMessage) -> bool:
            if m.topic != topic:
                return False
            if payload is None:
                return True
            return m.payload == payload if isinstance(payload, bytes) else bool(payload(m.payload))

        with self._cond:
            found: list[MQTTMessage] = []

            def seen() -> bool:
                found[:] = [m for m in self.messages[since:] if match(m)]
                return bool(found)

            if not self._cond.wait_for(seen, timeout):
                got = [(m.topic, m.payload) for m in self.messages[since:]]
                raise AssertionError(f"no message on {topic} matching {payload!r}; got {got}")
            return found[0]

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(WAIT_S)

    def close(self) -> None:
        close_client(self.client)


@pytest.fixture
def bus_probe(mosquitto_broker: tuple[str, int]) -> Iterator[BusProbe]:
    probe = BusProbe(*mosquitto_broker)
    yield probe
    probe.close()


@pytest.fixture
def fast_driver_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink the serial scale loop's timing."""
    monkeypatch.setattr(serial_scale, "POLL_INTERVAL_S", 0.02)
    monkeypatch.setattr(serial_scale, "REPLY_TIMEOUT_S", 0.2)
    monkeypatch.setattr(serial_scale, "RETRY_INTERVAL_S", 0.05)
    monkeypatch.setattr(serial_scale, "MIN_PUBLISH_INTERVAL_S", 0.01)
