"""Mettler Toledo 8217 ("weight only") serial scales: the protocol and the driver.

Protocol as in REFERENCE.md and Odoo's Scale driver (hw_drivers, `Toledo8217Protocol`): 9600 baud
7E1; `W` answers `STX weight CR` (`N` before CR when net) or `STX ? status CR`; `Z`, `T`, `C`
zero, tare and clear tare (no answer is read, as in Odoo); `Ehello` answers `STX E CR hello`
and `F` ends echo mode. Weights are read as kg, so the scale must be set to kg, not lb.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from queue import Empty, SimpleQueue

import serial

from devices.bus import Weight

log = logging.getLogger(__name__)

STX, CR = b"\x02", b"\r"
WEIGHT, ZERO, TARE, CLEAR_TARE = b"W", b"Z", b"T", b"C"
ECHO_PROBE, ECHO_REPLY, ECHO_END = b"Ehello", b"\x02E\rhello", b"F"
MAX_FRAME = 16  # longest sane reply; anything longer without CR is noise

# Status byte of `STX ? status CR`; bit 6 is always set so it can never look like STX or CR.
MOTION, OVER_CAPACITY, UNDER_ZERO, OUTSIDE_ZERO_CAPTURE, CENTRE_OF_ZERO, NET, ALWAYS_ONE = (
    1 << bit for bit in range(7)
)

# Timing, module level so tests can shrink it.
POLL_INTERVAL_S = 0.1
REPLY_TIMEOUT_S = 0.5
RETRY_INTERVAL_S = 1.0
MISSED_REPLIES_OFFLINE = 5
MIN_PUBLISH_INTERVAL_S = 0.1
NOISE_LOG_INTERVAL_S = 60.0

_WEIGHT_RE = re.compile(rb" *(\d{1,3})(?:\.(\d{1,3}))?")


class ScaleError(Exception):
    """A scale problem a person can act on (offline, refused command)."""


class ProtocolError(ScaleError):
    """Bytes that are not an 8217 reply."""


@dataclass(frozen=True)
class Reading:
    """One reply: grams (None when the scale sent a status byte instead), net, status bits."""

    grams: int | None
    net: bool = False
    status: int = 0


def parse_reply(frame: bytes) -> Reading:
    """Parse one `STX … CR` frame; raise ProtocolError for anything else."""
    if len(frame) < 3 or frame[:1] != STX or frame[-1:] != CR:
        raise ProtocolError(f"reply {frame[:MAX_FRAME]!r} is not framed as STX … CR")
    body = frame[1:-1]
    if body[:1] == b"?":
        if len(body) != 2 or not ALWAYS_ONE <= body[1] <= 0x7F:
            raise ProtocolError(f"status reply {frame!r} must be STX ? <one byte 0x40-0x7F> CR")
        return Reading(None, bool(body[1] & NET), body[1])
    net = body.endswith(b"N")
    match = _WEIGHT_RE.fullmatch(body[:-1] if net else body)
    if match is None:
        raise ProtocolError(f"weight reply {frame!r} is not kg with up to 3 decimals, like 01.234")
    whole, frac = match.group(1), match.group(2) or b""
    return Reading(int(whole) * 1000 + int(frac.ljust(3, b"0")), net, NET if net else 0)


def encode_weight(grams: int, net: bool = False) -> bytes:
    return STX + b"%02d.%03d" % divmod(grams, 1000) + (b"N" if net else b"") + CR


def encode_status(status: int) -> bytes:
    return STX + b"?" + bytes([status | ALWAYS_ONE]) + CR


def to_weight(reading: Reading, tare_g: int = 0, moving_grams: int = 0) -> Weight:
    """The bus event for a reading; moving_grams is shown while the platter moves."""
    tare = tare_g if reading.net else 0
    if reading.grams is not None:
        return Weight(reading.grams, True, "at_zero" if reading.grams == 0 else "ok", tare)
    bits = reading.status
    if bits & OVER_CAPACITY:
        return Weight(0, False, "over_capacity", tare)
    if bits & UNDER_ZERO:
        return Weight(0, False, "under_zero", tare)
    if bits & MOTION:
        return Weight(moving_grams, False, "motion", tare)
    if bits & CENTRE_OF_ZERO and not bits & OUTSIDE_ZERO_CAPTURE:
        return Weight(0, True, "at_zero", tare)
    return Weight(0, False, "error", tare)


class FrameReader:
    """Splits a byte stream into `STX … CR` frames, skipping noise up to the next STX."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.skipped = 0

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames = []
        while True:
            start = self._buf.find(STX)
            if start < 0:
                self._skip(len(self._buf))
                return frames
            self._skip(start)
            end, restart = self._buf.find(CR, 1), self._buf.find(STX, 1)
            if restart != -1 and (end == -1 or restart < end):
                self._skip(restart)  # a frame cut short by a new one
            elif end != -1:
                frames.append(bytes(self._buf[: end + 1]))
                del self._buf[: end + 1]
            else:
                if len(self._buf) > MAX_FRAME:
                    self._skip(len(self._buf))
                return frames

    def _skip(self, count: int) -> None:
        self.skipped += count
        del self._buf[:count]


