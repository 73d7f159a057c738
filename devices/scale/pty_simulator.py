"""A serial scale on a pty, for tests and the demo: the shared part of every scale simulator.
A subclass says how the scale answers the bytes it receives."""

from __future__ import annotations

import os
import select
import termios
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import serial

from devices.pty_port import open_pty
from devices.scale.protocol import Reading, ScaleProtocol


class PtyScale:
    """A scale on the master side of a pty, as if behind a USB-serial cable.

    Faults: `motion`, a weight above capacity_g (overload) or below zero, inject_noise(),
    `reply_delay_s`. With link, start() points that symlink at the pty (like
    /dev/serial/by-id/...) and stop() removes it, so a driver sees an unplug and a replug.
    A subclass overrides answer_byte() (one reply per byte) or _replies() (whole reads).
    """

    def __init__(
        self, link: str | os.PathLike[str] | None = None, capacity_g: int = 15_000
    ) -> None:
        self.link = Path(link) if link is not None else None
        self.capacity_g = capacity_g
        self.motion = False
        self.reply_delay_s = 0.0
        self.received = bytearray()  # every byte the driver sent, for tests
        self.grams = 0
        self._noise = b""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fds: tuple[int, int] | None = None
        self._raw: list[Any] = []  # the pty's raw termios, restored after each exchange
        self._wake: tuple[int, int] | None = None

    def start(self) -> str:
        """Open the pty and answer in a thread; return the path a driver should open."""
        master, slave, path = open_pty(self.link)
        self._raw = termios.tcgetattr(slave)
        self._fds, self._wake = (master, slave), os.pipe()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"{type(self).__name__}", daemon=True
        )
        self._thread.start()
        return path

    def stop(self) -> None:
        """Pull the cable: the pty closes and the link (if any) disappears."""
        if self._thread is None or self._fds is None or self._wake is None:
            return
        self._stop.set()
        os.write(self._wake[1], b"\0")
        self._thread.join()
        if self.link is not None:
            self.link.unlink(missing_ok=True)
        for fd in (*self._fds, *self._wake):
            os.close(fd)
        self._thread = self._fds = self._wake = None

    def set_weight(self, grams: int) -> None:
        """Gross weight on the platter in grams (negative: below the zero point)."""
        with self._lock:
            self.grams = grams

    def inject_noise(self, data: bytes) -> None:
        """Send these bytes just before the next reply, like a noisy line."""
        with self._lock:
            self._noise += data

    def answer_byte(self, byte: int) -> bytes:
        """The scale's reply once it has received this byte (b'' for none); runs under the lock."""
        raise NotImplementedError(f"{type(self).__name__} answers neither bytes nor reads")

    def _replies(self, data: bytes) -> Iterable[bytes]:
        """What the scale sends back for these received bytes (each reply may be delayed);
        by default answer_byte() for each byte, lazily, with any noise before a reply."""
        return self._answer_bytes(data)

    def _answer_bytes(self, data: bytes) -> Iterator[bytes]:
        for byte in data:
            with self._lock:
                reply = self.answer_byte(byte)
                if reply:
                    reply = self._take_noise() + reply
            if reply:
                yield reply

    def _take_noise(self) -> bytes:
        """The injected noise, once (call it with the lock held)."""
        noise, self._noise = self._noise, b""
        return noise

    def _run(self) -> None:
        assert self._fds is not None and self._wake is not None
        master = self._fds[0]
        while True:
            ready, _, _ = select.select([master, self._wake[0]], [], [])
            if self._wake[0] in ready:
                return
            data = os.read(master, 1024)
            self.received += data
            # A Linux pty takes 7E1 from raw settings once, then refuses it (EINVAL) until they
            # are back; a real port takes any. Put them back so a driver can reopen with 7E1.
            termios.tcsetattr(self._fds[1], termios.TCSANOW, self._raw)
            for reply in self._replies(data):
                if self.reply_delay_s and self._stop.wait(self.reply_delay_s):
                    return
                os.write(master, reply)


def exchange(
    port: serial.Serial, protocol: ScaleProtocol, timeout_s: float = 1.0
) -> Reading | None:
    """One poll as a driver makes it (send poll, answer frames, parse the reply), for trying a
    simulator or a real scale by hand; None when the scale stays silent."""
    splitter = protocol.splitter()
    port.write(protocol.poll)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for frame in splitter.feed(port.read(max(1, port.in_waiting))):
            reply = protocol.answer(frame)
            if reply:
                port.write(reply)
            else:
                return protocol.parse(frame)
    return None
