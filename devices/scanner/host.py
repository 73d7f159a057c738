"""The agent's scanners: USB input devices found through the kernel and udev, and simulated ones.

Every plugged-in USB or Bluetooth device that can type a code is put on the bus: a scanner
(kind "scanner", grabbed, its scans published) or a keyboard (kind "keyboard", left alone, no
events). The owner can turn one into the other from the status page; the hub sends
cmd/input_role {job_id, role} and the agent grabs or releases the device, announces the new
kind, and keeps the choice for the rest of the run, so a replugged device keeps its role. The
hub remembers the choice across runs and sends it again whenever the device announces another
kind.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from devices import bus
from devices.hosting import Hosting, SettingsError
from devices.link import CommandFailed, DeviceLink
from devices.scanner.classify import BUS_BLUETOOTH, Classification, Role, classify
from devices.scanner.driver import (
    EvdevScanner,
    InputSource,
    PluggedInput,
    ScannerReader,
    SimulatedScanner,
    find_inputs,
)
from devices.scanner.keymap import DecodedScan
from devices.scanner.udev import Hotplug, HotplugWatch

log = logging.getLogger(__name__)

SIM_SCANNER_ID = "sim-scanner-1"


@dataclass(frozen=True)
class ScannerSettings:
    scanners: bool = True  # find USB scanners and keyboards, grab the scanners
    simulated: tuple[str, ...] = ()  # ids of simulated scanners, typed through cmd/simulate

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> ScannerSettings:
        return cls(bool(raw.get("scanners", True)), _simulated(raw.get("simulate_scanner", False)))

    @property
    def simulate_scanner(self) -> bool:
        return bool(self.simulated)

    def device_ids(self) -> list[tuple[str, str]]:
        """(settings entry, device id) of each device these settings name."""
        return [("simulate_scanner", dev_id) for dev_id in self.simulated]


def _simulated(value: Any) -> tuple[str, ...]:
    """simulate_scanner: true (sim-scanner-1), a count (sim-scanner-1..n) or a list of ids."""
    if isinstance(value, bool):
        return (SIM_SCANNER_ID,) if value else ()
    if isinstance(value, int) and 0 <= value <= 16:
        return tuple(f"sim-scanner-{n}" for n in range(1, value + 1))
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        ids = tuple(bus.check_id(v, "simulate_scanner id") for v in value)
        if len(set(ids)) == len(ids):
            return ids
    raise SettingsError(
        f"simulate_scanner is {value!r}; give true, a count from 0 to 16, "
        'or a list of distinct ids like ["sim-till-1", "sim-till-2"]'
    )


class Inputs(Protocol):
    """Where the host finds input devices and opens them: the kernel, or a test's fixtures."""

    def plugged(self) -> list[PluggedInput]: ...
    def open(self, plugged: PluggedInput) -> InputSource: ...


class EvdevInputs:
    """This machine's input devices, from /proc/bus/input/devices; opened through evdev."""

    def plugged(self) -> list[PluggedInput]:
        return find_inputs()

    def open(self, plugged: PluggedInput) -> InputSource:
        return EvdevScanner(plugged.path)


@dataclass
class _Present:
    """A plugged-in input device, its link, and its reader while it is used as a scanner."""

    plugged: PluggedInput
    link: DeviceLink
    reader: ScannerReader | None = None


def _publish_scan(link: DeviceLink, scan: DecodedScan) -> None:
    link.publish_event("scan", bus.Scan(uuid.uuid4().hex, scan.data, scan.symbology, scan.aim))


def device_config(plugged: PluggedInput, found: Classification) -> bus.DeviceConfig:
    """The announcement of an input device in the role it has now."""
    info = plugged.info
    return bus.DeviceConfig(
        found.role,
        info.name,
        model=found.model or f"{info.vendor:04x}:{info.product:04x}",
        manufacturer=found.manufacturer,
        connection="bluetooth" if info.bus == BUS_BLUETOOTH else "usb",
        capabilities=["scan", "use_as_keyboard"] if found.role == "scanner" else ["use_as_scanner"],
    )


