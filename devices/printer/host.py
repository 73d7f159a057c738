"""The agent's receipt printers: network ESC/POS printers on port 9100, checked now and then."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from devices import bus
from devices.hosting import Hosting, derived_id
from devices.link import CommandFailed, DeviceLink

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 30.0


class PrinterSpec(NamedTuple):
    id: str
    host: str
    port: int


def printers_from(
    raw: Sequence[Mapping[str, Any]],
    given_id: Callable[[Mapping[str, Any], str], str],
    need: Callable[[Mapping[str, Any], str, str, str], str],
) -> tuple[PrinterSpec, ...]:
    """The printers of the agent settings; one without an id is named after host and port."""
    printers = []
    for n, p in enumerate(raw):
        entry = f"printers[{n}]"
        host, port_no = need(p, "host", entry, "192.0.2.10"), int(p.get("port", 9100))
        dev_id = given_id(p, entry) or derived_id("printer", f"{host}-{port_no}")
        printers.append(PrinterSpec(dev_id, host, port_no))
    return tuple(printers)


class PrinterHost:
    """Prints receipt jobs from the bus and keeps each printer's availability current."""

    def __init__(self, printers: Sequence[PrinterSpec], hosting: Hosting) -> None:
        self.specs, self.hosting = tuple(printers), hosting
        self._printers: list[tuple[DeviceLink, Any, threading.Lock]] = []
        self._checked = float("-inf")

    def start(self) -> None:
        for spec in self.specs:
            self._start_printer(spec)

    def supervise(self) -> None:
        if self._printers and time.monotonic() - self._checked >= CHECK_INTERVAL_S:
            self._checked = time.monotonic()
            for link, printer, lock in self._printers:
                with lock:
                    link.set_available(printer.is_online())

    def stop(self) -> None:
        """Nothing of its own to stop: jobs run in the agent's pool, which the agent drains."""

    def _start_printer(self, spec: PrinterSpec) -> None:
        try:  # imported here so the agent runs (and its tests pass) without the printer stack
            from devices.printer.driver import NetworkReceiptPrinter, PrinterError
        except ImportError as exc:
            log.error(
                "receipt printer %s at %s:%d cannot be hosted: %s",
                spec.id,
                spec.host,
                spec.port,
                exc,
            )
            return
        try:
            printer, lock = NetworkReceiptPrinter(spec.host, spec.port), threading.Lock()
        except ValueError as exc:
            log.error("receipt printer %s is not configured right: %s", spec.id, exc)
            return
        link = self.hosting.new_link(
            spec.id,
            bus.DeviceConfig(
                "receipt_printer",
                f"Receipt printer at {spec.host}",
                connection=f"tcp {spec.host}:{spec.port}",
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
