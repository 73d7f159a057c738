"""The devices agent: hosts the local scanners, scales and printers and puts each on the bus.

The hub CLI calls main(settings, stop_event) with a plain mapping built from hub.config
(drivers import nothing from hub/):

    {
        "hub_id": "hub-1",
        "mqtt_host": "127.0.0.1", "mqtt_port": 1883,
        "mqtt_username": "devices", "mqtt_password": "",   # empty username: anonymous
        "scanners": True,            # find USB scanners through evdev and grab them
        "simulate_scanner": False,   # add sim-scanner-1, typed through its cmd/simulate
        "scales": [{"port": "/dev/serial/by-id/...", "protocol": "mettler8217", "id": "scale-1"}],
        "printers": [{"host": "192.0.2.10", "port": 9100, "id": "printer-1"}],
    }

A scale or printer without an id is named after what identifies it, never its place in the
list: "scale-" and its port's file name (the by-id name survives replugging), "printer-" and
its host and port.

Every device gets its own MQTT client with a last will, so the broker marks exactly the devices
of a dead agent offline (DESIGN.md, "The device bus").
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import PurePosixPath
from typing import Any

from devices import bus
from devices.link import CommandFailed, DeviceLink, MqttSettings
from devices.scale import PROTOCOLS, ScaleError, SerialScale
from devices.scanner.driver import (
    INPUT_DIR,
    EvdevScanner,
    ScannerReader,
    SimulatedScanner,
    find_scanners,
)
from devices.scanner.keymap import DecodedScan

log = logging.getLogger(__name__)

SIM_SCANNER_ID = "sim-scanner-1"
SUPERVISE_INTERVAL_S = 2.0  # look for newly plugged scanners
PRINTER_CHECK_INTERVAL_S = 30.0
COMMAND_TIMEOUT_S = 5.0


class SettingsError(ValueError):
    """Agent settings that cannot work, with the key and the fix."""


@dataclass(frozen=True)
class AgentSettings:
    hub_id: str
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    scanners: bool = True
    simulate_scanner: bool = False
    scales: tuple[tuple[str, str, str], ...] = ()  # (device id, port, protocol)
    printers: tuple[tuple[str, str, int], ...] = ()  # (device id, host, port)

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
            owners: list[tuple[str, str]] = []  # (entry, device id) to find a clash
            scales = []
            for n, s in enumerate(raw.get("scales", ())):
                entry = f"scales[{n}]"
                port = _need(s, "port", entry, "/dev/ttyUSB0")
                dev_id = _given_id(s, entry) or _derived_id("scale", PurePosixPath(port).name)
                owners.append((entry, dev_id))
                scales.append((dev_id, port, s.get("protocol", "mettler8217")))
            printers = []
            for n, p in enumerate(raw.get("printers", ())):
                entry = f"printers[{n}]"
                host, port_no = _need(p, "host", entry, "192.0.2.10"), int(p.get("port", 9100))
                dev_id = _given_id(p, entry) or _derived_id("printer", f"{host}-{port_no}")
                owners.append((entry, dev_id))
                printers.append((dev_id, host, port_no))
        except (AttributeError, TypeError, ValueError) as exc:  # BusError is a ValueError
            raise SettingsError(f"devices agent settings are not usable: {exc}") from exc
        simulated = bool(raw.get("simulate_scanner", False))
        if simulated:
            owners.insert(0, ("simulate_scanner", SIM_SCANNER_ID))
        _check_unique(owners)
        for dev_id, _, protocol in scales:
            if protocol not in PROTOCOLS:
                raise SettingsError(
                    f"scale {dev_id} has protocol {protocol!r}; supported: {', '.join(PROTOCOLS)}"
                )
        return cls(
            hub_id,
            mqtt,
            bool(raw.get("scanners", True)),
            simulated,
            tuple(scales),
            tuple(printers),
        )


def _need(entry: Mapping[str, Any], key: str, where: str, example: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise SettingsError(f'{where} has no {key}; give one, like {key} = "{example}"')
    return value


def _given_id(entry: Mapping[str, Any], where: str) -> str:
    given = entry.get("id")
    return bus.check_id(given, f"{where}.id") if given else ""


_NOT_IN_ID = re.compile(r"[^A-Za-z0-9._:-]+")


def _derived_id(kind: str, identity: str) -> str:
    """A device id from what identifies the device, in the characters bus.check_id takes."""
    return f"{kind}-{_NOT_IN_ID.sub('-', identity).strip('-')}"[:128]


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
        "printers",
    ]
)


def _publish_scan(link: DeviceLink, scan: DecodedScan) -> None:
    link.publish_event("scan", bus.Scan(uuid.uuid4().hex, scan.data, scan.symbology, scan.aim))


class Agent:
    """All devices of this agent: their drivers and their links to the bus."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self._closing = threading.Event()
        self._workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="agent-job")
        self._links: dict[str, DeviceLink] = {}
        self._readers: dict[str, ScannerReader] = {}
        self._scales: list[Any] = []
        self._printers: list[tuple[DeviceLink, Any, threading.Lock]] = []
        self._printers_checked = float("-inf")
        self._input_names: frozenset[str] | None = None
        self._scanner_errors: dict[str, str] = {}

    def _new_link(self, dev_id: str, config: bus.DeviceConfig) -> DeviceLink:
        link = DeviceLink(
            self.settings.hub_id, dev_id, config, self.settings.mqtt, self._workers, self._closing
        )
        self._links[dev_id] = link
        return link

    def start(self) -> None:
        if self.settings.simulate_scanner:
            self._start_simulated_scanner()
        for dev_id, port, protocol in self.settings.scales:
            self._start_scale(dev_id, port, protocol)
        for dev_id, host, port in self.settings.printers:
            self._start_printer(dev_id, host, port)

    def supervise(self) -> None:
        """Periodic work: pick up scanners plugged in since last time, check printers."""
        if self.settings.scanners:
            self._rescan_scanners()
        if self._printers and time.monotonic() - self._printers_checked >= PRINTER_CHECK_INTERVAL_S:
            self._printers_checked = time.monotonic()
            for link, printer, lock in self._printers:
                with lock:
                    link.set_available(printer.is_online())

    def stop(self) -> None:
        self._closing.set()
        for reader in self._readers.values():
            reader.stop()
        for scale in self._scales:
            scale.stop()
        self._workers.shutdown(wait=True, cancel_futures=True)
        for link in self._links.values():
            link.stop()

    def _start_simulated_scanner(self) -> None:
        source = SimulatedScanner()
        link = self._new_link(
            SIM_SCANNER_ID,
            bus.DeviceConfig(
                "scanner",
                "Simulated scanner",
                model="simulator",
                manufacturer="Backroom",
                connection="simulated",
                capabilities=["scan", "simulate"],
            ),
        )

        def simulate(payload: bytes) -> None:
            data = json.loads(payload).get("data")
            if not isinstance(data, str) or not data:
                raise CommandFailed("simulate needs a non-empty string 'data' to type")
            source.type_text(data)  # ValueError names a character a scanner cannot type

        link.commands["simulate"] = simulate
        reader = ScannerReader(source, partial(_publish_scan, link), name=SIM_SCANNER_ID)
        reader.start()
        self._readers[SIM_SCANNER_ID] = reader
        link.set_available(True)
        link.start()

    def _rescan_scanners(self) -> None:
        try:
            names = frozenset(os.listdir(INPUT_DIR))
        except OSError:
            names = frozenset()
        dead = [dev_id for dev_id, reader in self._readers.items() if not reader.alive]
        if names == self._input_names and not dead:
            return
        self._input_names = names
        for dev_id in dead:
            self._readers.pop(dev_id).stop()
        for info in find_scanners():
            if info.device_id in self._readers:
                continue
            link = self._links.get(info.device_id)
            if link is None:
                link = self._new_link(
                    info.device_id,
                    bus.DeviceConfig(
                        "scanner",
                        info.name,
                        model=f"{info.vendor:04x}:{info.product:04x}",
                        manufacturer=info.manufacturer,
                        connection="usb",
                        capabilities=["scan"],
                    ),
                )
                link.start()
            reader = ScannerReader(
                EvdevScanner(info.path),
                partial(_publish_scan, link),
                partial(self._scanner_gone, link),
                name=info.device_id,
            )
            try:
                reader.start()
            except OSError as exc:
                if self._scanner_errors.get(info.device_id) != str(exc):
                    log.warning(
                        "cannot grab scanner %s at %s: %s; is the agent in the input group?",
                        info.device_id,
                        info.path,
                        exc,
                    )
                    self._scanner_errors[info.device_id] = str(exc)
                continue
            self._scanner_errors.pop(info.device_id, None)
            log.info("scanner %s (%s) is online", info.device_id, info.name)
            self._readers[info.device_id] = reader
            link.set_available(True)

    def _scanner_gone(self, link: DeviceLink, reason: str, _partial_code: str) -> None:
        log.warning("scanner %s went offline: %s", link.dev_id, reason)
        link.set_available(False)

    def _start_scale(self, dev_id: str, port: str, protocol: str) -> None:
        link = self._new_link(
            dev_id,
            bus.DeviceConfig(
                "scale",
                f"Scale on {port}",
                model=protocol,
                connection=f"serial {port}",
                capabilities=["weight", *PROTOCOLS[protocol].commands],
            ),
        )
        scale = SerialScale(
            port,
            PROTOCOLS[protocol](),
            partial(link.publish_event, "weight", state=True),
            lambda online, _reason: link.set_available(online),
        )
        for name in ("tare", "zero", "clear_tare"):  # refused with a clear message where missing
            link.commands[name] = partial(self._scale_command, getattr(scale, name), name, port)
        link.start()
        scale.start()
        self._scales.append(scale)

    @staticmethod
    def _scale_command(method: Callable[[], Any], name: str, port: str, _payload: bytes) -> None:
        try:
            method().result(timeout=COMMAND_TIMEOUT_S)
        except ScaleError as exc:
            raise CommandFailed(str(exc)) from exc
        except TimeoutError as exc:
            raise CommandFailed(
                f"scale on {port} did not take {name} within {COMMAND_TIMEOUT_S:g} s"
            ) from exc

    def _start_printer(self, dev_id: str, host: str, port: int) -> None:
        try:  # imported here so the agent runs (and its tests pass) without the printer stack
            from devices.printer.driver import NetworkReceiptPrinter, PrinterError
        except ImportError as exc:
            log.error("receipt printer %s at %s:%d cannot be hosted: %s", dev_id, host, port, exc)
            return
        try:
            printer, lock = NetworkReceiptPrinter(host, port), threading.Lock()
        except ValueError as exc:
            log.error("receipt printer %s is not configured right: %s", dev_id, exc)
            return
        link = self._new_link(
            dev_id,
            bus.DeviceConfig(
                "receipt_printer",
                f"Receipt printer at {host}",
                connection=f"tcp {host}:{port}",
                capabilities=["print"],
            ),
        )

        def print_receipt(payload: bytes) -> None:
            job = bus.PrintReceipt.from_payload(payload)  # BusError is a ValueError: job fails
            with lock:
                try:
                    printer.print_receipt(job)
                except PrinterError as exc:
                    raise CommandFailed(str(exc)) from exc

        link.commands["print"] = print_receipt
        self._printers.append((link, printer, lock))
        link.start()


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
