"""An NCI / Weigh-Tronix scale on a pty, for tests and the demo; it speaks what the driver reads."""

from __future__ import annotations

import os

from devices.scale.nci import (
    AT_ZERO,
    CR,
    MOTION,
    OVER_CAPACITY,
    STATUS,
    UNDER_CAPACITY,
    UNKNOWN_REPLY,
    WEIGHT,
    ZERO,
    encode_status,
    encode_weight,
)
from devices.scale.pty_simulator import PtyScale


class NCISimulator(PtyScale):
    """An NCI scale: answers W, S and Z (each ending in CR), `?` to anything else.

    Over capacity it sends dashes where the weight goes, as the display shows, so the driver
    must go by the status bytes. `unit` = "lb" makes it weigh in pounds (a misset scale).
    """

    unit = "kg"

    def __init__(
        self, link: str | os.PathLike[str] | None = None, capacity_g: int = 15_000
    ) -> None:
        super().__init__(link, capacity_g)
        self._line = bytearray()
        self._zero = 0

    def _replies(self, data: bytes) -> list[bytes]:
        replies = []
        self._line += data
        while (end := self._line.find(CR)) != -1:
            command = bytes(self._line[: end + 1])
            del self._line[: end + 1]
            replies.append(self._answer(command))
        return replies

    def _answer(self, command: bytes) -> bytes:
        with self._lock:
            gross = self.grams - self._zero
            if command == ZERO and not self.motion and abs(gross) <= self.capacity_g // 50:
                self._zero, gross = self.grams, 0
            status1, status2 = self._status(gross)
            if command == WEIGHT:
                reply = encode_weight(gross, status1, status2)
                if status2 & OVER_CAPACITY:
                    reply = b"\n-------kg\r" + reply[reply.index(b"\r") + 1 :]
                if self.unit != "kg":
                    reply = reply.replace(b"kg", self.unit.encode())
                return self._take_noise() + reply
            if command in (STATUS, ZERO):
                return encode_status(status1, status2)
            return UNKNOWN_REPLY

    def _status(self, gross: int) -> tuple[int, int]:
        status1 = (MOTION if self.motion else 0) | (AT_ZERO if gross == 0 else 0)
        status2 = (OVER_CAPACITY if gross > self.capacity_g else 0) | (
            UNDER_CAPACITY if gross < 0 else 0
        )
        return status1, status2
