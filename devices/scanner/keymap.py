"""Key events of a USB barcode scanner (HID keyboard, US layout) to text, and back.

Pure: no evdev device, no X11 keymap. Scanners send key positions; we set them to the US layout
and translate the positions ourselves, so a German or French system keymap can never turn
digits into symbols (the bug Odoo's IoT box had, odoo/odoo PR #214407).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from devices.bus import AIM_SYMBOLOGIES

EV_KEY = 1
KEY_UP, KEY_DOWN, KEY_REPEAT = 0, 1, 2

KEY_TAB, KEY_LEFTBRACE, KEY_RIGHTBRACE, KEY_ENTER = 15, 26, 27, 28
KEY_LEFTCTRL, KEY_RIGHTCTRL = 29, 97
KEY_LEFTSHIFT, KEY_RIGHTSHIFT = 42, 54
KEY_LEFTALT, KEY_RIGHTALT = 56, 100
KEY_CAPSLOCK = 58
KEY_KPENTER = 96

TERMINATORS = frozenset({KEY_ENTER, KEY_KPENTER, KEY_TAB})


def _row(first_code: int, normal: str, shifted: str) -> dict[int, tuple[str, str]]:
    return {first_code + i: (n, s) for i, (n, s) in enumerate(zip(normal, shifted, strict=True))}


# Linux input-event-codes.h, US layout: code -> (unshifted, shifted).
US_KEYS: dict[int, tuple[str, str]] = {
    **_row(2, "1234567890-=", "!@#$%^&*()_+"),
    **_row(16, "qwertyuiop[]", "QWERTYUIOP{}"),
    **_row(30, "asdfghjkl;'`", 'ASDFGHJKL:"~'),
    **_row(43, "\\zxcvbnm,./", "|ZXCVBNM<>?"),
    57: (" ", " "),
}
# Keypad with NumLock on; shift does not change them.
KEYPAD: dict[int, str] = {
    55: "*",
    71: "7",
    72: "8",
    73: "9",
    74: "-",
    75: "4",
    76: "5",
    77: "6",
    78: "+",
    79: "1",
    80: "2",
    81: "3",
    82: "0",
    83: ".",
    98: "/",
}

GS = "\x1d"


@dataclass(frozen=True)
class DecodedScan:
    """One completed read: raw is everything typed; data is raw without the AIM prefix."""

    raw: str
    data: str
    aim: str = ""
    symbology: str = ""


def split_aim(raw: str) -> DecodedScan:
    """Separate an AIM prefix such as "]C1" from the data; unknown prefixes are still split."""
    if (
        len(raw) > 3
        and raw[0] == "]"
        and raw[1].isascii()
        and raw[1].isalpha()
        and raw[2].isascii()
        and raw[2].isalnum()
    ):
        return DecodedScan(raw, raw[3:], raw[:3], AIM_SYMBOLOGIES.get(raw[:3], ""))
    return DecodedScan(raw, raw)


def _control(normal: str, shifted: str, shift: bool) -> str | None:
    """Ctrl+key: the character's upper case minus 64 (Ctrl+] is GS), as a terminal does."""
    for ch in ((shifted if shift else normal), shifted):
        up = ch.upper()
        if "@" <= up <= "_":
            return chr(ord(up) - 64)
    return None


_MODIFIERS = {
    KEY_LEFTSHIFT: "shift",
    KEY_RIGHTSHIFT: "shift",
    KEY_LEFTCTRL: "ctrl",
    KEY_RIGHTCTRL: "ctrl",
    KEY_LEFTALT: "alt",
    KEY_RIGHTALT: "alt",
}


