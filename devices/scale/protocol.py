"""What every serial scale protocol gives the one serial driver loop (devices/scale/serial_scale.py).

A protocol is pure: bytes in, readings out, no port, no thread, no clock. The loop opens the
port with the protocol's settings, probes it, polls, splits the replies into frames, parses
them and publishes what they mean; the simulators speak the same bytes over a pty.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar


class ScaleError(Exception):
    """A scale problem a person can act on (offline, refused command)."""


class ProtocolError(ScaleError):
    """Bytes that are not a reply of this protocol."""


@dataclass(frozen=True)
class PortSettings:
    """pyserial's open arguments: baud, data bits (7 or 8), parity ('N', 'E', 'O'), stop bits."""

    baud: int
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1


@dataclass(frozen=True)
class Reading:
    """What one reply means: grams (None when the scale gave only a status), stable, a bus
    status (ok, at_zero, motion, under_zero, over_capacity, error) and whether it is net of tare."""

    grams: int | None
    stable: bool
    status: str = "ok"
    net: bool = False


class FrameSplitter(ABC):
    """Splits a byte stream into whole frames; bytes that cannot start a frame are counted in
    skipped and dropped. feed() never raises, whatever it is given."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.skipped = 0

    @abstractmethod
    def feed(self, data: bytes) -> list[bytes]: ...

    def _skip(self, count: int) -> None:
        self.skipped += count
        del self._buf[:count]


class DelimitedSplitter(FrameSplitter):
    """Splits a stream into `start … end` frames (start and end one byte each). A frame cut short
    by a new start byte, or longer than max_len without its end, is noise. Each byte in singles
    is a frame of its own (a NAK); bytes in ignored are dropped without counting as noise."""

    def __init__(
        self, start: bytes, end: bytes, max_len: int, singles: bytes = b"", ignored: bytes = b""
    ) -> None:
        super().__init__()
        self._start, self._end, self._max_len = start, end, max_len
        self._singles, self._ignored = singles, ignored
        self._heads = frozenset(start + singles + ignored)

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        while self._buf:
            first = self._buf[0]
            if first in self._singles:
                frames.append(bytes([first]))
                del self._buf[:1]
            elif first in self._ignored:
                del self._buf[:1]
            elif first not in self._start:
                heads = (i for i, b in enumerate(self._buf) if b in self._heads)
                self._skip(next(heads, len(self._buf)))
            else:
                end, restart = self._buf.find(self._end, 1), self._buf.find(self._start, 1)
                if restart != -1 and (end == -1 or restart < end):
                    self._skip(restart)  # a frame cut short by a new one
                elif end != -1:
                    frames.append(bytes(self._buf[: end + 1]))
                    del self._buf[: end + 1]
                else:
                    if len(self._buf) > self._max_len:
                        self._skip(len(self._buf))
                    break
        return frames


class ScaleProtocol(ABC):
    """One protocol. Class attributes say how to talk; parse() says what a frame means."""

    name: ClassVar[str]  # config value, e.g. "mettler8217", "nci", "dialog", "cas_pd2", "adam"
    title: ClassVar[str]  # for people: "Mettler Toledo 8217"
    settings: ClassVar[PortSettings]
    poll: ClassVar[bytes]  # sent to ask for a weight
    terminator: ClassVar[bytes]  # the byte that ends a reply (the loop reads up to it)
    # "zero", "tare", "clear_tare": the bytes of each command the scale has
    commands: ClassVar[dict[str, bytes]] = {}
    # True where a scale answers only when it has something new (Adam): silence is then no fault
    silence_is_normal: ClassVar[bool] = False

    def probe(self) -> tuple[bytes, bytes] | None:
        """(what to send, what a scale of this protocol answers) at open, or None for no probe."""
        return None

    def after_probe(self) -> bytes:
        """Bytes to send after the probe's answer (e.g. ending an echo mode); b'' for none."""
        return b""

    def answer(self, frame: bytes) -> bytes:
        """Bytes to send in reply to a frame within the same poll (Dialog asks for the error
        record after a NAK); b'' for none. The loop then reads the next frame."""
        return b""

    @abstractmethod
    def splitter(self) -> FrameSplitter:
        """A fresh frame splitter for a newly opened port."""

    @abstractmethod
    def parse(self, frame: bytes) -> Reading:
        """What one frame means; ProtocolError for anything that is not a reply."""
