"""The agent's serial scales: one SerialScale per configured port, with its commands on the bus."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import PurePosixPath
from typing import Any, NamedTuple

from devices import bus
from devices.hosting import COMMAND_TIMEOUT_S, Hosting, SettingsError, derived_id
from devices.link import CommandFailed
from devices.scale import PROTOCOLS, ScaleError, SerialScale

log = logging.getLogger(__name__)


class ScaleSpec(NamedTuple):
    id: str
    port: str
    protocol: str


def scales_from(
    raw: Sequence[Mapping[str, Any]],
    given_id: Callable[[Mapping[str, Any], str], str],
    need: Callable[[Mapping[str, Any], str, str, str], str],
) -> tuple[ScaleSpec, ...]:
    """The scales of the agent settings; a scale without an id is named after its port."""
    scales = []
    for n, s in enumerate(raw):
        entry = f"scales[{n}]"
        port = need(s, "port", entry, "/dev/ttyUSB0")
        dev_id = given_id(s, entry) or derived_id("scale", PurePosixPath(port).name)
        protocol = s.get("protocol", "mettler8217")
        if protocol not in PROTOCOLS:
            raise SettingsError(
                f"scale {dev_id} has protocol {protocol!r}; supported: {', '.join(PROTOCOLS)}"
            )
        scales.append(ScaleSpec(dev_id, port, protocol))
    return tuple(scales)


class ScaleHost:
    """Runs each configured scale's driver loop and answers zero, tare and clear_tare."""

    def __init__(self, scales: Sequence[ScaleSpec], hosting: Hosting) -> None:
        self.specs, self.hosting = tuple(scales), hosting
        self._scales: list[SerialScale] = []

    def start(self) -> None:
        for spec in self.specs:
            self._start_scale(spec)

    def supervise(self) -> None:
        """Nothing to do: each scale's loop reopens its port by itself after an unplug."""

    def stop(self) -> None:
        for scale in self._scales:
            scale.stop()

    def _start_scale(self, spec: ScaleSpec) -> None:
        link = self.hosting.new_link(
            spec.id,
            bus.DeviceConfig(
                "scale",
                f"Scale on {spec.port}",
                model=spec.protocol,
                connection=f"serial {spec.port}",
                capabilities=["weight", *PROTOCOLS[spec.protocol].commands],
            ),
        )
        scale = SerialScale(
            spec.port,
            PROTOCOLS[spec.protocol](),
            partial(link.publish_event, "weight", state=True),
            lambda online, _reason: link.set_available(online),
        )
        for name in ("tare", "zero", "clear_tare"):  # refused with a clear message where missing
            link.commands[name] = partial(_command, getattr(scale, name), name, spec.port)
        link.start()
        scale.start()
        self._scales.append(scale)


def _command(method: Callable[[], Any], name: str, port: str, _payload: bytes) -> None:
    try:
        method().result(timeout=COMMAND_TIMEOUT_S)
    except ScaleError as exc:
        raise CommandFailed(str(exc)) from exc
    except TimeoutError as exc:
        raise CommandFailed(
            f"scale on {port} did not take {name} within {COMMAND_TIMEOUT_S:g} s"
        ) from exc
