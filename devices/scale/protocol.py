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

    skipped: int = 0

    @abstractmethod
    def feed(self, data: bytes) -> list[bytes]: ...


class ScaleProtocol(ABC):
    """One protocol. Class attributes say how to talk; parse() says what a frame means."""

    name: ClassVar[str]  # config value, e.g. "mettler8217", "nci", "dialog", "cas_pd2", "adam"
    title: ClassVar[str]  # for people: "Mettler Toledo 8217"
    settings: ClassVar[PortSettings]
    poll: ClassVar[bytes]  # sent to ask for a weight
    terminator: ClassVar[bytes]  # the byte that ends a reply (the loop reads up to it)
    commands: ClassVar[dict[str, bytes]] = {}  # "zero", "tare", "clear_tare" where the scale has them
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
