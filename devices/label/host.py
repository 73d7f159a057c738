"""The agent's label printers: from the agent settings and from the hub's printer list.

Settings (devices.label_printers), one entry per printer:
    {"host": "192.0.2.20", "port": 9100, "language": "zpl", "width_mm": 50, "height_mm": 30, "dpi": 203}
    {"path": "/dev/usb/lp0", "profile": "brother-ql-800"}   # a profile in firmware_configs/printers
A network printer the owner adds on the hub (kind label_printer) is hosted too. Each printer
takes print_label and test_page, and publishes its state event "status" (bus.PrinterStatus).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from devices import bus
from devices.hosting import Hosting, SettingsError, derived_id
from devices.label.connection import connection_for
from devices.label.driver import LabelMedia, LabelPrinter, LabelPrinterError
from devices.link import CommandFailed, DeviceLink

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 30.0
CONTINUOUS_HEIGHT_MM = 30  # a label on a continuous roll, unless the settings say otherwise
DEFAULT_DPI = {"brother_ql": 300}


class LabelPrinterSpec(NamedTuple):
    id: str
    where: str  # host name or address, or a device file path
    port: int
    language: str
    media: LabelMedia
    model: str = ""


def _from_profile(name: str, entry: str) -> dict[str, Any]:
    from devices.printer.profiles import ProfileError, profile

    try:
        p = profile(name)
    except ProfileError as exc:
        raise SettingsError(f"{entry}.profile: {exc}") from exc
    if p.kind != "label_printer":
        raise SettingsError(f"{entry}.profile {name!r} is a {p.kind}; use a label printer profile")
    return {
        "language": p.language,
        "dpi": p.dpi,
        "width_mm": p.label_width_mm,
        "height_mm": p.label_height_mm or CONTINUOUS_HEIGHT_MM,
        "model": p.options.get("model", ""),
        "label": p.options.get("label", ""),
        "model_name": p.model,
    }


def label_printers_from(
    raw: Sequence[Mapping[str, Any]],
    given_id: Callable[[Mapping[str, Any], str], str],
    need: Callable[[Mapping[str, Any], str, str, str], str],
) -> tuple[LabelPrinterSpec, ...]:
    """The label printers of the agent settings; one without an id is named after where it is."""
    out = []
    for n, p in enumerate(raw):
        entry = f"label_printers[{n}]"
        values = {**(_from_profile(str(p["profile"]), entry) if p.get("profile") else {}), **p}
        where = (
            str(values["path"]) if values.get("path") else need(values, "host", entry, "192.0.2.20")
        )
        language = values.get("language", "zpl")
        if language not in bus.LABEL_LANGUAGES:
            raise SettingsError(
                f"{entry}.language {language!r} is unknown; use one of {', '.join(bus.LABEL_LANGUAGES)}"
            )
        media = LabelMedia(
            int(values.get("width_mm", 50)),
            int(values.get("height_mm", CONTINUOUS_HEIGHT_MM)),
            int(values.get("dpi", DEFAULT_DPI.get(language, 203))),
            str(values.get("model", "")),
            str(values.get("label", "")),
        )
        if min(media.width_mm, media.height_mm, media.dpi) <= 0:
            raise SettingsError(f"{entry}: width_mm, height_mm and dpi must be above 0")
        if language == "brother_ql" and not (media.model and media.label):
            raise SettingsError(
                f'{entry}: a brother_ql printer needs model and label, like model = "QL-800", '
                'label = "62" (or profile = "brother-ql-800")'
            )
        port = int(values.get("port", 9100))
        dev_id = given_id(p, entry) or derived_id(
            "label", where if where.startswith("/") else f"{where}-{port}"
        )
        out.append(
            LabelPrinterSpec(
                dev_id, where, port, language, media, str(values.get("model_name", ""))
            )
        )
    return tuple(out)


class LabelPrinterHost:
    """Prints label jobs from the bus and keeps each printer's availability and status current."""

    def __init__(self, printers: Sequence[LabelPrinterSpec], hosting: Hosting) -> None:
        self.specs, self.hosting = tuple(printers), hosting
        self._printers: dict[str, tuple[DeviceLink, LabelPrinter, threading.Lock]] = {}
        self._from_hub: dict[str, LabelPrinterSpec] = {}
        self._hub_lock = threading.Lock()
        self._lock = threading.Lock()
        self._checked = float("-inf")
        hosting.watch(bus.hub_printers_topic(hosting.hub_id), self._on_hub_printers)

    def start(self) -> None:
        for spec in self.specs:
            self._start_printer(spec)

    def supervise(self) -> None:
        if time.monotonic() - self._checked < CHECK_INTERVAL_S:
            return
        self._checked = time.monotonic()
        with self._lock:
            printers = list(self._printers.values())
        for link, printer, lock in printers:
            with lock:
                self._publish_status(link, printer)

    def stop(self) -> None:
        """Nothing of its own to stop: jobs run in the agent's pool, which the agent drains."""

    def _on_hub_printers(self, payload: bytes) -> None:
        """Host the label printers the hub lists; one that changed is hosted anew, one gone stops."""
        try:
            listed = bus.HubPrinters.from_payload(payload).printers
        except bus.BusError as exc:
            log.warning("ignored the hub's printer list: %s", exc)
            return
        with self._hub_lock:  # the pool may run two list updates at once: one at a time
            self._host_listed(listed)

    def _host_listed(self, listed: list[bus.NetworkPrinter]) -> None:
        wanted: dict[str, LabelPrinterSpec] = {}
        for p in listed:
            if p.kind != "label_printer":
                continue
            if p.language == "brother_ql":
                log.warning(
                    "label printer %s is a Brother QL on the network; add it to the agent "
                    "settings with its model and label roll to host it",
                    p.id,
                )
                continue
            spec = LabelPrinterSpec(str(p.id), p.host, p.port, p.language, LabelMedia(), p.name)
            wanted[spec.id] = spec
        for dev_id, old in list(self._from_hub.items()):
            if wanted.get(dev_id) != old:
                self._drop(dev_id)
        for dev_id, spec in wanted.items():
            with self._lock:
                hosted = dev_id in self._printers
            if not hosted:
                self._from_hub[dev_id] = spec
                self._start_printer(spec)

    def _drop(self, dev_id: str) -> None:
        self._from_hub.pop(dev_id, None)
        with self._lock:
            hosted = self._printers.pop(dev_id, None)
        self.hosting.links.pop(dev_id, None)
        if hosted is not None:
            hosted[0].stop()

    def _start_printer(self, spec: LabelPrinterSpec) -> None:
        try:
            printer = LabelPrinter(connection_for(spec.where, spec.port), spec.language, spec.media)
        except ValueError as exc:
            log.error("label printer %s is not configured right: %s", spec.id, exc)
            return
        media, lock = spec.media, threading.Lock()
        link = self.hosting.new_link(
            spec.id,
            bus.DeviceConfig(
                "label_printer",
                spec.model or f"Label printer at {spec.where}",
                model=spec.model or spec.media.model,
                connection=printer.connection.description,
                capabilities=[
                    "print_label",
                    "test_page",
                    f"language:{spec.language}",
                    f"size:{media.width_mm}x{media.height_mm}",
                    f"dpi:{media.dpi}",
                ],
            ),
        )

        def run(job: Callable[[], None]) -> None:
            with lock:
                try:
                    job()
                except LabelPrinterError as exc:
                    raise CommandFailed(str(exc)) from exc
                finally:
                    self._publish_status(link, printer)

        def print_label(payload: bytes) -> None:
            job = bus.PrintLabel.from_payload(payload)  # BusError is a ValueError: the job fails
            run(lambda: printer.print_label(job))

        link.commands["print_label"] = print_label
        link.commands["test_page"] = lambda _payload: run(lambda: printer.print_test_page(spec.id))
        with self._lock:
            self._printers[spec.id] = (link, printer, lock)
        link.start()
        self.hosting.workers.submit(self._first_status, link, printer, lock)

    def _first_status(self, link: DeviceLink, printer: LabelPrinter, lock: threading.Lock) -> None:
        with lock:
            self._publish_status(link, printer)

    @staticmethod
    def _publish_status(link: DeviceLink, printer: LabelPrinter) -> None:
        now = printer.status()
        link.set_available(now.online)
        link.publish_event("status", now, state=True)
