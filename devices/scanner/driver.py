"""USB barcode scanners: find them among the input devices, grab them, decode their keys.

Three parts, as every driver: the pure decoder (keymap.py, and classify.py for telling scanners
from keyboards), the I/O loop (ScannerReader, one thread per scanner blocked in select, never
polling), and sources that feed it: EvdevScanner for real hardware and SimulatedScanner, which
types text through the very same loop.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from evdev import InputDevice, InputEvent, ecodes

from devices.scanner.classify import InputInfo, classify, parse_proc_devices
from devices.scanner.keymap import EV_KEY, KEY_ENTER, DecodedScan, KeyDecoder, encode
from devices.scanner.udev import udev_properties

log = logging.getLogger(__name__)

INPUT_DIR = "/dev/input"
BY_ID_DIR = "/dev/input/by-id"
PROC_DEVICES = "/proc/bus/input/devices"  # world-readable: no device is opened to list them

_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]+")


def _device_id(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("._:-")[:128] or "input"


def stable_id(
    path: str,
    *,
    serial: str = "",
    phys: str = "",
    vendor: int = 0,
    product: int = 0,
    by_id_dir: str = BY_ID_DIR,
) -> str:
    """A device id that survives reboots and replugs: the by-id name, the serial, or the USB port.

    Never the event number, and never the role: a scanner the owner turns into a keyboard keeps
    its id, so the hub can remember the choice.
    """
    target = os.path.realpath(path)
    try:
        names = sorted(os.listdir(by_id_dir))
    except OSError:
        names = []
    for name in names:
        if os.path.realpath(os.path.join(by_id_dir, name)) == target:
            return _device_id(name.removeprefix("usb-").removesuffix("-event-kbd"))
    model = f"input-{vendor:04x}-{product:04x}"
    if serial:
        return _device_id(f"{model}-{serial}")
    return _device_id(f"{model}-{phys}" if phys else model)


@dataclass(frozen=True)
class PluggedInput:
    """An input device that can type codes, with its event node and stable id."""

    path: str
    device_id: str
    info: InputInfo


def find_inputs(
    proc_devices: str = PROC_DEVICES,
    input_dir: str = INPUT_DIR,
    by_id_dir: str = BY_ID_DIR,
    serial_of: Callable[[str], str] | None = None,
) -> list[PluggedInput]:
    """Every plugged-in USB or Bluetooth input device that types digits and Enter.

    The serial comes from udev (ID_SERIAL_SHORT) when it runs, else from the kernel's uniq.
    """
    try:
        with open(proc_devices, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as exc:
        log.debug("cannot list input devices from %s: %s", proc_devices, exc)
        return []
    found = []
    for info in parse_proc_devices(text):
        if classify(info) is None or not info.event:
            continue
        path = os.path.join(input_dir, info.event)
        serial = (serial_of or _udev_serial)(path) or info.uniq
        dev_id = stable_id(
            path,
            serial=serial,
            phys=info.phys,
            vendor=info.vendor,
            product=info.product,
            by_id_dir=by_id_dir,
        )
        if any(p.device_id == dev_id for p in found):  # a second interface of one device
            dev_id = _device_id(f"{dev_id}-{info.phys.rpartition('/')[2] or info.event}")
        found.append(PluggedInput(path, dev_id, info))
    return found


def _udev_serial(path: str) -> str:
    return udev_properties(path).get("ID_SERIAL_SHORT", "")


class InputSource(Protocol):
    def open(self) -> None: ...
    def fileno(self) -> int: ...
    def read(self) -> Iterable[InputEvent]: ...
    def close(self) -> None: ...


class EvdevScanner:
    """A real scanner's event device, grabbed so its keys never reach a console or desktop."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._device: InputDevice | None = None

    def open(self) -> None:
        device = InputDevice(self.path)
        try:
            device.grab()
        except OSError:
            device.close()
            raise
        self._device = device

    def fileno(self) -> int:
        assert self._device is not None, "open() first"
        return self._device.fd

    def read(self) -> list[InputEvent]:
        assert self._device is not None, "open() first"
        return list(self._device.read())

    def close(self) -> None:
        if self._device is not None:
            device, self._device = self._device, None
            with contextlib.suppress(OSError):  # gone already: the kernel dropped the grab
                device.ungrab()
            device.close()


