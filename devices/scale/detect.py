"""Finding serial scales without a config: list the serial ports, keep the USB-serial adapters
and scales we know, and try every protocol's handshake on each (devices/probe.py).

Ports are probed in parallel, the protocols of one port in sequence (a port can speak only one
at a time). A scale found this way is named like a pinned one: after its /dev/serial/by-id link
(the adapter's serial number is in it), else its /dev/serial/by-path link (the USB socket it is
plugged into: adapters without a serial number all share one by-id name), else its USB serial
number; never after ttyUSB0, which another device may get after the next replug.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from serial.tools import list_ports

from devices import probe
from devices.hosting import derived_id
from devices.scale import PROTOCOLS
from devices.scale.protocol import ScaleError, ScaleProtocol

log = logging.getLogger(__name__)

# USB vendors whose serial ports may have a scale behind them. The first four are the
# USB-serial adapters of systemd/99-backroom.rules; the last two are scale makers whose own
# USB ids the USB ID repository lists (usb.ids 2025.07.26). Names as usb.ids gives them.
KNOWN_VENDORS: Mapping[int, str] = {
    0x0403: "Future Technology Devices International (FTDI)",
    0x067B: "Prolific Technology",
    0x1A86: "QinHeng Electronics (CH340)",
    0x10C4: "Silicon Labs (CP210x)",
    0x0EB8: "Mettler Toledo",
    0x0F0C: "CAS Corp.",
}
LINK_DIRS: Sequence[Path] = (Path("/dev/serial/by-id"), Path("/dev/serial/by-path"))
MAX_PARALLEL_PORTS = 8


class PortInfo(Protocol):
    """What we read of pyserial's ListPortInfo (serial.tools.list_ports.comports())."""

    device: str
    vid: int | None
    pid: int | None
    serial_number: str | None


Lister = Callable[[], Iterable[PortInfo]]
LISTER: Lister = list_ports.comports  # module level, like LINK_DIRS, so tests can give their own


@dataclass(frozen=True)
class Candidate:
    """A serial port that may have a scale: node changes on replug, path and dev_id do not."""

    node: str  # the kernel's name, /dev/ttyUSB0
    path: str  # what a driver opens: the by-id or by-path link when there is one
    dev_id: str
    usb: str  # "0403:6001 Future Technology Devices International (FTDI)"


@dataclass(frozen=True)
class Found:
    """What answered on a candidate port: the protocol (None: nothing) and every result tried."""

    candidate: Candidate
    protocol: str | None
    tried: tuple[dict[str, Any], ...]


def list_candidates(
    lister: Lister | None = None, link_dirs: Sequence[Path] | None = None
) -> list[Candidate]:
    """The serial ports of known USB vendors, each with its stable path and id."""
    links = _links(LINK_DIRS if link_dirs is None else link_dirs)
    found = []
    for port in (lister or LISTER)():
        if port.vid is None or port.vid not in KNOWN_VENDORS:
            continue
        usb = f"{port.vid:04x}:{port.pid or 0:04x} {KNOWN_VENDORS[port.vid]}"
        node = os.path.realpath(port.device)
        by_id, by_path = links.get((0, node)), links.get((1, node))
        link = by_id if by_id is not None and port.serial_number else by_path or by_id
        if link is not None:
            found.append(Candidate(port.device, str(link), derived_id("scale", link.name), usb))
        elif port.serial_number:
            identity = f"{port.vid:04x}-{port.serial_number}"
            found.append(Candidate(port.device, port.device, derived_id("scale", identity), usb))
        else:
            log.info(
                "serial port %s (%s) has no by-id link and no serial number, so no name that "
                "survives a replug; pin it in [devices] scales to use it",
                port.device,
                usb,
            )
    return found


def _links(link_dirs: Sequence[Path]) -> dict[tuple[int, str], Path]:
    """(which directory, the device node it points at) -> the link."""
    links: dict[tuple[int, str], Path] = {}
    for n, folder in enumerate(link_dirs):
        try:
            entries = sorted(folder.iterdir())
        except OSError:  # no such directory: no udev, or no USB serial device plugged in yet
            continue
        for entry in entries:
            links.setdefault((n, os.path.realpath(entry)), entry)
    return links


def detect(
    candidates: Collection[Candidate],
    protocols: Mapping[str, type[ScaleProtocol]] = PROTOCOLS,
    stop: threading.Event | None = None,
) -> list[Found]:
    """Probe each candidate with each protocol until one answers; ports in parallel."""
    if not candidates:
        return []
    workers = min(len(candidates), MAX_PARALLEL_PORTS)
    with ThreadPoolExecutor(workers, thread_name_prefix="scale-detect") as pool:
        return list(pool.map(lambda c: _detect_one(c, protocols, stop), candidates))


def _detect_one(
    candidate: Candidate,
    protocols: Mapping[str, type[ScaleProtocol]],
    stop: threading.Event | None,
) -> Found:
    try:
        tried = probe.probe(candidate.path, protocols, first_only=True, stop=stop)
    except ScaleError as exc:  # gone between the listing and the probe
        log.info("serial port %s went away before it was probed: %s", candidate.path, exc)
        return Found(candidate, None, ())
    return Found(candidate, probe.found(tried), tuple(tried))
