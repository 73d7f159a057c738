"""Scales on a pty, for tests and the demo: the pty plumbing, and a Mettler Toledo 8217 on it."""

from __future__ import annotations

import os
import select
import termios
import threading
import tty
from abc import ABC, abstractmethod
from pathlib import Path

from devices.scale.mettler_toledo import (
    CLEAR_TARE,
    CR,
    ECHO_END,
    MOTION,
    NET,
    OVER_CAPACITY,
    STX,
    TARE,
    UNDER_ZERO,
    WEIGHT,
    ZERO,
    encode_status,
    encode_weight,
)


class PtyScale(ABC):
    """A scale on the master side of a pty, as if behind a USB-serial cable.

    Faults: `motion`, a weight above capacity_g (overload) or below zero, inject_noise(),
    `reply_delay_s`. With link, start() points that symlink at the pty (like
    /dev/serial/by-id/...) and stop() removes it, so a driver sees an unplug and a replug.
    Subclasses say what the scale answers to the bytes it receives.
    """

    def __init__(
        self, link: str | os.PathLike[str] | None = None, capacity_g: int = 15_000
    ) -> None:
        self.link = Path(link) if link is not None else None
        self.capacity_g = capacity_g
        self.motion = False
        self.reply_delay_s = 0.0
        self.received = bytearray()  # every byte the driver sent, for tests
        self._gross = self._zero = self._tare = 0
        self._noise = b""
        self._echo = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fds: tuple[int, int] | None = None
        self._raw: list[object] = []  # the pty's raw termios, restored after each exchange
        self._wake: tuple[int, int] | None = None

    def start(self) -> str:
        """Open the pty and answer in a thread; return the path a driver should open."""
        master, slave = os.openpty()
        tty.setraw(slave)
        self._raw = termios.tcgetattr(slave)
        self._fds, self._wake = (master, slave), os.pipe()
        path = os.ttyname(slave)
        if self.link is not None:
            tmp = self.link.with_name(self.link.name + ".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(path)
            tmp.replace(self.link)
            path = str(self.link)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="scale-simulator", daemon=True)
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
            self._gross = grams

    def inject_noise(self, data: bytes) -> None:
        """Send these bytes just before the next reply, like a noisy line."""
        with self._lock:
            self._noise += data

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

    def _take_noise(self) -> bytes:
        """The injected noise, once (call it with the lock held)."""
        noise, self._noise = self._noise, b""
        return noise

    @abstractmethod
    def _replies(self, data: bytes) -> list[bytes]:
        """What the scale sends back for these received bytes (each reply may be delayed)."""


class ScaleSimulator(PtyScale):
    """A Mettler Toledo 8217 scale on a pty; it echoes after `E` until `F`, as 8217 does."""

    def _replies(self, data: bytes) -> list[bytes]:
        return [reply for byte in data if (reply := self._answer(bytes([byte])))]

    def _answer(self, command: bytes) -> bytes:
        with self._lock:
            if self._echo:
                self._echo = command != ECHO_END
                return command if self._echo else b""
            if command == b"E":
                self._echo = True
                return STX + b"E" + CR
            gross = self._gross - self._zero
            if command == WEIGHT:
                return self._take_noise() + self._weight_reply(gross)
            if command == TARE and not self.motion and 0 < gross <= self.capacity_g:
                self._tare = gross
            elif command == CLEAR_TARE:
                self._tare = 0
            elif (
                command == ZERO
                and not self.motion
                and not self._tare
                and abs(gross) <= self.capacity_g // 50
            ):
                self._zero = self._gross  # zero range: 2 % of capacity
            return b""

    def _weight_reply(self, gross: int) -> bytes:
        net, status = gross - self._tare, NET if self._tare else 0
        status |= MOTION if self.motion else 0
        status |= OVER_CAPACITY if gross > self.capacity_g else 0
        status |= UNDER_ZERO if gross < 0 or net < 0 else 0
        if status & (MOTION | OVER_CAPACITY | UNDER_ZERO):
            return encode_status(status)
        return encode_weight(net, net=bool(self._tare))
