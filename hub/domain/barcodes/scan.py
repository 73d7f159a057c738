"""The one scan parser: any scanned text to what it means. Used by lookup, the register and the CLI."""

from __future__ import annotations

from hub.domain.barcodes.gs1 import GS, looks_like_gs1, parse_gs1
from hub.domain.barcodes.gtin import (
    GS1_SYMBOLOGIES,
    ParsedCode,
    check_digit,
    invalid,
    plain_gtin,
    strip_aim,
    upce_to_upca,
)
from hub.domain.barcodes.rcn import REGIONS, compile_patterns, read_rcn

MAX_LENGTH = 128  # a GS1 DataMatrix on a label carries well under this; keep junk bounded


def parse(text: object, region: str = "", pattern: str = "", check_price_digit: bool = True) -> ParsedCode:
    """Parse scanned text into what it means. Never raises.

    region is the store's RCN region (GB, DE, SE, NO, FI, DK, EE, LV, LT, US or "" for none),
    pattern the owner's label patterns (rcn.PATTERN_HELP), check_price_digit whether the
    price/weight check digit inside a scale label is verified.
    """
    if not isinstance(text, str):
        return invalid("the scan is not text")
    code, symbology = strip_aim(text.strip("\r\n\t "))
    if not code:
        return invalid("the scan is empty", symbology)
    if len(code) > MAX_LENGTH:
        return invalid(f"the scan is longer than {MAX_LENGTH} characters", symbology)
    region = region.upper() if isinstance(region, str) else ""
    if region and region not in REGIONS:
        return invalid(f"unknown RCN region {region!r}; use one of {', '.join(REGIONS)} or none", symbology)
    try:
        compile_patterns(pattern or "")
    except ValueError as exc:
        return invalid(f"the store's rcn_pattern cannot be used: {exc}", symbology)
    if not code.replace(GS, "").isascii() or not code.replace(GS, "").isprintable():
        return invalid("the scan holds control or non-ASCII characters; check the scanner's keyboard layout", symbology)
    if symbology in GS1_SYMBOLOGIES or (symbology is None and looks_like_gs1(code)):
        return parse_gs1(code, symbology)
    if GS in code:
        return invalid("the scan holds a GS separator but is not a GS1 symbol", symbology)
    if code.isdigit():
        found = plain_gtin(code, symbology)
        if found is not None:
            if found.valid and len(code) != 14:
                rcn = read_rcn(code, region, pattern or "", check_price_digit, symbology)
                if rcn is not None:
                    return rcn
            return found
        if len(code) in (9, 10, 11):
            return invalid(
                f"{code} has {len(code)} digits: a product code has 8, 12, 13 or 14; the scan looks truncated",
                symbology,
            )
    if len(code) > 64:
        return invalid("the scan is longer than 64 characters and is not a GS1 symbol", symbology)
    # Short numbers (PLUs such as 4011) and shop-made codes are looked up as they are.
    return ParsedCode("internal", True, item_ref=code, symbology=symbology)


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
