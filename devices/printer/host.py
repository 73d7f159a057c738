"""The agent's receipt printers: from the settings (network, serial, usblp or libusb) and the
network printers the owner adds on the hub, each checked now and then and put on the bus with
the commands print, drawer and test_page and the state event status.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from devices import bus
from devices.hosting import Hosting, SettingsError, derived_id
from devices.link import CommandFailed, DeviceLink
from devices.printer.driver import ReceiptPrinter
from devices.printer.transports import (
    LibusbTransport,
    NetworkTransport,
    PrinterError,
    SerialTransport,
    Transport,
    UsblpTransport,
    parse_usb_id,
)

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 30.0  # status poll per printer: one connection and three 3-byte queries
PRINTED_REMEMBERED = 500  # jobs per printer known to have printed, so a resend never prints twice
CAPABILITIES = ["print", "drawer", "test_page", "status"]
_CONNECTIONS = ("host", "serial", "device", "usb")


@dataclass(frozen=True)
class PrinterSpec:
    """One receipt printer to host: its device id, how to reach it, and its model's layout."""

    id: str
    transport: Transport
    name: str = ""
    model: str = ""
    manufacturer: str = ""
    width: int = 42
    drawer_pin: int = 2
    status_queries: bool = True


def printers_from(
    raw: Sequence[Mapping[str, Any]],
    given_id: Callable[[Mapping[str, Any], str], str],
    need: Callable[[Mapping[str, Any], str, str, str], str],
) -> tuple[PrinterSpec, ...]:
    """The printers of the agent settings; one without an id is named after its connection."""
    printers = []
    for n, p in enumerate(raw):
        entry = f"printers[{n}]"
        if not isinstance(p, Mapping):
            raise SettingsError(f"devices agent settings are not usable: {entry} must be a table")
        transport, identity = _transport(p, entry, need)
        options = _profile_options(p.get("profile"), entry)
        name = str(p.get("name", ""))
        printers.append(
            PrinterSpec(
                given_id(p, entry) or derived_id("printer", identity), transport, name, **options
            )
        )
    return tuple(printers)


def _transport(
    p: Mapping[str, Any], entry: str, need: Callable[[Mapping[str, Any], str, str, str], str]
) -> tuple[Transport, str]:
    given = [key for key in _CONNECTIONS if key in p]
    if len(given) != 1:
        raise SettingsError(
            f"{entry} needs exactly one of host (network), serial, device (/dev/usb/lp0) or usb "
            f'(vendor:product), got {given or "none"}; e.g. host = "192.0.2.10"'
        )
    if given == ["host"]:
        host, port = need(p, "host", entry, "192.0.2.10"), int(p.get("port", 9100))
        return NetworkTransport(host, port), f"{host}-{port}"
    if given == ["serial"]:
        port_path = need(p, "serial", entry, "/dev/ttyUSB1")
        serial = SerialTransport(
            port_path, int(p.get("baudrate", 19200)), rtscts=bool(p.get("rtscts", False))
        )
        return serial, PurePosixPath(port_path).name
    if given == ["device"]:
        device = need(p, "device", entry, "/dev/usb/lp0")
        return UsblpTransport(device), PurePosixPath(device).name
    vendor, product = parse_usb_id(need(p, "usb", entry, "04b8:0e28"))
    serial_number = str(p.get("serial_number", ""))
    identity = f"usb-{vendor:04x}-{product:04x}" + (f"-{serial_number}" if serial_number else "")
    return LibusbTransport(vendor, product, serial_number), identity


def _profile_options(name: Any, entry: str) -> dict[str, Any]:
    if not name:
        return {}
    from devices.printer.profiles import profile  # reads YAML: only when a profile is named

    if not isinstance(name, str):
        raise SettingsError(
            f'{entry} profile must be a profile name, like profile = "epson-tm-t20iii"'
        )
    p = profile(name)  # ProfileError (a ValueError) lists the known names
    if p.kind != "receipt_printer":
        raise SettingsError(f"{entry} profile {name!r} is a {p.kind}, not a receipt printer")
    return {
        "model": p.model,
        "manufacturer": p.manufacturer,
        "width": p.columns or 42,
        "drawer_pin": p.drawer_pin or 2,
        "status_queries": p.status_queries,
    }


class _Hosted:
    """A printer being hosted: its driver, its link, and what it last said about itself."""

    def __init__(self, spec: PrinterSpec, link: DeviceLink, printer: ReceiptPrinter) -> None:
        self.spec, self.link, self.printer = spec, link, printer
        self.lock = threading.Lock()  # one job or status query at a time per printer
        self.status: bus.PrinterStatus | None = None
        self.printed: OrderedDict[str, None] = OrderedDict()
        self.checking = False


