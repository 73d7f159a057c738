"""Fixtures for the devices tests: a real mosquitto on a free loopback port and a bus probe."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion

WAIT_S = 10.0  # how long a test waits for something that should happen; never asserted on


def wait_until(predicate: Callable[[], object], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mosquitto_broker(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A private mosquitto (the OS binary), anonymous, persistence off; yields (host, port)."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        pytest.fail("mosquitto is not installed (apt-get install mosquitto)")
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    with open(tmp_path / "mosquitto.log", "wb") as log_file:
        proc = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=log_file, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mosquitto exited: {(tmp_path / 'mosquitto.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class BusProbe:
    """A test client that records every message under backroom/#."""

    def __init__(self, host: str, port: int, topic: str = "backroom/#") -> None:
        self.messages: list[MQTTMessage] = []
        self._cond = threading.Condition()
        subscribed = threading.Event()
        self.client = Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}")
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
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def bus_probe(mosquitto_broker: tuple[str, int]) -> Iterator[BusProbe]:
    probe = BusProbe(*mosquitto_broker)
    yield probe
    probe.close()
