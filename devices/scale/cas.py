"""CAS PD-II in ECR type 6: the pure protocol and a pty simulator.

Wire format as in REFERENCE.md ("Scales (serial)"): the POS sends ENQ, the scale answers ACK;
the POS sends DC1, the scale answers the 15-byte frame

    SOH STX STA SIGN W5 W4 W3 W2 W1 W0 U1 U0 BCC ETX EOT

STA is `S` stable or `U` unstable, SIGN ' ' or '-', W5..W0 the weight with its decimal point
(" 1.250"), U1 U0 the unit ("kg"). 9600 baud 8N1 is the PD-II's usual setting; set the scale's
ECR type to 6 and the baud rate to 9600.

Our decisions, to check against a real scale's manual:
- BCC is the XOR of STA through U0 (the ten bytes between STX and BCC). BCC may be any byte,
  even ETX or EOT, so frames are split by length, not by searching for EOT.
- Overload: REFERENCE gives no encoding; we read a weight field of "OL" (padded with spaces,
  as the display shows it) as over capacity.
"""

from __future__ import annotations

import re
from functools import reduce

from devices.scale.protocol import (
    FrameSplitter,
    PortSettings,
    ProtocolError,
    Reading,
    ScaleProtocol,
)
from devices.scale.pty_simulator import PtyScale

SOH, STX, ETX, EOT, ENQ, ACK, DC1 = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05", b"\x06", b"\x11"
FRAME_LEN = 15
STABLE, UNSTABLE = b"S", b"U"
KG = b"kg"
OVERLOAD_FIELD = b"  OL  "
MAX_GRAMS = 99_999  # six characters with the point: "99.999"

_WEIGHT_RE = re.compile(rb" *(\d{1,2})\.(\d{3})")


def bcc(body: bytes) -> int:
    """XOR of the bytes STA through U0."""
    return reduce(lambda a, b: a ^ b, body, 0)


def encode_frame(
    grams: int, stable: bool = True, overload: bool = False, unit: bytes = KG
) -> bytes:
    """The scale's answer to DC1 (simulator side); grams below zero get the '-' sign."""
    field = OVERLOAD_FIELD if overload else b"%2d.%03d" % divmod(abs(grams), 1000)
    body = (STABLE if stable else UNSTABLE) + (b"-" if grams < 0 else b" ") + field + unit
    return SOH + STX + body + bytes([bcc(body)]) + ETX + EOT


class CasSplitter(FrameSplitter):
    """Splits a stream into ACKs and 15-byte `SOH STX … ETX EOT` frames; everything else is noise."""

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        while self._buf:
            if self._buf[:1] == ACK:
                frames.append(ACK)
                del self._buf[:1]
            elif self._buf[:1] != SOH or self._buf[1:2] not in (b"", STX):
                self._skip(1)
            elif len(self._buf) < FRAME_LEN:
                break
            elif self._buf[FRAME_LEN - 2 : FRAME_LEN] == ETX + EOT:
                frames.append(bytes(self._buf[:FRAME_LEN]))
                del self._buf[:FRAME_LEN]
            else:
                self._skip(1)  # a frame cut short; resynchronise on the next SOH
        return frames


class CasPd2(ScaleProtocol):
    name = "cas_pd2"
    title = "CAS PD-II (ECR type 6)"
    settings = PortSettings(9600, 8, "N", 1)
    poll = ENQ
    terminator = EOT
    commands = {}  # type 6 has no zero or tare commands

    def answer(self, frame: bytes) -> bytes:
        return DC1 if frame == ACK else b""

    def splitter(self) -> FrameSplitter:
        return CasSplitter()

    def parse(self, frame: bytes) -> Reading:
        if frame == ACK:
            raise ProtocolError("ACK is the scale's answer to ENQ, not a weight; send DC1 next")
        if len(frame) != FRAME_LEN or frame[:2] != SOH + STX or frame[-2:] != ETX + EOT:
            raise ProtocolError(f"reply {frame[:32]!r} is not a CAS type 6 frame SOH STX … ETX EOT")
        body, check = frame[2:12], frame[12]
        if bcc(body) != check:
            raise ProtocolError(f"frame {frame!r} has BCC {check:#04x}, expected {bcc(body):#04x}")
        sta, sign, field, unit = body[:1], body[1:2], body[2:8], body[8:10]
        if sta not in (STABLE, UNSTABLE) or sign not in (b" ", b"-"):
            raise ProtocolError(
                f"frame {frame!r} has status {sta!r} / sign {sign!r}; expected S|U and ' '|'-'"
            )
        if unit != KG:
            raise ProtocolError(f"scale sends unit {unit!r}; set the scale to kg")
        stable = sta == STABLE
        if field == OVERLOAD_FIELD:
            return Reading(None, False, "over_capacity")
        match = _WEIGHT_RE.fullmatch(field)
        if match is None:
            raise ProtocolError(f"weight field {field!r} is not kg with 3 decimals, like ' 1.250'")
        grams = int(match.group(1)) * 1000 + int(match.group(2))
        if sign == b"-" and grams:
            return Reading(None, stable, "under_zero")
        if not stable:
            return Reading(grams, False, "motion")
        return Reading(grams, True, "at_zero" if grams == 0 else "ok")


class CasSimulator(PtyScale):
    """A CAS PD-II in ECR type 6 on a pty: ACK to ENQ, the weight frame to DC1."""

    def answer_byte(self, byte: int) -> bytes:
        if bytes([byte]) == ENQ:
            return ACK
        if bytes([byte]) != DC1:
            return b""
        over = self.grams > self.capacity_g
        return encode_frame(max(self.grams, -MAX_GRAMS), not self.motion and not over, over)