class PrinterHost:
    """Prints jobs from the bus and keeps each printer's availability and status current."""

    def __init__(self, printers: Sequence[PrinterSpec], hosting: Hosting) -> None:
        self.specs, self.hosting = tuple(printers), hosting
        self._hosted: dict[str, _Hosted] = {}
        self._from_hub: set[str] = set()
        self._lock = threading.Lock()
        self._checked = float("-inf")
        hosting.watch(bus.hub_printers_topic(hosting.hub_id), self._on_hub_printers)

    def start(self) -> None:
        for spec in self.specs:
            self._add(spec)

    def supervise(self) -> None:
        if time.monotonic() - self._checked < CHECK_INTERVAL_S:
            return
        self._checked = time.monotonic()
        with self._lock:
            hosted = [h for h in self._hosted.values() if not h.checking]
            for h in hosted:
                h.checking = True
        for h in hosted:  # in the pool: an unreachable printer takes its connect timeout
            try:
                self.hosting.workers.submit(self._check, h)
            except RuntimeError:  # the pool is shut down: the agent is stopping
                return

    def stop(self) -> None:
        """Nothing of its own to stop: jobs run in the agent's pool, which the agent drains."""

    # -- printers coming and going ---------------------------------------------------------

    def _add(self, spec: PrinterSpec) -> None:
        printer = ReceiptPrinter(
            spec.transport,
            width=spec.width,
            drawer_pin=spec.drawer_pin,
            status_queries=spec.status_queries,
        )
        link = self.hosting.new_link(
            spec.id,
            bus.DeviceConfig(
                "receipt_printer",
                spec.name or f"Receipt printer ({spec.transport.description})",
                model=spec.model,
                manufacturer=spec.manufacturer,
                connection=spec.transport.description,
                capabilities=list(CAPABILITIES),
            ),
        )
        h = _Hosted(spec, link, printer)
        link.commands["print"] = self._once(h, self._print)
        link.commands["drawer"] = self._once(h, self._drawer)
        link.commands["test_page"] = self._once(h, self._test_page)
        with self._lock:
            self._hosted[spec.id] = h
        link.start()
        self._checked = float("-inf")  # check the newcomer at the next supervise

    def _on_hub_printers(self, payload: bytes) -> None:
        """Host the receipt printers of the hub's retained list; drop those taken off it."""
        try:
            listed = bus.HubPrinters.from_payload(payload).printers if payload else []
        except bus.BusError as exc:
            log.warning("ignored the hub's printer list: %s", exc)
            return
        wanted = {}
        for p in listed:
            if p.kind == "receipt_printer" and p.language == "escpos":
                # the hub names it (netprinter-<row>): its id stays when the owner edits it
                wanted[p.id] = PrinterSpec(p.id, NetworkTransport(p.host, p.port), p.name)
        with self._lock:
            gone = [dev_id for dev_id in self._from_hub if dev_id not in wanted]
            new = [s for dev_id, s in wanted.items() if dev_id not in self._hosted]
            self._from_hub = (self._from_hub - set(gone)) | {s.id for s in new}
        for dev_id in gone:
            self._remove(dev_id)
        for spec in new:
            log.info("hosting receipt printer %s added on the hub", spec.id)
            self._add(spec)

    def _remove(self, dev_id: str) -> None:
        with self._lock:
            h = self._hosted.pop(dev_id, None)
        if h is None:
            return
        log.info("receipt printer %s was removed on the hub; no longer hosted", dev_id)
        with h.lock:  # let a running job finish first
            h.link.remove()
        self.hosting.links.pop(dev_id, None)

    # -- commands ----------------------------------------------------------------------------

    def _once(
        self, h: _Hosted, action: Callable[[_Hosted, bytes], None]
    ) -> Callable[[bytes], None]:
        """action, run at most once per job however often the hub sends it (bus.attempt_id)."""

        def run(payload: bytes) -> None:
            job_id, _attempt = bus.job_of_attempt(json.loads(payload)["job_id"])
            with h.lock:
                if job_id in h.printed:
                    log.info("job %s already printed on %s; not printed again", job_id, h.spec.id)
                    return
                try:
                    action(h, payload)
                except PrinterError as exc:
                    raise CommandFailed(str(exc)) from exc
                finally:
                    self._refresh(h)
                h.printed[job_id] = None
                while len(h.printed) > PRINTED_REMEMBERED:
                    h.printed.popitem(last=False)

        return run

    def _print(self, h: _Hosted, payload: bytes) -> None:
        h.printer.print_receipt(bus.PrintReceipt.from_payload(payload))  # BusError fails the job

    def _drawer(self, h: _Hosted, payload: bytes) -> None:
        pin = json.loads(payload).get("pin", h.spec.drawer_pin)
        if pin not in (2, 5) or isinstance(pin, bool):
            raise CommandFailed(f"drawer pin {pin!r} does not exist: send pin 2 or 5")
        h.printer.kick_drawer(pin)

    def _test_page(self, h: _Hosted, payload: bytes) -> None:
        h.printer.print_test_page(h.spec.id)

    # -- status ------------------------------------------------------------------------------

    def _check(self, h: _Hosted) -> None:
        try:
            with h.lock:
                self._refresh(h)
        finally:
            h.checking = False

    def _refresh(self, h: _Hosted) -> None:
        """Ask the printer how it is; publish its status if it changed, and its availability."""
        if self.hosting.closing.is_set():
            return
        current = h.printer.status()
        if current is None:
            current = bus.PrinterStatus(
                online=False, error=f"cannot be reached ({h.spec.transport.description})"
            )
        if current != h.status:
            h.status = current
            h.link.publish_event("status", current, state=True)
        h.link.set_available(current.online)
