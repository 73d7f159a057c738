"""What the serial scale tests share: an event collector and the simulator and driver fixtures'
bodies (the conftest's fast_driver_timing fixture shrinks the loop's timing)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TypeVar

from devices.bus import Weight
from devices.scale.protocol import ScaleProtocol
from devices.scale.pty_simulator import PtyScale
from devices.scale.serial_scale import SerialScale
from tests.helpers import wait_until

Simulator = TypeVar("Simulator", bound=PtyScale)


class Events:
    """What a SerialScale reported."""

    def __init__(self) -> None:
        self.weights: list[Weight] = []
        self.online: list[bool] = []
        self._lock = threading.Lock()

    def on_weight(self, weight: Weight) -> None:
        with self._lock:
            self.weights.append(weight)

    def on_online(self, online: bool, _reason: str) -> None:
        self.online.append(online)

    def last(self) -> Weight | None:
        with self._lock:
            return self.weights[-1] if self.weights else None

    def wait_weight(self, **fields: object) -> Weight:
        """Wait until the last weight has these fields, and return it."""

        def matches() -> Weight | None:
            last = self.last()
            if last is not None and all(getattr(last, k) == v for k, v in fields.items()):
                return last
            return None

        return wait_until(matches, f"a weight with {fields} (got {self.weights[-3:]})")


def running(simulator: Simulator) -> Iterator[Simulator]:
    """A simulator fixture's body: start it, yield it, stop it."""
    simulator.start()
    yield simulator
    simulator.stop()


def driving(
    simulator: PtyScale, protocol: ScaleProtocol, wait_online: bool = False
) -> Iterator[tuple[SerialScale, Events]]:
    """A driver fixture's body: the serial loop on the simulator's link, with its events."""
    events = Events()
    scale = SerialScale(str(simulator.link), protocol, events.on_weight, events.on_online)
    scale.start()
    try:
        if wait_online:
            wait_until(lambda: scale.online, "the scale to come online")
        yield scale, events
    finally:
        scale.stop()
