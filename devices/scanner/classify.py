"""Which input devices are barcode scanners: known USB ids, the device's name, the owner's word.

Pure: a function of what /proc/bus/input/devices says about a device (parsed here too) and the
role the owner chose on the status page. Every USB id below was checked against the USB ID
repository (usb.ids 2025.07.26, Debian package usb.ids); the name it gives there is in the
comment, as in systemd/99-backroom.rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["scanner", "keyboard"]

BUS_USB, BUS_BLUETOOTH = 0x03, 0x05  # linux/input.h BUS_*
KEY_ENTER = 28
DIGIT_KEYS = frozenset(range(2, 12))  # KEY_1 .. KEY_0

# Makers whose USB vendor id is used for scanners and scan engines only, so any keyboard-like
# device under it is a scanner. STMicro 0483, QinHeng 1a86, Holtek 04d9 and Cypress 04b4 are
# left out on purpose: cheap scanners use their chips, but so do keyboards.
SCANNER_VENDORS: dict[int, str] = {
    0x0536: "Honeywell",  # Hand Held Products (Welch Allyn, Inc.)
    0x0C2E: "Honeywell",  # Metrologic Instruments
    0x05E0: "Zebra",  # Symbol Technologies
    0x067E: "Honeywell",  # Intermec Technologies Corp.
    0x05F9: "Datalogic",  # PSC Scanning, Inc.
    0x080C: "Datalogic",  # Datalogic S.p.A.
    0x065A: "Opticon",  # Optoelectronics Co., Ltd
    0x1EAB: "Newland",  # Fujian Newland Computer Co., Ltd
}

# Scanners sold under a chip maker's or another company's vendor id: only these products.
# The model is usb.ids' product name.
KNOWN_SCANNERS: dict[tuple[int, int], tuple[str, str]] = {
    (0x03F0, 0x0139): ("HP", "Barcode Scanner 4430"),  # HP, Inc
    (0x03F0, 0x1D24): ("HP", "Barcode scanner"),  # HP, Inc
    (0x040B, 0x6510): ("Weltrend", "Weltrend Bar Code Reader"),  # Weltrend Semiconductor
    (0x0416, 0xC141): ("Winbond", "Barcode Scanner"),  # Winbond Electronics Corp.
    (0x04B4, 0x0100): ("Cino", "Cino FuzzyScan F760-B"),  # Cypress Semiconductor Corp.
    (0x04B4, 0xBCA1): ("Cypress", "Barcode Reader"),  # Cypress Semiconductor Corp.
    (0x04B4, 0xDE61): ("Cypress", "Barcode Reader"),  # Cypress Semiconductor Corp.
    (0x04B4, 0xDE64): ("Cypress", "Barcode Reader"),  # Cypress Semiconductor Corp.
    (0x0581, 0x0107): ("Tera", "Tera Barcode Scanner 2.4 GHz Receiver"),  # Racal Data Group
    (0x0581, 0x020C): ("Tera", "Tera 2D Barcode Scanner EVHK0012"),  # Racal Data Group
    (0x05E3, 0x0880): ("Wasp", "Wasp (SL-6612)"),  # Genesys Logic, Inc.
    # Under the scanner vendors above; listed for their model names.
    (0x0C2E, 0x0204): ("Honeywell", "Metrologic MS7120 Barcode Scanner (keyboard mode)"),
    (0x0C2E, 0x0B61): ("Honeywell", "Vuquest 3310g"),
    (0x0C2E, 0x0B81): ("Honeywell", "Barcode scanner Voyager 1400g Series"),
    (0x05E0, 0x1200): ("Zebra", "Bar Code Scanner"),
    (0x05F9, 0x2206): ("Datalogic", "Gryphon series (keyboard emulation mode)"),
    (0x065A, 0x0001): ("Opticon", "Opticon OPR-2001 / NLV-1001 (keyboard mode)"),
    (0x067E, 0x0801): ("Honeywell", "HID Keyboard, Barcode scanner"),
    (0x1EAB, 0x1A03): ("Newland", "HR3290 corded/HR22 Barcode scanner engine (HID keyboard)"),
}

# Words in a device name that only scanners use. "KBW" is "keyboard wedge", the name generic
# scanners give their HID keyboard interface ("... HID KBW"); a keyboard never calls itself that.
NAME_HINTS = re.compile(r"scanner|barcode|bar code|\bkbw\b|\bimager\b", re.IGNORECASE)


@dataclass(frozen=True)
class InputInfo:
    """One input device as the kernel describes it in /proc/bus/input/devices."""

    name: str
    bus: int = 0
    vendor: int = 0
    product: int = 0
    phys: str = ""
    uniq: str = ""
    sysfs: str = ""
    handlers: tuple[str, ...] = ()
    keys: frozenset[int] = field(default_factory=frozenset)

    @property
    def event(self) -> str:
        """The event node's name (event3), or "" for a device that has none."""
        return next((h for h in self.handlers if h.startswith("event")), "")

    @property
    def types_codes(self) -> bool:
        """Whether it can type a code: the digit row and Enter, as scanners and keyboards do."""
        return KEY_ENTER in self.keys and self.keys >= DIGIT_KEYS


