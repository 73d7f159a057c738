"""Dialog 02/04 (Dibal, CAS ECR type 12 and other price-computing scales): protocol and simulator.

As in REFERENCE.md ("Scales (serial)"): 2400 baud 7O1 (some scales are set to 4800; match the
scale's setting). The POS sends the unit price as record 01 `EOT STX "01" ESC pppppp ESC ETX` and
polls with `EOT ENQ`; the scale answers record 02 `STX "02" ESC s ESC wwwww ESC pppppp ESC
tttttt ETX` (status, weight in grams, unit price, total) or NAK. After a NAK the POS sends record
08 `EOT STX "08" ETX` and the scale answers record 09 `STX "09" ESC nn ETX`, nn one of the codes
below.

Our decisions:
- Every poll sends record 01 then `EOT ENQ`, so a scale that was switched off and on again has a
  price without a separate step. For weight-only use the price is 1 (cent per kg): some scales
  refuse 0. The total in record 02 is the scale's business and is not checked.
- Some scales ACK record 01; the splitter drops a lone ACK without counting it as noise.
- Code 21 (no motion since the last weighing) is the scale refusing to send the same weight
  twice, so the protocol remembers the last record 02 and reads 21 as that weight again; with
  none remembered (the driver restarted under a loaded platter) it reads as motion: the item
  must be lifted and put back.
- Code 30 (below minimum) is what an empty platter gives, so it reads as 0 g at_zero.
Dialog 06 adds a checksum whose key only scale makers hold: out of scope.
"""

from __future__ import annotations

import re

from devices.scale.protocol import (
    DelimitedSplitter,
    FrameSplitter,
    PortSettings,
    ProtocolError,
    Reading,
    ScaleProtocol,
)
from devices.scale.pty_simulator import PtyScale

STX, ETX, EOT, ENQ, ACK, NAK, ESC = b"\x02", b"\x03", b"\x04", b"\x05", b"\x06", b"\x15", b"\x1b"
WEIGHT_ONLY_PRICE = 1
MAX_GRAMS = 99_999
MAX_FRAME = 32  # record 02 is 26 bytes

MOTION, NO_MOTION_SINCE_LAST, BELOW_MINIMUM, BELOW_ZERO, OVERLOAD = 20, 21, 30, 31, 32
CODES = {
    MOTION: Reading(None, False, "motion"),
    BELOW_MINIMUM: Reading(0, True, "at_zero"),
    BELOW_ZERO: Reading(None, False, "under_zero"),
    OVERLOAD: Reading(None, False, "over_capacity"),
}

_RECORD_02 = re.compile(rb"\x0202\x1b(\d)\x1b(\d{5})\x1b(\d{6})\x1b(\d{6})\x03")
_RECORD_09 = re.compile(rb"\x0209\x1b(\d\d)\x03")


def price_record(cents_per_kg: int = WEIGHT_ONLY_PRICE) -> bytes:
    """Record 01: the unit price the scale computes the total with."""
    return EOT + STX + b"01" + ESC + b"%06d" % cents_per_kg + ESC + ETX


POLL = EOT + ENQ
ERROR_REQUEST = EOT + STX + b"08" + ETX


def encode_weight(grams: int, cents_per_kg: int = WEIGHT_ONLY_PRICE, status: int = 0) -> bytes:
    """Record 02 (simulator side); the total is rounded to the cent."""
    total = (grams * cents_per_kg + 500) // 1000
    fields = b"%d" % status, b"%05d" % grams, b"%06d" % cents_per_kg, b"%06d" % total
    return STX + b"02" + ESC + ESC.join(fields) + ETX


def encode_error(code: int) -> bytes:
    """Record 09 (simulator side)."""
    return STX + b"09" + ESC + b"%02d" % code + ETX


class DialogSplitter(DelimitedSplitter):
    """Splits a stream into NAKs and `STX … ETX` records; a lone ACK is dropped, the rest is noise."""

    def __init__(self) -> None:
        super().__init__(STX, ETX, MAX_FRAME, singles=NAK, ignored=ACK)


class Dialog(ScaleProtocol):
    name = "dialog"
    title = "Dialog 02/04 (Dibal, CAS ECR type 12)"
    settings = PortSettings(2400, 7, "O", 1)
    poll = price_record() + POLL
    terminator = ETX
    commands = {}  # Dialog 02/04 has no zero or tare records

    def __init__(self) -> None:
        self._last_grams: int | None = None  # from the last record 02, for code 21

    def answer(self, frame: bytes) -> bytes:
        return ERROR_REQUEST if frame == NAK else b""

    def splitter(self) -> FrameSplitter:
        return DialogSplitter()

    def parse(self, frame: bytes) -> Reading:
        if frame == NAK:
            raise ProtocolError("NAK carries no weight; ask for record 08 and read record 09")
        match = _RECORD_02.fullmatch(frame)
        if match is not None:
            grams = self._last_grams = int(match.group(2))
            return Reading(grams, True, "at_zero" if grams == 0 else "ok")
        match = _RECORD_09.fullmatch(frame)
        if match is None:
            raise ProtocolError(f"reply {frame[:MAX_FRAME]!r} is not a Dialog 02 record 02 or 09")
        code = int(match.group(1))
        if code == NO_MOTION_SINCE_LAST:
            if self._last_grams is None:
                return Reading(None, False, "motion")
            return Reading(self._last_grams, True, "at_zero" if self._last_grams == 0 else "ok")
        if code == BELOW_MINIMUM:
            self._last_grams = None
        return CODES.get(code, Reading(None, False, "error"))


class DialogSimulator(PtyScale):
    """A Dialog 02 scale on a pty: record 02 to `EOT ENQ` when it can weigh, else NAK and, on
    record 08, record 09 with why. Like a scale legal for trade, it sends a weight only once
    until the platter moves (code 21)."""

    def __init__(self, link: str | None = None, capacity_g: int = 15_000) -> None:
        super().__init__(link, capacity_g)
        self.min_grams = 40  # below minimum: no weighing (code 30)
        self.price = 0
        self._rx = bytearray()
        self._code = 0
        self._sent: int | None = None

    def answer_byte(self, byte: int) -> bytes:
        self._rx.append(byte)
        rx = bytes(self._rx)
        if rx.endswith(POLL):
            self._rx.clear()
            return self._weigh()
        if rx.endswith(ERROR_REQUEST):
            self._rx.clear()
            return encode_error(self._code)
        record = re.search(rb"\x04\x0201\x1b(\d{6})\x1b\x03$", rx)
        if record is not None:
            self._rx.clear()
            self.price = int(record.group(1))
        del self._rx[: max(0, len(self._rx) - MAX_FRAME)]
        return b""

    def _weigh(self) -> bytes:
        grams = self.grams
        if self.motion:
            self._code, self._sent = MOTION, None
        elif grams > self.capacity_g or grams > MAX_GRAMS:
            self._code = OVERLOAD
        elif grams < 0:
            self._code = BELOW_ZERO
        elif grams < self.min_grams:
            self._code, self._sent = BELOW_MINIMUM, None
        elif grams == self._sent:
            self._code = NO_MOTION_SINCE_LAST
        else:
            self._sent = grams
            return encode_weight(grams, self.price)
        return NAK
