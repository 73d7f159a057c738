"""A Mettler Toledo 8217 scale on a pty, for tests and the demo."""

from __future__ import annotations

import os

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
from devices.scale.pty_simulator import PtyScale


class ScaleSimulator(PtyScale):
    """A Mettler Toledo 8217 scale on a pty; it echoes after `E` until `F`, as 8217 does."""

    def __init__(
        self, link: str | os.PathLike[str] | None = None, capacity_g: int = 15_000
    ) -> None:
        super().__init__(link, capacity_g)
        self._zero = self._tare = 0
        self._echo = False

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
            gross = self.grams - self._zero
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
                self._zero = self.grams  # zero range: 2 % of capacity
            return b""

    def _weight_reply(self, gross: int) -> bytes:
        net, status = gross - self._tare, NET if self._tare else 0
        status |= MOTION if self.motion else 0
        status |= OVER_CAPACITY if gross > self.capacity_g else 0
        status |= UNDER_ZERO if gross < 0 or net < 0 else 0
        if status & (MOTION | OVER_CAPACITY | UNDER_ZERO):
            return encode_status(status)
        return encode_weight(net, net=bool(self._tare))