@dataclass(frozen=True)
class Classification:
    role: Role
    reason: str  # why, for the log and the status page
    manufacturer: str = ""
    model: str = ""


def classify(info: InputInfo, override: Role | None = None) -> Classification | None:
    """Scanner or keyboard; None for what cannot type a code or is no plug-in device.

    Built-in keyboards (i8042, bus 0x11), power buttons and virtual devices are never offered:
    only USB and Bluetooth devices can be scanners.
    """
    if not info.types_codes or info.bus not in (BUS_USB, BUS_BLUETOOTH):
        return None
    manufacturer, model = KNOWN_SCANNERS.get((info.vendor, info.product), ("", ""))
    manufacturer = manufacturer or SCANNER_VENDORS.get(info.vendor, "")
    ids = f"{info.vendor:04x}:{info.product:04x}"
    if override is not None:
        return Classification(override, f"the owner chose {override}", manufacturer, model)
    if model:
        return Classification("scanner", f"known scanner {ids}", manufacturer, model)
    if info.vendor in SCANNER_VENDORS:
        return Classification("scanner", f"scanner maker's vendor id {ids}", manufacturer, model)
    if NAME_HINTS.search(info.name):
        return Classification("scanner", f"its name {info.name!r} says so", manufacturer, model)
    return Classification("keyboard", f"{ids} {info.name!r} is not a known scanner")


def parse_proc_devices(text: str, word_bits: int = 64) -> list[InputInfo]:
    """Every device block of /proc/bus/input/devices.

    Bitmaps (B: KEY=...) are hex words of the kernel's long, most significant first: 64 bits on
    a 64-bit kernel, 32 on 32-bit Raspberry Pi OS (give word_bits).
    """
    return [info for block in re.split(r"\n\s*\n", text) if (info := _block(block, word_bits))]


def _block(block: str, word_bits: int) -> InputInfo | None:
    fields: dict[str, str] = {}
    ids: dict[str, int] = {}
    keys: frozenset[int] = frozenset()
    for line in block.split("\n"):
        tag, _, rest = line.partition(": ")
        if tag == "I":
            for pair in rest.split():
                name, _, value = pair.partition("=")
                ids[name] = int(value, 16) if value else 0
        elif tag in ("N", "P", "S", "U", "H"):
            key, _, value = rest.partition("=")
            fields[key] = value.strip().strip('"') if key == "Name" else value.strip()
        elif tag == "B" and rest.startswith("KEY="):
            keys = parse_bitmap(rest[4:], word_bits)
    if "Name" not in fields and not ids:
        return None
    return InputInfo(
        name=fields.get("Name", ""),
        bus=ids.get("Bus", 0),
        vendor=ids.get("Vendor", 0),
        product=ids.get("Product", 0),
        phys=fields.get("Phys", ""),
        uniq=fields.get("Uniq", ""),
        sysfs=fields.get("Sysfs", ""),
        handlers=tuple(fields.get("Handlers", "").split()),
        keys=keys,
    )


def parse_bitmap(text: str, word_bits: int = 64) -> frozenset[int]:
    """The bit numbers set in a kernel bitmap printed as hex words, most significant first."""
    value = 0
    for word in text.split():
        value = (value << word_bits) | int(word, 16)
    return frozenset(bit for bit in range(value.bit_length()) if value >> bit & 1)


def format_bitmap(bits: frozenset[int], word_bits: int = 64) -> str:
    """The kernel's way of printing a bitmap (the inverse of parse_bitmap), for fixtures."""
    value = sum(1 << bit for bit in bits)
    words = []
    while True:
        words.append(f"{value & ((1 << word_bits) - 1):x}")
        value >>= word_bits
        if not value:
            break
    return " ".join(reversed(words))