class KeyDecoder:
    """Feed key events one at a time; get a DecodedScan when a terminator key goes down."""

    def __init__(self) -> None:
        self._buf: list[str] = []
        self._held: dict[str, set[int]] = {"shift": set(), "ctrl": set(), "alt": set()}
        self._caps = False
        self._alt_digits = ""

    @property
    def pending(self) -> str:
        return "".join(self._buf)

    def reset(self) -> str:
        """Forget everything (the device went away); return the partial code that was dropped."""
        partial = self.pending
        self._buf.clear()
        for held in self._held.values():
            held.clear()
        self._caps, self._alt_digits = False, ""
        return partial

    def feed(self, type_: int, code: int, value: int) -> DecodedScan | None:
        if type_ != EV_KEY or value == KEY_REPEAT:
            return None
        modifier = _MODIFIERS.get(code)
        if modifier is not None:
            held = self._held[modifier]
            if value == KEY_DOWN:
                held.add(code)
            elif code in held:
                held.discard(code)
                if modifier == "alt" and not held:
                    self._end_alt_code()
            return None
        if value != KEY_DOWN:
            return None
        if code == KEY_CAPSLOCK:
            self._caps = not self._caps
        elif code in TERMINATORS:
            raw = self.pending
            self._buf.clear()
            return split_aim(raw) if raw else None
        elif self._held["alt"]:
            if code in KEYPAD and KEYPAD[code].isdigit():
                self._alt_digits += KEYPAD[code]
        else:
            self._type(code)
        return None

    def _type(self, code: int) -> None:
        shift, ctrl = bool(self._held["shift"]), bool(self._held["ctrl"])
        if code in KEYPAD and not ctrl:
            self._buf.append(KEYPAD[code])
            return
        if code not in US_KEYS:
            return
        normal, shifted = US_KEYS[code]
        if ctrl:
            ch = _control(normal, shifted, shift)
            if ch is not None:
                self._buf.append(ch)
            return
        if normal.isalpha():
            shift = shift != self._caps
        self._buf.append(shifted if shift else normal)

    def _end_alt_code(self) -> None:
        if self._alt_digits:
            self._buf.append(alt_code(self._alt_digits))
        self._alt_digits = ""


def alt_code(digits: str) -> str:
    """The character of a Windows Alt+keypad code, as scanners in "ALT mode" send them.

    Zebra, Honeywell and Datalogic scanners can type characters a US keyboard has no key for by
    holding Alt and typing the code on the keypad (Alt, 0 2 9, release: GS). We follow Windows,
    which these scanners are made for: codes 0-127 are ASCII, control characters included; a
    code with a leading zero (Alt+0233) is Windows-1252, without one (Alt+130) the OEM code page
    437; codes past 255 wrap modulo 256. Bytes Windows-1252 leaves undefined are taken as Latin-1.
    """
    n = int(digits) % 256
    if n < 128:
        return chr(n)
    try:
        return bytes([n]).decode("cp1252" if digits.startswith("0") else "cp437")
    except UnicodeDecodeError:
        return chr(n)


def _build_encoding() -> dict[str, tuple[int | None, int]]:
    """char -> (modifier key or None, key code); prefer the plainest way to type it."""
    table: dict[str, tuple[int | None, int]] = {}
    for code, (normal, shifted) in US_KEYS.items():
        table.setdefault(normal, (None, code))
        table.setdefault(shifted, (KEY_LEFTSHIFT, code))
    for code, (normal, shifted) in US_KEYS.items():
        ch = _control(normal, shifted, shift=False)
        if ch is not None:
            table.setdefault(ch, (KEY_LEFTCTRL, code))
    return table


_ENCODING = _build_encoding()


def encode(
    text: str, terminator: int | None = KEY_ENTER, *, caps_lock: bool = False
) -> list[tuple[int, int]]:
    """The (code, value) key events a US-layout scanner sends to type text, then terminator.

    With caps_lock, the scanner turns Caps Lock on first and types letters with the shift
    inverted, as a scanner set to "Caps Lock on" does; it turns it off again at the end.
    """
    events: list[tuple[int, int]] = []
    if caps_lock:
        events += [(KEY_CAPSLOCK, KEY_DOWN), (KEY_CAPSLOCK, KEY_UP)]
    for ch in text:
        if ch not in _ENCODING:
            raise ValueError(f"character {ch!r} cannot be typed by a US-layout scanner")
        modifier, code = _ENCODING[ch]
        if caps_lock and ch.isascii() and ch.isalpha():
            modifier = None if modifier == KEY_LEFTSHIFT else KEY_LEFTSHIFT
        if modifier is not None:
            events.append((modifier, KEY_DOWN))
        events += [(code, KEY_DOWN), (code, KEY_UP)]
        if modifier is not None:
            events.append((modifier, KEY_UP))
    if caps_lock:
        events += [(KEY_CAPSLOCK, KEY_DOWN), (KEY_CAPSLOCK, KEY_UP)]
    if terminator is not None:
        events += [(terminator, KEY_DOWN), (terminator, KEY_UP)]
    return events


def decode(events: Iterable[tuple[int, int]]) -> list[str]:
    """Raw text of every scan completed by a sequence of (code, value) key events."""
    decoder = KeyDecoder()
    scans = (decoder.feed(EV_KEY, code, value) for code, value in events)
    return [scan.raw for scan in scans if scan is not None]