class ScannerHost:
    """Keeps a reader on every scanner plugged in, and marks a pulled-out device offline."""

    def __init__(
        self, settings: ScannerSettings, hosting: Hosting, inputs: Inputs | None = None
    ) -> None:
        self.settings, self.hosting = settings, hosting
        self.inputs: Inputs = inputs or EvdevInputs()
        self._lock = threading.RLock()  # the udev thread, the agent loop and commands all come here
        self._present: dict[str, _Present] = {}
        self._roles: dict[str, Role] = {}  # the owner's choices received in this run
        self._errors: dict[str, str] = {}
        self._simulated: list[ScannerReader] = []
        self._watch = HotplugWatch(self.hotplug)
        self._watching = False
        self._stopped = False

    def start(self) -> None:
        for dev_id in self.settings.simulated:
            self._start_simulated(dev_id)
        if self.settings.scanners:
            self._watching = self._watch.start()
            self.rescan()

    def supervise(self) -> None:
        """Without udev, look for plugged and pulled devices every SUPERVISE_INTERVAL_S."""
        if self.settings.scanners and not self._watching:
            self.rescan()

    def stop(self) -> None:
        self._watch.stop()
        with self._lock:
            self._stopped = True  # a command or rescan that comes later opens nothing
            for present in self._present.values():
                if present.reader is not None:
                    present.reader.stop()
            self._present.clear()
        for reader in self._simulated:
            reader.stop()

    def hotplug(self, event: Hotplug) -> None:
        """A udev event: read a new device at once; a removed one is offline at once."""
        with self._lock:
            if self._stopped:
                return
            if event.action == "add":
                self.rescan()
                return
            for dev_id, present in list(self._present.items()):
                if present.plugged.path == event.devnode:
                    self._unplugged(dev_id)

    def rescan(self) -> None:
        with self._lock:
            if self._stopped:
                return
            plugged = {p.device_id: p for p in self.inputs.plugged()}
            for dev_id, present in list(self._present.items()):
                now = plugged.get(dev_id)
                dead = present.reader is not None and not present.reader.alive
                if now is None or now.path != present.plugged.path or dead:
                    self._unplugged(dev_id)
            for dev_id, p in plugged.items():
                if dev_id not in self._present:
                    self._plugged_in(p)

    def _plugged_in(self, plugged: PluggedInput) -> None:
        found = classify(plugged.info, self._roles.get(plugged.device_id))
        if found is None:
            return
        log.info(
            "%s (%s) is a %s: %s", plugged.device_id, plugged.info.name, found.role, found.reason
        )
        link = self.hosting.links.get(plugged.device_id)
        if link is None:
            link = self.hosting.new_link(plugged.device_id, device_config(plugged, found))
            link.commands["input_role"] = partial(self._input_role, plugged.device_id)
            link.start()
        present = self._present[plugged.device_id] = _Present(plugged, link)
        self._take(present, found)  # a grab that fails is logged, and tried again on replug

    def _unplugged(self, dev_id: str) -> None:
        present = self._present.pop(dev_id)
        if present.reader is not None:
            present.reader.stop()
        present.link.set_available(False)
        log.info("%s is no longer plugged in", dev_id)

    def _take(self, present: _Present, found: Classification) -> str:
        """Use the device in its role: grab and read a scanner, release a keyboard; announce.

        Returns why a scanner could not be grabbed, or "".
        """
        link, plugged = present.link, present.plugged
        config = device_config(plugged, found)
        if config != link.config:
            link.config = config
            link.announce()
        if found.role == "keyboard":
            if present.reader is not None:
                present.reader.stop()  # closing the device ends the grab
                present.reader = None
            link.set_available(True)
            return ""
        if present.reader is None:
            reader = ScannerReader(
                self.inputs.open(plugged),
                partial(_publish_scan, link),
                partial(self._gone, link),
                name=plugged.device_id,
            )
            try:
                reader.start()
            except OSError as exc:
                link.set_available(False)
                if self._errors.get(plugged.device_id) != str(exc):
                    log.warning(
                        "cannot grab scanner %s at %s: %s; is the agent in the input group?",
                        plugged.device_id,
                        plugged.path,
                        exc,
                    )
                    self._errors[plugged.device_id] = str(exc)
                return str(exc)
            self._errors.pop(plugged.device_id, None)
            present.reader = reader
        link.set_available(True)
        return ""

    def _input_role(self, dev_id: str, payload: bytes) -> None:
        role = bus.InputRole.from_payload(payload).role
        with self._lock:
            self._roles[dev_id] = "scanner" if role == "scanner" else "keyboard"
            if self._stopped:
                raise CommandFailed(
                    "the devices agent is stopping; send the role again when it is back"
                )
            present = self._present.get(dev_id)
            if present is None:
                return  # not plugged in now: the role applies when it is
            found = classify(present.plugged.info, self._roles[dev_id])
            if found is None:
                raise CommandFailed(f"{dev_id} cannot type barcodes; it stays as it is")
            error = self._take(present, found)
            if error:
                raise CommandFailed(
                    f"cannot grab {dev_id} at {present.plugged.path} ({error}); "
                    "check that the devices agent runs in the input group"
                )
            log.info("%s is now used as a %s, as the owner chose", dev_id, role)

    @staticmethod
    def _gone(link: DeviceLink, reason: str, _partial_code: str) -> None:
        log.warning("scanner %s went offline: %s", link.dev_id, reason)
        link.set_available(False)

    def _start_simulated(self, dev_id: str) -> None:
        source = SimulatedScanner()
        link = self.hosting.new_link(
            dev_id,
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
        reader = ScannerReader(source, partial(_publish_scan, link), name=dev_id)
        reader.start()
        self._simulated.append(reader)
        link.set_available(True)
        link.start()