class MettlerToledoScale:
    """Polls one 8217 scale in a thread; calls on_weight on change and on_online on transitions."""

    def __init__(
        self,
        port: str,
        on_weight: Callable[[Weight], None],
        on_online: Callable[[bool, str], None] | None = None,
    ) -> None:
        self.port = port
        self._on_weight, self._on_online = on_weight, on_online
        self._commands: SimpleQueue[tuple[bytes, Future[None]]] = SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._serial: serial.Serial | None = None
        self._frames = FrameReader()
        self.online = False
        self._offline_reason: str | None = None
        self._missed, self._tare_g = 0, 0
        self._last: Weight | None = None
        self._last_sent_at = float("-inf")
        self._noise_logged_at, self._noise_seen = float("-inf"), 0

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"scale-{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def zero(self) -> Future[None]:
        return self._submit(ZERO)

    def tare(self) -> Future[None]:
        return self._submit(TARE)

    def clear_tare(self) -> Future[None]:
        return self._submit(CLEAR_TARE)

    def _submit(self, command: bytes) -> Future[None]:
        done: Future[None] = Future()
        if not self.online:
            done.set_exception(
                ScaleError(f"scale on {self.port} is offline; check its cable and power")
            )
        else:
            self._commands.put((command, done))
        return done

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._serial is None and not self._open():
                self._stop.wait(RETRY_INTERVAL_S)
                continue
            try:
                self._run_commands()
                self._poll()
            except serial.SerialException as exc:
                self._close()
                self._set_online(False, f"lost the port: {exc}")
                continue
            self._stop.wait(POLL_INTERVAL_S)
        self._close()
        self.online = False

    def _open(self) -> bool:
        try:
            self._serial = serial.Serial(
                self.port,
                9600,
                bytesize=serial.SEVENBITS,
                parity=serial.PARITY_EVEN,
                stopbits=serial.STOPBITS_ONE,
                timeout=REPLY_TIMEOUT_S,
                write_timeout=1,
            )
            self._serial.write(ECHO_PROBE)
            answer = self._serial.read(len(ECHO_REPLY))
            self._serial.write(ECHO_END)
            self._serial.reset_input_buffer()
        except serial.SerialException as exc:
            self._close()
            self._set_online(False, str(exc))
            return False
        if answer != ECHO_REPLY:
            log.info(
                "scale on %s did not answer the 8217 echo probe (got %r); polling anyway",
                self.port,
                answer,
            )
        self._frames, self._missed = FrameReader(), 0
        return True

    def _close(self) -> None:
        if self._serial is not None:
            port, self._serial = self._serial, None
            port.close()
        while True:
            try:
                _, done = self._commands.get_nowait()
            except Empty:
                return
            done.set_exception(
                ScaleError(f"scale on {self.port} went offline before the command ran")
            )

    def _run_commands(self) -> None:
        assert self._serial is not None
        while True:
            try:
                command, done = self._commands.get_nowait()
            except Empty:
                return
            self._serial.write(command)
            if command == TARE and self._last is not None and self._last.status == "ok":
                self._tare_g += self._last.grams
            elif command == CLEAR_TARE:
                self._tare_g = 0
            done.set_result(None)

    def _poll(self) -> None:
        assert self._serial is not None
        self._serial.write(WEIGHT)
        reading = self._read_reply()
        if reading is None:
            self._missed += 1
            if self._missed >= MISSED_REPLIES_OFFLINE:
                self._set_online(
                    False, "no answer to W; check that the scale is on and set to 8217"
                )
            return
        self._missed = 0
        if reading.grams is not None and not reading.net:
            self._tare_g = 0
        moving = self._last.grams if self._last is not None else 0
        self._set_online(True)
        self._publish(to_weight(reading, self._tare_g, moving))

    def _read_reply(self) -> Reading | None:
        assert self._serial is not None
        deadline, latest = time.monotonic() + REPLY_TIMEOUT_S, None
        while latest is None and time.monotonic() < deadline:
            data = self._serial.read_until(CR) + self._serial.read(self._serial.in_waiting)
            for frame in self._frames.feed(data):
                try:
                    latest = parse_reply(frame)
                except ProtocolError:
                    self._frames.skipped += len(frame)
        self._log_noise()
        return latest

    def _log_noise(self) -> None:
        noise, self._frames.skipped = self._frames.skipped, 0
        self._noise_seen += noise
        now = time.monotonic()
        if self._noise_seen and now - self._noise_logged_at >= NOISE_LOG_INTERVAL_S:
            log.warning(
                "scale on %s sent %d bytes that were not 8217 replies; skipped them",
                self.port,
                self._noise_seen,
            )
            self._noise_logged_at, self._noise_seen = now, 0

    def _publish(self, weight: Weight) -> None:
        now = time.monotonic()
        if weight == self._last or now - self._last_sent_at < MIN_PUBLISH_INTERVAL_S:
            return
        self._last, self._last_sent_at = weight, now
        self._on_weight(weight)

    def _set_online(self, online: bool, reason: str = "") -> None:
        if not online and reason != self._offline_reason:  # log each new problem once
            log.warning("scale on %s is offline: %s", self.port, reason)
            self._offline_reason = reason
        if online == self.online:
            return
        if online:
            log.info("scale on %s is online", self.port)
            self._offline_reason = None
        self.online = online
        if self._on_online is not None:
            self._on_online(online, reason)
