"""Reading scanned codes. Foundation scope: GTIN check digits (EAN-13/8, UPC-A/E, GTIN-14).

parse() never raises: every input gives a ParsedCode, with error saying what is wrong.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# AIM symbology identifiers (ISO/IEC 15424) we know; stripped before parsing.
AIM_SYMBOLOGIES = {
    "]E0": "ean13", "]E4": "ean8", "]C1": "gs1-128", "]C0": "code128",
    "]e0": "gs1-databar", "]d2": "gs1-datamatrix", "]Q3": "gs1-qr", "]A0": "code39",
}


@dataclass(frozen=True)
class ParsedCode:
    kind: str  # gtin | rcn_price | rcn_weight | rcn_count | gs1 | internal | unknown
    valid: bool
    gtin: str | None = None
    item_ref: str | None = None
    price_minor: int | None = None
    weight_g: int | None = None
    count: int | None = None
    expiry: str | None = None
    lot: str | None = None
    error: str | None = None
    symbology: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_digit(payload: str) -> int:
    """GS1 mod-10 check digit of the digits before it: weights 3,1,3,1... from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return (10 - total % 10) % 10


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


def gtin_readings(text: str) -> list[str]:
    """Every valid GTIN-14 an 8-digit code can mean: EAN-8 and, for 0/1 prefixes, UPC-E.

    A scanner with AIM identifiers on says which one it read; without them the digits alone
    are ambiguous, so an item stored under one reading must still be found by the other.
    """
    code, _ = strip_aim(text.strip("\r\n\t "))
    if len(code) != 8 or not code.isdigit():
        parsed = parse(text)
        return [parsed.gtin] if parsed.gtin else []
    found = []
    if check_digit(code[:-1]) == int(code[-1]):
        found.append(code.zfill(14))
    if code[0] in "01":
        upca = upce_to_upca(code)
        if check_digit(upca[:-1]) == int(upca[-1]):
            found.append(upca.zfill(14))
    return found


def strip_aim(text: str) -> tuple[str, str | None]:
    if len(text) >= 3 and text[0] == "]" and text[:3] in AIM_SYMBOLOGIES:
        return text[3:], AIM_SYMBOLOGIES[text[:3]]
    return text, None


def _gtin(digits: str, label: str, symbology: str | None) -> ParsedCode:
    expected = check_digit(digits[:-1])
    got = int(digits[-1])
    if expected != got:
        return ParsedCode(
            "gtin", False, symbology=symbology,
            error=f"{label} {digits}: check digit expected {expected} got {got}; rescan or type the code again",
        )
    return ParsedCode("gtin", True, gtin=digits.zfill(14), symbology=symbology)


def parse(text: str) -> ParsedCode:
    """Parse scanned text into what it means. Never raises."""
    if not isinstance(text, str):
        return ParsedCode("unknown", False, error="the scan is not text")
    code, symbology = strip_aim(text.strip("\r\n\t "))
    if not code:
        return ParsedCode("unknown", False, symbology=symbology, error="the scan is empty")
    if not code.isascii() or not code.isprintable():
        return ParsedCode(
            "unknown", False, symbology=symbology,
            error="the scan holds control or non-ASCII characters this hub cannot read yet",
        )
    if code.isdigit():
        n = len(code)
        if n == 13:
            return _gtin(code, "EAN-13", symbology)
        if n == 8:
            if symbology == "ean8" or code[0] not in "01":
                return _gtin(code, "EAN-8", symbology)
            # An 8-digit code starting 0/1 is UPC-E unless it checks as EAN-8 only.
            upca = upce_to_upca(code)
            if check_digit(upca[:-1]) == int(upca[-1]):
                return ParsedCode("gtin", True, gtin=upca.zfill(14), symbology=symbology)
            return _gtin(code, "EAN-8", symbology)
        if n == 12:
            return _gtin(code, "UPC-A", symbology)
        if n == 14:
            return _gtin(code, "GTIN-14", symbology)
        if n in (9, 10, 11):
            return ParsedCode(
                "unknown", False, symbology=symbology,
                error=f"{code} has {n} digits: a product code has 8, 12, 13 or 14; the scan looks truncated",
            )
    if len(code) > 64:
        return ParsedCode("unknown", False, symbology=symbology, error="the scan is longer than 64 characters")
    # Short numbers (PLUs such as 4011) and shop-made codes are looked up as they are.
    return ParsedCode("internal", True, item_ref=code, symbology=symbology)
