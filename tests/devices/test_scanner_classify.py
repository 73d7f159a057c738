"""Telling scanners from keyboards: device descriptions from /proc/bus/input/devices, USB ids,
names and the owner's override. The fixtures are reconstructed from public sources (see
fixtures/scanners/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.scanner.classify import (
    KNOWN_SCANNERS,
    SCANNER_VENDORS,
    InputInfo,
    classify,
    format_bitmap,
    parse_bitmap,
    parse_proc_devices,
)

FIXTURES = Path(__file__).parent / "fixtures" / "scanners"
USB_IDS = Path("/usr/share/misc/usb.ids")
KEYBOARD_KEYS = frozenset(range(1, 84))  # Esc to keypad '.', what every full keyboard has


def fixture(name: str) -> list[InputInfo]:
    return parse_proc_devices((FIXTURES / name).read_bytes().decode())


def test_honeywell_block_is_parsed_field_by_field() -> None:
    [info] = fixture("honeywell-1400g.txt")
    assert (info.name, info.bus, info.vendor, info.product) == (
        "Honeywell Imaging & Mobility 1400g",
        0x03,
        0x0C2E,
        0x0B81,
    )
    assert (info.phys, info.uniq, info.event) == (
        "usb-0000:01:00.0-1.3/input0",
        "17086B1E45",
        "event3",
    )
    assert info.handlers == ("sysrq", "kbd", "leds", "event3")
    assert {1, 2, 11, 28, 42, 54, 58, 96} <= info.keys  # Esc, 1, 0, Enter, shifts, Caps, KP Enter
    assert info.types_codes


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("honeywell-1400g.txt", [("scanner", "Honeywell", "Barcode scanner Voyager 1400g Series")]),
        ("zebra-ds2208.txt", [("scanner", "Zebra", "Bar Code Scanner")]),  # consumer control: none
        ("generic-hid-kbw.txt", [("scanner", "", "")]),
        ("logitech-k120.txt", [("keyboard", "", "")]),  # its control interfaces type no codes
        ("laptop-keyboard.txt", []),  # built in, and two buttons: never offered
    ],
)
def test_fixtures_are_told_apart(name: str, expected: list[tuple[str, str, str]]) -> None:
    found = [classify(info) for info in fixture(name)]
    assert [(c.role, c.manufacturer, c.model) for c in found if c is not None] == expected


def test_the_generic_scanner_is_known_by_its_name_not_its_vendor() -> None:
    [info] = fixture("generic-hid-kbw.txt")
    found = classify(info)
    assert found is not None and "name" in found.reason
    renamed = InputInfo(
        "STMicroelectronics USB Keyboard", info.bus, info.vendor, info.product, keys=info.keys
    )
    assert (found := classify(renamed)) is not None and found.role == "keyboard"


def test_the_owners_choice_wins_both_ways() -> None:
    [keyboard] = fixture("logitech-k120.txt")[:1]
    [scanner] = fixture("honeywell-1400g.txt")
    as_scanner, as_keyboard = classify(keyboard, "scanner"), classify(scanner, "keyboard")
    assert as_scanner is not None and as_scanner.role == "scanner"
    assert as_keyboard is not None and as_keyboard.role == "keyboard"
    assert as_keyboard.manufacturer == "Honeywell", "the announcement still names the maker"


def test_an_override_cannot_make_a_power_button_type() -> None:
    power = fixture("laptop-keyboard.txt")[0]
    assert power.name == "Power Button" and classify(power, "scanner") is None


names_without_hints = st.text(
    alphabet=st.characters(codec="ascii", categories=("L", "N", "Zs")), max_size=40
).filter(lambda n: classify(InputInfo(n, 3, 0x046D, 0xC31C, keys=KEYBOARD_KEYS)) is not None)


@given(
    name=st.sampled_from(
        [
            "Logitech USB Keyboard",
            "Dell KB216 Wired Keyboard",
            "Raspberry Pi Keyboard",
            "Keychron K2",
        ]
    )
    | names_without_hints,
    vendor=st.integers(0, 0xFFFF).filter(lambda v: v not in SCANNER_VENDORS),
    product=st.integers(0, 0xFFFF),
)
def test_keyboards_are_never_taken_for_scanners(name: str, vendor: int, product: int) -> None:
    lowered = name.lower()
    if (vendor, product) in KNOWN_SCANNERS or any(
        hint in lowered for hint in ("scanner", "barcode", "bar code", "kbw", "imager")
    ):
        return
    found = classify(InputInfo(name, 3, vendor, product, keys=KEYBOARD_KEYS))
    assert found is not None and found.role == "keyboard"


@given(st.frozensets(st.integers(0, 767)), st.sampled_from([32, 64]))
def test_bitmap_parse_inverts_format(bits: frozenset[int], word_bits: int) -> None:
    assert parse_bitmap(format_bitmap(bits, word_bits), word_bits) == bits


@given(
    name=st.text(
        alphabet=st.sampled_from([chr(c) for c in range(32, 127) if chr(c) != '"']), max_size=60
    ).map(str.strip),
    vendor=st.integers(0, 0xFFFF),
    product=st.integers(0, 0xFFFF),
    keys=st.frozensets(st.integers(0, 767)),
    event=st.integers(0, 99),
)
def test_a_formatted_block_parses_back(
    name: str, vendor: int, product: int, keys: frozenset[int], event: int
) -> None:
    block = (
        f"I: Bus=0003 Vendor={vendor:04x} Product={product:04x} Version=0110\n"
        f'N: Name="{name}"\nP: Phys=usb-1.2/input0\nU: Uniq=\n'
        f"H: Handlers=sysrq kbd event{event} leds \nB: PROP=0\nB: EV=120013\n"
        f"B: KEY={format_bitmap(keys)}\nB: MSC=10\n\n"
    )
    [info] = parse_proc_devices(block * 1)
    assert (info.name, info.vendor, info.product, info.keys, info.event) == (
        name,
        vendor,
        product,
        keys,
        f"event{event}",
    )
    assert len(parse_proc_devices(block * 3)) == 3


def test_32_bit_kernels_print_shorter_words() -> None:
    keys = fixture("honeywell-1400g.txt")[0].keys
    assert parse_bitmap(format_bitmap(keys, 32), 32) == keys
    assert format_bitmap(keys, 32) != format_bitmap(keys, 64)


def _usb_ids() -> tuple[dict[int, str], dict[tuple[int, int], str]]:
    vendors: dict[int, str] = {}
    products: dict[tuple[int, int], str] = {}
    vendor = -1
    for line in USB_IDS.read_text(encoding="latin-1").splitlines():
        if line.startswith("C "):  # device classes follow the vendors
            break
        if not line or line.startswith("#"):
            continue
        if not line.startswith("\t"):
            vendor = int(line[:4], 16)
            vendors[vendor] = line[4:].strip()
        elif not line.startswith("\t\t"):
            products[(vendor, int(line[1:5], 16))] = line[5:].strip()
    return vendors, products


@pytest.mark.skipif(not USB_IDS.exists(), reason="install the usb.ids package to check the tables")
def test_every_id_is_in_the_usb_id_repository() -> None:
    vendors, products = _usb_ids()
    assert all(vendor in vendors for vendor in SCANNER_VENDORS), "a vendor id usb.ids does not know"
    for (vendor, product), (_maker, model) in KNOWN_SCANNERS.items():
        assert products.get((vendor, product)) == model, f"{vendor:04x}:{product:04x}"
