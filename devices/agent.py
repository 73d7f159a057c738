"""The devices agent: hosts the local scanners, scales and printers and puts each on the bus.

The hub CLI calls main(settings, stop_event) with a plain mapping built from hub.config
(drivers import nothing from hub/):

    {
        "hub_id": "hub-1",
        "mqtt_host": "127.0.0.1", "mqtt_port": 1883,
        "mqtt_username": "devices", "mqtt_password": "",   # empty username: anonymous
        "scanners": True,            # find USB scanners (and keyboards) and grab the scanners
        "simulate_scanner": False,   # true: sim-scanner-1; 3: sim-scanner-1..3; or a list of ids
        "scales": [{"port": "/dev/serial/by-id/...", "protocol": "mettler8217", "id": "scale-1"}],
        "scale_autodetect": False,   # also probe the other USB serial ports for scales
        "printers": [{"host": "192.0.2.10", "port": 9100, "id": "printer-1"},
                     {"serial": "/dev/ttyUSB1", "baudrate": 19200, "rtscts": True},
                     {"device": "/dev/usb/lp0", "profile": "epson-tm-t20iii"},
                     {"usb": "04b8:0e28", "serial_number": "X5E1234"}],
    }

A scale or printer without an id is named after what identifies it, never its place in the
list: "scale-" and its port's file name (the by-id name survives replugging), "printer-" and
its host and port, its serial port's or device file's name, or its USB ids and serial number.

Each kind of device has its host (devices/<kind>/host.py), which owns its drivers; every
device gets its own MQTT client with a last will, so the broker marks exactly the devices of a
dead agent offline (DESIGN.md, "The device bus").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from devices import bus
from devices.hosting import DeviceHost, Hosting, SettingsError
from devices.label.host import LabelPrinterHost, LabelPrinterSpec, label_printers_from
from devices.link import MqttSettings
from devices.printer.host import PrinterHost, PrinterSpec, printers_from
from devices.scale.host import ScaleHost, ScaleSpec, scales_from
from devices.scanner.host import SIM_SCANNER_ID, ScannerHost, ScannerSettings

__all__ = ["SIM_SCANNER_ID", "Agent", "AgentSettings", "SettingsError", "main"]

log = logging.getLogger(__name__)

SUPERVISE_INTERVAL_S = 2.0  # look for newly plugged scanners, check printers


@dataclass(frozen=True)
class AgentSettings:
    hub_id: str
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    scanner: ScannerSettings = field(default_factory=ScannerSettings)
    scales: tuple[ScaleSpec, ...] = ()
    printers: tuple[PrinterSpec, ...] = ()
    scale_autodetect: bool = False
    label_printers: tuple[LabelPrinterSpec, ...] = ()

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> AgentSettings:
        unknown = sorted(set(raw) - _SETTINGS_KEYS)
        if unknown:
            raise SettingsError(
                f"unknown devices agent settings {unknown}; known: {sorted(_SETTINGS_KEYS)}"
            )
        try:
            hub_id = bus.check_id(raw.get("hub_id", ""), "hub_id")
            mqtt = MqttSettings(
                str(raw.get("mqtt_host", "127.0.0.1")),
                int(raw.get("mqtt_port", 1883)),
                str(raw.get("mqtt_username", "")),
                str(raw.get("mqtt_password", "")),
            )
            scanner = ScannerSettings.from_mapping(raw)
            scales = scales_from(raw.get("scales", ()), _given_id, _need)
            printers = printers_from(raw.get("printers", ()), _given_id, _need)
            labels = label_printers_from(raw.get("label_printers", ()), _given_id, _need)
        except SettingsError:
            raise
        except (AttributeError, TypeError, ValueError) as exc:  # BusError is a ValueError
            raise SettingsError(f"devices agent settings are not usable: {exc}") from exc
        _check_unique(
            [
                *scanner.device_ids(),
                *((f"scales[{n}]", s.id) for n, s in enumerate(scales)),
                *((f"printers[{n}]", p.id) for n, p in enumerate(printers)),
                *((f"label_printers[{n}]", p.id) for n, p in enumerate(labels)),
            ]
        )
        return cls(hub_id, mqtt, scanner, scales, printers, bool(raw.get("scale_autodetect")),
                   label_printers=labels)


def _need(entry: Mapping[str, Any], key: str, where: str, example: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise SettingsError(f'{where} has no {key}; give one, like {key} = "{example}"')
    return value


def _given_id(entry: Mapping[str, Any], where: str) -> str:
    given = entry.get("id")
    return bus.check_id(given, f"{where}.id") if given else ""


def _check_unique(owners: list[tuple[str, str]]) -> None:
    seen: dict[str, str] = {}
    for entry, dev_id in owners:
        if dev_id in seen:
            raise SettingsError(
                f"{seen[dev_id]} and {entry} would both be device {dev_id!r}; "
                f'give one of them its own id, like id = "{dev_id}-2"'
            )
        seen[dev_id] = entry


_SETTINGS_KEYS = frozenset(
    [
        "hub_id",
        "mqtt_host",
        "mqtt_port",
        "mqtt_username",
        "mqtt_password",
        "scanners",
        "simulate_scanner",
        "scales",
        "scale_autodetect",
        "printers",
        "label_printers",
    ]
)


class Agent:
    """All devices of this agent: one host per kind, and their links to the bus."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self.hosting = Hosting(settings.hub_id, settings.mqtt)
        self.hosts: list[DeviceHost] = [
            ScannerHost(settings.scanner, self.hosting),
            ScaleHost(settings.scales, self.hosting, settings.scale_autodetect),
            PrinterHost(settings.printers, self.hosting),
            LabelPrinterHost(settings.label_printers, self.hosting),
        ]

    def start(self) -> None:
        for host in self.hosts:
            host.start()
        self.hosting.start_watching()

    def supervise(self) -> None:
        """Periodic work of each host: newly plugged scanners, printer checks."""
        for host in self.hosts:
            host.supervise()

    def stop(self) -> None:
        self.hosting.closing.set()
        for host in self.hosts:
            host.stop()
        self.hosting.close()


def main(settings: Mapping[str, Any] | AgentSettings, stop: threading.Event) -> None:
    """Run the devices agent until stop is set; then mark every device offline."""
    if not isinstance(settings, AgentSettings):
        settings = AgentSettings.from_mapping(settings)
    agent = Agent(settings)
    agent.start()
    try:
        agent.supervise()
        while not stop.wait(SUPERVISE_INTERVAL_S):
            agent.supervise()
    finally:
        agent.stop()