class SimulatedScanner:
    """An input source that types text as a US-layout scanner would, key by key."""

    def __init__(self) -> None:
        self._events: deque[InputEvent] = deque()
        self._lock = threading.Lock()
        self._pipe: tuple[int, int] | None = None
        self._unplugged = False

    def open(self) -> None:
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        self._pipe, self._unplugged = (read_end, write_end), False

    def fileno(self) -> int:
        assert self._pipe is not None, "open() first"
        return self._pipe[0]

    def type_text(self, text: str) -> None:
        """Type text and press Enter, like one scan."""
        self.feed(self.key_events(text))

    @staticmethod
    def key_events(text: str, terminator: int | None = KEY_ENTER) -> list[InputEvent]:
        now = time.time()
        sec, usec = int(now), int(now % 1 * 1_000_000)
        out = []
        for code, value in encode(text, terminator):
            out += [
                InputEvent(sec, usec, EV_KEY, code, value),
                InputEvent(sec, usec, ecodes.EV_SYN, 0, 0),
            ]
        return out

    def feed(self, events: Iterable[InputEvent]) -> None:
        """Queue raw input events (a recorded sequence, or key_events())."""
        with self._lock:
            self._events.extend(events)
        self._wake()

    def unplug(self) -> None:
        """Behave like a device that was pulled out: the next read fails with ENODEV."""
        self._unplugged = True
        self._wake()

    def _wake(self) -> None:
        if self._pipe is None:
            raise RuntimeError("simulated scanner is not open; start its reader first")
        os.write(self._pipe[1], b"\0")

    def read(self) -> list[InputEvent]:
        assert self._pipe is not None, "open() first"
        with contextlib.suppress(BlockingIOError):  # an earlier read drained the wake byte
            os.read(self._pipe[0], 4096)
        with self._lock:
            events = list(self._events)
            self._events.clear()
        if self._unplugged:
            if not events:
                raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))
            self._wake()  # hand over what was typed first; the next read reports the unplug
        return events

    def close(self) -> None:
        if self._pipe is not None:
            for fd in self._pipe:
                os.close(fd)
            self._pipe = None


class ScannerReader:
    """Reads one source in its own thread; calls on_scan per scan and on_gone once if it fails."""

    def __init__(
        self,
        source: InputSource,
        on_scan: Callable[[DecodedScan], None],
        on_gone: Callable[[str, str], None] | None = None,
        name: str = "scanner",
    ) -> None:
        self.source, self.name = source, name
        self._on_scan, self._on_gone = on_scan, on_gone
        self._decoder = KeyDecoder()
        self._thread: threading.Thread | None = None
        self._wake: tuple[int, int] | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Open and grab the source (raises OSError if it cannot), then read it in a thread."""
        self.source.open()
        self._wake = os.pipe()
        self._thread = threading.Thread(target=self._run, name=f"scanner-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None or self._wake is None:
            return
        os.write(self._wake[1], b"\0")
        self._thread.join()
        self.source.close()
        for fd in self._wake:
            os.close(fd)
        self._thread = self._wake = None

    def _run(self) -> None:
        assert self._wake is not None
        wake = self._wake[0]
        while True:
            ready, _, _ = select.select([self.source.fileno(), wake], [], [])
            if wake in ready:
                return
            try:
                events = self.source.read()
            except BlockingIOError:
                continue
            except OSError as exc:
                self._gone(exc)
                return
            for event in events:
                scan = self._decoder.feed(event.type, event.code, event.value)
                if scan is not None:
                    self._on_scan(scan)

    def _gone(self, exc: OSError) -> None:
        partial = self._decoder.reset()
        if partial:
            log.warning("%s went away in the middle of a code; dropped %r", self.name, partial)
        if self._on_gone is not None:
            self._on_gone(exc.strerror or str(exc), partial)
