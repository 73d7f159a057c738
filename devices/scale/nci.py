"""NCI / Weigh-Tronix serial scales (the "NCI standard", SCP-01, also Brecknell and Avery ECR).

`W<CR>` answers `<LF>weight unit<CR><LF>hh<CR><ETX>`, `S<CR>` and `Z<CR>` answer `<LF>hh<CR><ETX>`,
anything else `<LF>?<CR><ETX>` (Avery Weigh-Tronix 7821 manual, section 6.3; Salter Brecknell
3700LP manual, p. 11). hh are status bytes with bits 4-5 always set, so they never look like LF,
CR or ETX. Port: 9600 baud 7E1, the ECR default of Avery-Berkel and Weigh-Tronix bench scales;
some ship 8N1, which `backroom devices probe` does not try. Weights are read as kg only.
"""

from __future__ import annotations

import re

from devices.scale.protocol import (
    FrameSplitter,
    PortSettings,
    ProtocolError,
    Reading,
    ScaleProtocol,
)

LF, CR, ETX = b"\n", b"\r", b"\x03"
WEIGHT, STATUS, ZERO = b"W\r", b"S\r", b"Z\r"
UNKNOWN_REPLY = LF + b"?" + CR + ETX
MAX_FRAME = 32  # longest sane reply; anything longer without ETX is noise

# Status byte 1 and byte 2; 0x30 in each means all is well.
MOTION, AT_ZERO, RAM_ERROR, EEPROM_ERROR = 1, 2, 4, 8
UNDER_CAPACITY, OVER_CAPACITY, ROM_ERROR, CALIBRATION_ERROR = 1, 2, 4, 8
ALWAYS_SET = 0x30

_WEIGHT_RE = re.compile(rb" *(-?) *(\d{1,6})(?:\.(\d{0,3}))? *([A-Za-z]{0,2}) *")


def parse_reply(frame: bytes) -> Reading:
    """What one `<LF> … <CR><ETX>` frame means; ProtocolError for anything else."""
    if len(frame) < 4 or frame[:1] != LF or frame[-2:] != CR + ETX:
        raise ProtocolError(f"reply {frame[:MAX_FRAME]!r} is not framed as LF … CR ETX")
    lines = frame[1:-2].split(CR + LF)
    if lines == [b"?"]:
        raise ProtocolError("the scale answered '?': it did not understand the command")
    if len(lines) > 2:
        raise ProtocolError(f"reply {frame!r} has more than a weight and a status line")
    status = lines[-1]
    if not 2 <= len(status) <= 3 or any(b & 0xF0 != ALWAYS_SET for b in status):
        raise ProtocolError(f"status {status!r} must be 2 or 3 bytes from 0x30 to 0x3F")
    first, second = status[0], status[1]
    if first & (RAM_ERROR | EEPROM_ERROR) or second & (ROM_ERROR | CALIBRATION_ERROR):
        return Reading(None, False, "error")
    if second & OVER_CAPACITY:
        return Reading(None, False, "over_capacity")
    if second & UNDER_CAPACITY:
        return Reading(None, False, "under_zero")
    grams = parse_weight(lines[0]) if len(lines) == 2 else None
    if grams is not None and grams < 0:
        return Reading(None, False, "under_zero")
    if first & MOTION:
        return Reading(grams, False, "motion")
    if grams is None:  # a status-only reply (to S or Z)
        return Reading(None, True, "at_zero" if first & AT_ZERO else "ok")
    return Reading(grams, True, "at_zero" if grams == 0 or first & AT_ZERO else "ok")


def parse_weight(field: bytes) -> int:
    """Grams from a weight line like `  1.234kg`; ProtocolError unless it is kg."""
    match = _WEIGHT_RE.fullmatch(field)
    if match is None:
        raise ProtocolError(f"weight {field!r} is not a number with up to 3 decimals and a unit")
    sign, whole, frac, unit = match.groups()
    if unit.lower() != b"kg":
        shown = unit.decode("ascii") or "no unit"
        raise ProtocolError(f"the scale weighs in {shown}; set it to kg")
    grams = int(whole) * 1000 + int((frac or b"").ljust(3, b"0"))
    return -grams if sign else grams


def encode_weight(grams: int, status1: int = 0, status2: int = 0) -> bytes:
    """The reply to W for this gross or net weight and these status bits."""
    kg = b"%s%d.%03d" % (b"-" if grams < 0 else b"", *divmod(abs(grams), 1000))
    return LF + kg.rjust(7) + b"kg" + CR + encode_status(status1, status2)


def encode_status(status1: int = 0, status2: int = 0) -> bytes:
    """The reply to S and Z (and the tail of the reply to W)."""
    return LF + bytes([status1 | ALWAYS_SET, status2 | ALWAYS_SET]) + CR + ETX


class FrameReader(FrameSplitter):
    """Splits a byte stream into NCI replies, each ending `<CR><ETX>`; skips what comes between."""

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames = []
        while (end := self._buf.find(ETX)) != -1:
            start = self._start(end)
            if start is None:
                self._skip(end + 1)
                continue
            self._skip(start)
            end -= start
            frames.append(bytes(self._buf[: end + 1]))
            del self._buf[: end + 1]
        if len(self._buf) > MAX_FRAME:
            self._skip(len(self._buf) - MAX_FRAME)
        return frames

    def _start(self, end: int) -> int | None:
        """Where the reply ending at end begins: its status line, and the weight line before it."""
        if end < 3 or self._buf[end - 1 : end] != CR:
            return None
        status = self._buf.rfind(LF, 0, end - 1)
        if status == -1 or CR in self._buf[status + 1 : end - 1]:
            return None
        if status < 1 or self._buf[status - 1 : status] != CR:
            return status
        weight = self._buf.rfind(LF, 0, status - 1)
        if weight == -1 or CR in self._buf[weight + 1 : status - 1] or status - weight > 16:
            return status
        return weight


class NCI(ScaleProtocol):
    """The NCI standard protocol for the serial loop; the scale has no tare command."""

    name = "nci"
    title = "NCI / Weigh-Tronix"
    settings = PortSettings(9600, 7, "E", 1)
    poll = WEIGHT
    terminator = ETX
    commands = {"zero": ZERO}

    def splitter(self) -> FrameReader:
        return FrameReader()

    def parse(self, frame: bytes) -> Reading:
        return parse_reply(frame)
