"""What a scan means (ParsedCode), GS1 check digits, UPC-E expansion and AIM identifiers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from devices.bus import AIM_SYMBOLOGIES  # the device bus contract: one table for both sides
from hub.domain.money import div_half_up

KINDS = ("gtin", "rcn_price", "rcn_weight", "rcn_count", "gs1", "internal", "unknown")

# AIM symbology identifiers (ISO/IEC 15424) we know; stripped before parsing. The GS1 ones
# carry element strings (GS1 General Specifications 5.1.2, 5.4.1); ]E3 is EAN/UPC with an
# add-on, ]E1/]E2 the bare add-ons.
GS1_SYMBOLOGIES = frozenset({"gs1-128", "gs1-databar", "gs1-datamatrix", "gs1-qr"})


@dataclass(frozen=True)
class ParsedCode:
    kind: str  # one of KINDS
    valid: bool
    gtin: str | None = None  # GTIN-14; for a variable-measure code, with its variable part zeroed
    item_ref: str | None = None
    price_minor: int | None = None
    weight_g: int | None = None
    count: int | None = None
    expiry: str | None = None  # ISO date
    lot: str | None = None
    error: str | None = None
    symbology: str | None = None
    serial: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def invalid(error: str, symbology: str | None = None, kind: str = "unknown") -> ParsedCode:
    return ParsedCode(kind, False, error=error, symbology=symbology)


def check_digit(payload: str) -> int:
    """GS1 mod-10 check digit of the digits before it: weights 3,1,3,1... from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return (10 - total % 10) % 10


def with_check_digit(payload: str) -> str:
    return payload + str(check_digit(payload))


def upce_to_upca(code: str) -> str:
    """Expand an 8-digit UPC-E (number system 0 or 1) to its 12-digit UPC-A."""
    ns, d, check = code[0], code[1:7], code[7]
    last = d[5]
    if last in "012":
        body = d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        body = d[0:3] + "00000" + d[3:5]
    elif last == "4":
        body = d[0:4] + "00000" + d[4]
    else:
        body = d[0:5] + "0000" + last
    return ns + body + check


def strip_aim(text: str) -> tuple[str, str | None]:
    if len(text) >= 3 and text[0] == "]" and text[:3] in AIM_SYMBOLOGIES:
        return text[3:], AIM_SYMBOLOGIES[text[:3]]
    return text, None


def check_digit_error(label: str, digits: str) -> str | None:
    expected = check_digit(digits[:-1])
    got = int(digits[-1])
    if expected == got:
        return None
    return f"{label} {digits}: check digit expected {expected} got {got}; rescan or type the code again"


def gtin_code(digits: str, label: str, symbology: str | None) -> ParsedCode:
    error = check_digit_error(label, digits)
    if error:
        return invalid(error, symbology, kind="gtin")
    return ParsedCode("gtin", True, gtin=digits.zfill(14), symbology=symbology)


def plain_gtin(code: str, symbology: str | None) -> ParsedCode | None:
    """Read an all-digit code of a GTIN length (8, 12, 13, 14); None for other lengths."""
    n = len(code)
    if n == 13:
        return gtin_code(code, "EAN-13", symbology)
    if n == 8:
        if symbology == "ean8" or code[0] not in "01":
            return gtin_code(code, "EAN-8", symbology)
        # An 8-digit code starting 0/1 is UPC-E unless it checks as EAN-8 only.
        upca = upce_to_upca(code)
        if check_digit(upca[:-1]) == int(upca[-1]):
            return ParsedCode("gtin", True, gtin=upca.zfill(14), symbology=symbology)
        return gtin_code(code, "EAN-8", symbology)
    if n == 12:
        return gtin_code(code, "UPC-A", symbology)
    if n == 14:
        return gtin_code(code, "GTIN-14", symbology)
    return None


def scaled_half_up(value: Decimal, factor: int) -> int:
    """value x factor as an integer, rounded half up (kg -> g, major -> minor units)."""
    num, den = value.as_integer_ratio()
    return div_half_up(num * factor, den)
