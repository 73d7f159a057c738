"""Adam Equipment AZExtra: the pure protocol and a pty simulator.

As in REFERENCE.md ("Scales (serial)"): 4800 baud 8N1; the POS sends `P CR LF` and the scale
prints the weight as a line, `  1.250kg CR LF` (kg with three decimals, right-aligned, a leading
'-' below zero). It answers only on a new non-zero weight: no answer means "nothing new" (the
same weight as the last line, an empty platter, or the platter still moving), not an error.

So this protocol has no probe, and a driver must not count silence as a missed reply: it keeps
showing the last weight and learns that the scale is gone only from the port (an unplugged
USB cable). `silence_is_normal` says so to the loop. A line garbled on the wire is not sent
again until the weight changes. Because zero, motion and overload are never sent, a POS must not take a weight from this scale without a fresh line for the item at hand.
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
from devices.scale.pty_simulator import PtyScale

CR, LF = b"\r", b"\n"
PRINT = b"P\r\n"
MAX_LINE = 24  # longest sane line; anything longer without LF is noise
MAX_GRAMS = 999_999

_LINE_RE = re.compile(rb" *(-?) *(\d{1,3})\.(\d{3}) *([A-Za-z]{1,3})\r?\n")


def encode_line(grams: int) -> bytes:
    """The scale's line for a weight (simulator side)."""
    kg = b"%d.%03d" % divmod(abs(grams), 1000)
    return (b"-" + kg if grams < 0 else kg).rjust(7) + b"kg" + CR + LF


class LineSplitter(FrameSplitter):
    """Splits a stream into LF-terminated lines of printable ASCII; anything else is noise."""

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        while True:
            end = self._buf.find(LF)
            line = self._buf if end < 0 else self._buf[: end + 1]
            bad = next(
                (i for i, b in enumerate(line) if not (0x20 <= b < 0x7F or b in b"\r\n")), -1
            )
            if bad >= 0:
                self._skip(bad + 1)  # a line cut by a binary byte: drop it and what came before
            elif end >= 0:
                frames.append(bytes(line))
                del self._buf[: end + 1]
            else:
                if len(self._buf) > MAX_LINE:
                    self._skip(len(self._buf))
                return frames


class AdamAzExtra(ScaleProtocol):
    name = "adam"
    title = "Adam Equipment AZExtra"
    settings = PortSettings(4800, 8, "N", 1)
    poll = PRINT
    terminator = LF
    commands = {}
    silence_is_normal = True  # no reply to P means "no new weight"

    def splitter(self) -> FrameSplitter:
        return LineSplitter()

    def parse(self, frame: bytes) -> Reading:
        match = _LINE_RE.fullmatch(frame)
        if match is None:
            raise ProtocolError(f"line {frame[:MAX_LINE]!r} is not a weight like '  1.250kg'")
        minus, whole, frac, unit = match.groups()
        if unit != b"kg":
            raise ProtocolError(f"scale prints weights in {unit.decode()!r}; set the scale to kg")
        grams = int(whole) * 1000 + int(frac)
        if minus and grams:
            return Reading(None, True, "under_zero")
        return Reading(grams, True, "at_zero" if grams == 0 else "ok")


class AdamSimulator(PtyScale):
    """An AZExtra on a pty: a line for `P CR LF` only when the weight is new, non-zero and settled.

    Motion and overload are silent, as on the scale (it shows them on its display only).
    """

    def __init__(self, link: str | None = None, capacity_g: int = 15_000) -> None:
        super().__init__(link, capacity_g)
        self._line = bytearray()
        self._sent: int | None = None

    def answer_byte(self, byte: int) -> bytes:
        self._line.append(byte)
        if not self._line.endswith(PRINT):
            del self._line[: max(0, len(self._line) - len(PRINT))]
            return b""
        self._line.clear()
        grams = self.grams
        if self.motion or grams == 0 or grams == self._sent or grams > self.capacity_g:
            if grams == 0:
                self._sent = None  # back to zero: the same weight put back on is new again
            return b""
        self._sent = grams
        return encode_line(max(grams, -MAX_GRAMS))
