"""Mettler Toledo 8217 ("weight only") serial scales: the protocol, driven by devices/scale/serial_scale.py.

Protocol as in REFERENCE.md and Odoo's Scale driver (hw_drivers, `Toledo8217Protocol`): 9600 baud
7E1; `W` answers `STX weight CR` (`N` before CR when net) or `STX ? status CR`; `Z`, `T`, `C`
zero, tare and clear tare (no answer is read, as in Odoo); `Ehello` answers `STX E CR hello`
and `F` ends echo mode. Weights are read as kg, so the scale must be set to kg, not lb.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from devices.bus import Weight
from devices.scale import serial_scale
from devices.scale.protocol import (
    DelimitedSplitter,
    PortSettings,
    ProtocolError,
    Reading,
    ScaleError,
    ScaleProtocol,
)
from devices.scale.serial_scale import SerialScale

__all__ = [
    "FrameReader",
    "MettlerToledo8217",
    "MettlerToledoScale",
    "ProtocolError",
    "Reply",
    "ScaleError",
    "encode_status",
    "encode_weight",
    "parse_reply",
    "to_weight",
]

STX, CR = b"\x02", b"\r"
WEIGHT, ZERO, TARE, CLEAR_TARE = b"W", b"Z", b"T", b"C"
ECHO_PROBE, ECHO_REPLY, ECHO_END = b"Ehello", b"\x02E\rhello", b"F"
MAX_FRAME = 16  # longest sane reply; anything longer without CR is noise

# Status byte of `STX ? status CR`; bit 6 is always set so it can never look like STX or CR.
MOTION, OVER_CAPACITY, UNDER_ZERO, OUTSIDE_ZERO_CAPTURE, CENTRE_OF_ZERO, NET, ALWAYS_ONE = (
    1 << bit for bit in range(7)
)

_WEIGHT_RE = re.compile(rb" *(\d{1,3})(?:\.(\d{1,3}))?")


@dataclass(frozen=True)
class Reply:
    """One 8217 reply as sent: grams (None when the scale sent a status byte), net, status bits."""

    grams: int | None
    net: bool = False
    status: int = 0


def parse_reply(frame: bytes) -> Reply:
    """Parse one `STX … CR` frame; raise ProtocolError for anything else."""
    if len(frame) < 3 or frame[:1] != STX or frame[-1:] != CR:
        raise ProtocolError(f"reply {frame[:MAX_FRAME]!r} is not framed as STX … CR")
    body = frame[1:-1]
    if body[:1] == b"?":
        if len(body) != 2 or not ALWAYS_ONE <= body[1] <= 0x7F:
            raise ProtocolError(f"status reply {frame!r} must be STX ? <one byte 0x40-0x7F> CR")
        return Reply(None, bool(body[1] & NET), body[1])
    net = body.endswith(b"N")
    match = _WEIGHT_RE.fullmatch(body[:-1] if net else body)
    if match is None:
        raise ProtocolError(f"weight reply {frame!r} is not kg with up to 3 decimals, like 01.234")
    whole, frac = match.group(1), match.group(2) or b""
    return Reply(int(whole) * 1000 + int(frac.ljust(3, b"0")), net, NET if net else 0)


def encode_weight(grams: int, net: bool = False) -> bytes:
    return STX + b"%02d.%03d" % divmod(grams, 1000) + (b"N" if net else b"") + CR


def encode_status(status: int) -> bytes:
    return STX + b"?" + bytes([status | ALWAYS_ONE]) + CR


def to_reading(reply: Reply) -> Reading:
    """What an 8217 reply means; a status byte names one problem, the worst first."""
    net, bits = reply.net, reply.status
    if reply.grams is not None:
        return Reading(reply.grams, True, "at_zero" if reply.grams == 0 else "ok", net)
    if bits & OVER_CAPACITY:
        return Reading(None, False, "over_capacity", net)
    if bits & UNDER_ZERO:
        return Reading(None, False, "under_zero", net)
    if bits & MOTION:
        return Reading(None, False, "motion", net)
    if bits & CENTRE_OF_ZERO and not bits & OUTSIDE_ZERO_CAPTURE:
        return Reading(0, True, "at_zero", net)
    return Reading(None, False, "error", net)


def to_weight(reply: Reply, tare_g: int = 0, moving_grams: int = 0) -> Weight:
    """The bus event for a reply; moving_grams is shown while the platter moves."""
    return serial_scale.to_weight(to_reading(reply), tare_g, moving_grams)


class FrameReader(DelimitedSplitter):
    """Splits a byte stream into `STX … CR` frames, skipping noise up to the next STX."""

    def __init__(self) -> None:
        super().__init__(STX, CR, MAX_FRAME)


class MettlerToledo8217(ScaleProtocol):
    """The 8217 protocol for the serial loop."""

    name = "mettler8217"
    title = "Mettler Toledo 8217"
    settings = PortSettings(9600, 7, "E", 1)
    poll = WEIGHT
    terminator = CR
    commands = {"zero": ZERO, "tare": TARE, "clear_tare": CLEAR_TARE}

    def probe(self) -> tuple[bytes, bytes]:
        return ECHO_PROBE, ECHO_REPLY

    def after_probe(self) -> bytes:
        return ECHO_END

    def splitter(self) -> FrameReader:
        return FrameReader()

    def parse(self, frame: bytes) -> Reading:
        return to_reading(parse_reply(frame))


class MettlerToledoScale(SerialScale):
    """A SerialScale speaking 8217 (the name devices/agent.py and older tests know)."""

    def __init__(
        self,
        port: str,
        on_weight: Callable[[Weight], None],
        on_online: Callable[[bool, str], None] | None = None,
    ) -> None:
        super().__init__(port, MettlerToledo8217(), on_weight, on_online)
