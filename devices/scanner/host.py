"""The agent's scanners: USB scanners found through evdev, and the demo's simulated one."""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from devices import bus
from devices.hosting import Hosting
from devices.link import CommandFailed, DeviceLink
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


@dataclass(frozen=True)
class ScannerSettings:
    scanners: bool = True  # find USB scanners through evdev and grab them
    simulate_scanner: bool = False  # add sim-scanner-1, typed through its cmd/simulate

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> ScannerSettings:
        return cls(bool(raw.get("scanners", True)), bool(raw.get("simulate_scanner", False)))

    def device_ids(self) -> list[tuple[str, str]]:
        """(settings entry, device id) of each device these settings name."""
        return [("simulate_scanner", SIM_SCANNER_ID)] if self.simulate_scanner else []


def _publish_scan(link: DeviceLink, scan: DecodedScan) -> None:
    link.publish_event("scan", bus.Scan(uuid.uuid4().hex, scan.data, scan.symbology, scan.aim))


class ScannerHost:
    """Keeps a reader on every scanner plugged in, and marks a pulled-out one offline."""

    def __init__(self, settings: ScannerSettings, hosting: Hosting) -> None:
        self.settings, self.hosting = settings, hosting
        self._readers: dict[str, ScannerReader] = {}
        self._input_names: frozenset[str] | None = None
        self._errors: dict[str, str] = {}

    def start(self) -> None:
        if self.settings.simulate_scanner:
            self._start_simulated()

    def supervise(self) -> None:
        if self.settings.scanners:
            self._rescan()

    def stop(self) -> None:
        for reader in self._readers.values():
            reader.stop()

    def _start_simulated(self) -> None:
        source = SimulatedScanner()
        link = self.hosting.new_link(
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

    def _rescan(self) -> None:
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
            link = self.hosting.links.get(info.device_id)
            if link is None:
                link = self.hosting.new_link(
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
                partial(self._gone, link),
                name=info.device_id,
            )
            try:
                reader.start()
            except OSError as exc:
                if self._errors.get(info.device_id) != str(exc):
                    log.warning(
                        "cannot grab scanner %s at %s: %s; is the agent in the input group?",
                        info.device_id,
                        info.path,
                        exc,
                    )
                    self._errors[info.device_id] = str(exc)
                continue
            self._errors.pop(info.device_id, None)
            log.info("scanner %s (%s) is online", info.device_id, info.name)
            self._readers[info.device_id] = reader
            link.set_available(True)

    @staticmethod
    def _gone(link: DeviceLink, reason: str, _partial_code: str) -> None:
        log.warning("scanner %s went offline: %s", link.dev_id, reason)
        link.set_available(False)
