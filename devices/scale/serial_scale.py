"""The one serial driver loop: opens the port with a protocol's settings, polls, publishes weights.

Pure protocol logic lives in each protocol module (devices/scale/protocol.py says what they give);
this module owns the port, the thread, the clock, the offline rules and the tare bookkeeping.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from queue import Empty, SimpleQueue

import serial

from devices.bus import Weight
from devices.scale.protocol import FrameSplitter, ProtocolError, Reading, ScaleError, ScaleProtocol

log = logging.getLogger(__name__)

# Timing, module level so tests can shrink it.
POLL_INTERVAL_S = 0.1
REPLY_TIMEOUT_S = 0.5
RETRY_INTERVAL_S = 0.5  # a replugged scale is back within this plus one probe and one poll: < 2 s
MISSED_REPLIES_OFFLINE = 5
MIN_PUBLISH_INTERVAL_S = 0.1  # at most 10 weights a second on the bus; the last one always goes
NOISE_LOG_INTERVAL_S = 60.0

COMMANDS = ("zero", "tare", "clear_tare")


def to_weight(reading: Reading, tare_g: int = 0, last_grams: int = 0) -> Weight:
    """The bus event for a reading; last_grams is shown while the platter moves without a weight."""
    tare = tare_g if reading.net else 0
    if reading.status in ("ok", "at_zero"):
        return Weight(reading.grams or 0, reading.stable, reading.status, tare)
    if reading.status == "motion":
        grams = reading.grams if reading.grams is not None else last_grams
        return Weight(grams, False, "motion", tare)
    return Weight(0, False, reading.status, tare)


def _is_weight_answer(reading: Reading) -> bool:
    """A status-only 'all is well' frame answers a command (NCI's Z), not the weight poll."""
    return reading.grams is not None or reading.status not in ("ok", "at_zero")


class SerialScale:
    """Polls one scale in a thread; calls on_weight on change and on_online on transitions."""

    def __init__(
        self,
        port: str,
        protocol: ScaleProtocol,
        on_weight: Callable[[Weight], None],
        on_online: Callable[[bool, str], None] | None = None,
    ) -> None:
        self.port, self.protocol = port, protocol
        self._on_weight, self._on_online = on_weight, on_online
        self._commands: SimpleQueue[tuple[str, Future[None]]] = SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._serial: serial.Serial | None = None
        self._frames: FrameSplitter = protocol.splitter()
        self.online = False
        self._offline_reason: str | None = None
        self._missed, self._tare_g = 0, 0
        self._last: Weight | None = None  # the last weight published
        self._pending: Weight | None = None  # a newer one held back by MIN_PUBLISH_INTERVAL_S
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
        return self._submit("zero")

    def tare(self) -> Future[None]:
        return self._submit("tare")

    def clear_tare(self) -> Future[None]:
        return self._submit("clear_tare")

    def _submit(self, name: str) -> Future[None]:
        done: Future[None] = Future()
        if name not in self.protocol.commands:
            done.set_exception(
                ScaleError(f"this scale protocol has no {name} command ({self.protocol.title})")
            )
        elif not self.online:
            done.set_exception(
                ScaleError(f"scale on {self.port} is offline; check its cable and power")
            )
        else:
            self._commands.put((name, done))
        return done

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._serial is None and not self._open():
                self._stop.wait(RETRY_INTERVAL_S)
                continue
            try:
                self._run_commands()
                self._poll()
            except OSError as exc:  # SerialException is one; a vanished pty raises plain EIO
                self._close()
                self._set_online(False, f"lost the port: {exc}")
                continue
            self._publish_pending()
            self._stop.wait(POLL_INTERVAL_S)
        self._close()
        self.online = False

    def _open(self) -> bool:
        settings, probe, answer = self.protocol.settings, self.protocol.probe(), b""
        try:
            self._serial = serial.Serial(
                self.port,
                settings.baud,
                bytesize=settings.bytesize,
                parity=settings.parity,
                stopbits=settings.stopbits,
                timeout=REPLY_TIMEOUT_S,
                write_timeout=1,
                exclusive=True,  # `backroom devices probe` and autodetection keep off this port
            )
            if probe is not None:
                self._serial.write(probe[0])
                answer = self._serial.read(len(probe[1]))
                if after := self.protocol.after_probe():
                    self._serial.write(after)
                self._serial.reset_input_buffer()
        except OSError as exc:
            self._close()
            self._set_online(False, str(exc))
            return False
        if probe is not None and answer != probe[1]:
            log.info(
                "scale on %s did not answer the %s probe (got %r); polling anyway",
                self.port,
                self.protocol.title,
                answer,
            )
        self._frames, self._missed = self.protocol.splitter(), 0
        return True

    def _close(self) -> None:
        self._pending = None  # a weight from before the port went is no news after it
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
                name, done = self._commands.get_nowait()
            except Empty:
                return
            self._serial.write(self.protocol.commands[name])
            if name == "tare" and self._last is not None and self._last.status == "ok":
                self._tare_g += self._last.grams
            elif name == "clear_tare":
                self._tare_g = 0
            done.set_result(None)

    def _poll(self) -> None:
        assert self._serial is not None
        if self._missed and self._drain():
            self._miss(f"replies come later than {REPLY_TIMEOUT_S:g} s; check the cable and baud")
            return
        if self._serial.in_waiting:  # bytes nobody asked for: stale now
            self._frames.feed(self._serial.read(self._serial.in_waiting))
        self._serial.write(self.protocol.poll)
        reading, problem = self._read_reply()
        if reading is None and not problem and self.protocol.silence_is_normal:
            return  # nothing new on the platter: the last weight stands
        if reading is None:
            self._miss(
                f"unreadable replies: {problem}"
                if problem
                else f"no answer to {self.protocol.poll!r}; check that the scale is on and "
                f"set to {self.protocol.title}"
            )
            return
        self._missed = 0
        if reading.grams is not None and not reading.net:
            self._tare_g = 0
        last_grams = self._last.grams if self._last is not None else 0
        self._set_online(True)
        self._publish(to_weight(reading, self._tare_g, last_grams))

    def _miss(self, why: str) -> None:
        self._missed += 1
        if self._missed >= MISSED_REPLIES_OFFLINE:
            self._set_online(False, why)

    def _drain(self) -> bool:
        """After a missed reply, wait until the line is quiet for twice REPLY_TIMEOUT_S and drop
        what came; True when something did (a late reply). Protocols carry no sequence number: a
        late reply read after the next poll would pass for its answer, and a scale slower than
        REPLY_TIMEOUT_S would show ever older weights instead of going offline."""
        assert self._serial is not None
        quiet_from = time.monotonic()
        deadline, late = quiet_from + 6 * REPLY_TIMEOUT_S, False  # bounded: a line that chatters
        while quiet_from + 2 * REPLY_TIMEOUT_S > (now := time.monotonic()) and now < deadline:
            if self._serial.read(max(1, self._serial.in_waiting)):
                late, quiet_from = True, time.monotonic()
        self._frames = self.protocol.splitter()
        return late

    def _read_reply(self) -> tuple[Reading | None, str]:
        """The poll's answer, or None and why the last frame was refused (or '')."""
        assert self._serial is not None
        deadline, latest, problem = time.monotonic() + REPLY_TIMEOUT_S, None, ""
        while latest is None and time.monotonic() < deadline:
            data = self._serial.read_until(self.protocol.terminator)
            data += self._serial.read(self._serial.in_waiting)
            for frame in self._frames.feed(data):
                if follow_up := self.protocol.answer(frame):
                    self._serial.write(follow_up)
                    deadline = time.monotonic() + REPLY_TIMEOUT_S
                    continue
                try:
                    reading = self.protocol.parse(frame)
                except ProtocolError as exc:
                    self._frames.skipped += len(frame)
                    problem = str(exc)
                    continue
                if _is_weight_answer(reading):
                    latest = reading
        self._log_noise()
        return latest, problem

    def _log_noise(self) -> None:
        noise, self._frames.skipped = self._frames.skipped, 0
        self._noise_seen += noise
        now = time.monotonic()
        if self._noise_seen and now - self._noise_logged_at >= NOISE_LOG_INTERVAL_S:
            log.warning(
                "scale on %s sent %d bytes that were not %s replies; skipped them",
                self.port,
                self._noise_seen,
                self.protocol.title,
            )
            self._noise_logged_at, self._noise_seen = now, 0

    def _publish(self, weight: Weight) -> None:
        """Publish a changed weight, or hold it until MIN_PUBLISH_INTERVAL_S has passed."""
        self._pending = None if weight == self._last else weight
        self._publish_pending()

    def _publish_pending(self) -> None:
        """Send the held-back weight once its interval is up: a scale that settles between two
        publications (or, like Adam's, says a weight once) still gets its last word on the bus."""
        now = time.monotonic()
        if self._pending is None or now - self._last_sent_at < MIN_PUBLISH_INTERVAL_S:
            return
        self._last, self._pending, self._last_sent_at = self._pending, None, now
        self._on_weight(self._last)

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
