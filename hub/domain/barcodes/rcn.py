"""Restricted-circulation (variable-measure) codes from scale labels: price, weight, count.

The layout of EAN-13 prefixes 02 and 20-29 is set by each country's GS1 office (GS1 General
Specifications 2.1.11-12). biip carries the rules for DK, EE, FI, DE, GB, LV, LT, NO and SE;
the US layout (UPC-A number system 2) and the owner's own pattern are read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from hub.domain.barcodes.gtin import ParsedCode, invalid, scaled_half_up, with_check_digit
from hub.domain.money import div_half_up

BIIP_REGIONS = ("GB", "DE", "SE", "NO", "FI", "DK", "EE", "LV", "LT")
REGIONS = (*BIIP_REGIONS, "US")

PATTERN_HELP = (
    "Your scale's own label layout in Odoo's notation, matched against the scanned digits from "
    "the left: a digit must be itself, '.' is an item-reference digit, '{N..D..}' is the value "
    "with N integer and D decimal digits, and an optional 'C' is the value's price/weight check "
    "digit (4- or 5-digit values only). Start it with 'price:', 'weight:' (kg) or 'count:'; "
    "without one, 3 decimals mean a weight in kg and anything else a price. Several patterns "
    "may be given separated by spaces; the first that matches wins, and a matching pattern "
    "takes precedence over store.rcn_region. Example: 'weight:21.....{NNDDD} price:23.....{NNNDD}'. "
    "Empty: none."
)

_PATTERN = re.compile(r"^(?:(price|weight|count):)?([0-9.C]*)\{(N*)(D*)\}([0-9.C]*)$")


def price_check_digit(value: str) -> int:
    """Check digit of a 4- or 5-digit price/weight field (GS1 General Specifications 7.9.2-7.9.4)."""
    from biip.checksums import gs1_price_weight_check_digit  # lazily: see gs1.py

    return gs1_price_weight_check_digit(value)


@dataclass(frozen=True)
class OwnerPattern:
    kind: str  # rcn_price | rcn_weight | rcn_count
    template: str  # the pattern with the value expanded to 'V's, e.g. 23.....VVVVV
    decimals: int


def compile_pattern(text: str) -> OwnerPattern:
    """One pattern ('weight:21.....{NNDDD}'); ValueError saying what is wrong."""
    m = _PATTERN.match(text)
    if not m:
        raise ValueError(
            f"pattern {text!r} is not in Odoo notation: digits, '.', an optional 'C' and one "
            "'{N..D..}' group, e.g. 23.....{NNNDD}"
        )
    kind_word, head, ints, decs, tail = m.groups()
    digits = len(ints) + len(decs)
    if digits == 0:
        raise ValueError(f"pattern {text!r} has an empty value group; write e.g. {{NNNDD}}")
    template = head + "V" * digits + tail
    if len(template) > 12:
        raise ValueError(f"pattern {text!r} covers {len(template)} digits; an EAN-13 label has 12 before its check digit")
    if template.count("C") > 1 or ("C" in template and digits not in (4, 5)):
        raise ValueError(f"pattern {text!r}: one 'C' at most, and only with a 4- or 5-digit value")
    kind = kind_word or ("weight" if len(decs) == 3 else "price")
    return OwnerPattern("rcn_" + kind, template, len(decs))


@lru_cache(maxsize=32)
def compile_patterns(text: str) -> tuple[OwnerPattern, ...]:
    return tuple(compile_pattern(p) for p in text.replace(",", " ").split())


def pattern_problem(text: str) -> str | None:
    """For config validation: what is wrong with store.rcn_pattern, or None."""
    try:
        compile_patterns(text)
    except ValueError as exc:
        return f"is not usable: {exc}"
    return None


def _measured(kind: str, digits: str, decimals: int, gtin: str, item_ref: str | None,
              symbology: str | None) -> ParsedCode:
    raw, scale = int(digits), 10**decimals
    return ParsedCode(
        kind, True, gtin=gtin, item_ref=item_ref, symbology=symbology,
        price_minor=div_half_up(raw * 100, scale) if kind == "rcn_price" else None,
        weight_g=div_half_up(raw * 1000, scale) if kind == "rcn_weight" else None,
        count=div_half_up(raw, scale) if kind == "rcn_count" else None,
    )


def _check_error(kind: str, value: str, got: str, code: str) -> str | None:
    expected = price_check_digit(value)
    if expected == int(got):
        return None
    what = {"rcn_weight": "weight", "rcn_count": "count"}.get(kind, "price")
    return (f"{what} check digit expected {expected} got {got} in {code}; rescan, or set "
            "store.rcn_check_price_digit = false if the scale does not print one")


def _by_pattern(code: str, pat: OwnerPattern, check: bool, symbology: str | None) -> ParsedCode | None:
    t = pat.template
    if len(code) <= len(t) or any(c.isdigit() and c != d for c, d in zip(t, code, strict=False)):
        return None
    value = "".join(d for c, d in zip(t, code, strict=False) if c == "V")
    item_ref = "".join(d for c, d in zip(t, code, strict=False) if c == ".")
    if check and "C" in t:
        error = _check_error(pat.kind, value, code[t.index("C")], code)
        if error:
            return invalid(error, symbology, pat.kind)
    zero_check = str(price_check_digit("0" * len(value))) if "C" in t else ""
    zeroed = "".join("0" if c == "V" else zero_check if c == "C" else d
                     for c, d in zip(t, code, strict=False)) + code[len(t):-1]
    return _measured(pat.kind, value, pat.decimals, with_check_digit(zeroed).zfill(14), item_ref or None, symbology)


def _us(code: str, check: bool, symbology: str | None) -> ParsedCode | None:
    """UPC-A number system 2: 2 IIIII C PPPP K, the price in cents, C its 4-digit check digit."""
    upca = code[1:] if len(code) == 13 and code[0] == "0" else code
    if len(upca) != 12 or upca[0] != "2":
        return None
    item_ref, price_check, price = upca[1:6], upca[6], upca[7:11]
    if check:
        error = _check_error("rcn_price", price, price_check, code)
        if error:
            return invalid(error, symbology, "rcn_price")
    zeroed = with_check_digit("2" + item_ref + "0" + "0000")
    return ParsedCode("rcn_price", True, gtin=zeroed.zfill(14), item_ref=item_ref,
                      price_minor=int(price), symbology=symbology)


_EXPECTED_GOT = re.compile(r"Expected (\d+), got (\d+)")


def _by_biip(code: str, region: str, check: bool, symbology: str | None) -> ParsedCode | None:
    from biip import ParseConfig, ParseError  # lazily: see gs1.py
    from biip.gtin import Gtin
    from biip.rcn import Rcn

    try:
        rcn = Gtin.parse(code, config=ParseConfig(rcn_region=region.lower(), rcn_verify_variable_measure=check))
    except ParseError as exc:
        # The GTIN check digit was verified before; what is left is the variable-measure one.
        unchecked = _by_biip(code, region, False, symbology)
        kind = unchecked.kind if unchecked else "unknown"
        what = {"rcn_weight": "weight", "rcn_count": "count"}.get(kind, "price")
        m = _EXPECTED_GOT.search(str(exc))
        detail = f"{what} check digit expected {m[1]} got {m[2]}" if m else str(exc)
        return invalid(f"{detail} in {code}; rescan, or set store.rcn_check_price_digit = false "
                       "if the scale does not print one", symbology, kind)
    if not isinstance(rcn, Rcn) or rcn.region is None:
        return None
    gtin, item_ref = rcn.without_variable_measure().as_gtin_14(), rcn.item_reference
    if rcn.weight is not None:
        return ParsedCode("rcn_weight", True, gtin, item_ref, weight_g=scaled_half_up(rcn.weight, 1000),
                          symbology=symbology)
    if rcn.price is not None:
        return ParsedCode("rcn_price", True, gtin, item_ref, price_minor=scaled_half_up(rcn.price, 100),
                          symbology=symbology)
    if rcn.count is not None:
        return ParsedCode("rcn_count", True, gtin, item_ref, count=rcn.count, symbology=symbology)
    return None  # an RCN prefix this region gives no layout: an ordinary in-store GTIN


def read_rcn(code: str, region: str, pattern: str, check: bool, symbology: str | None) -> ParsedCode | None:
    """A variable-measure reading of a code whose GTIN check digit is right; None if it is not one."""
    if pattern:
        for pat in compile_patterns(pattern):
            found = _by_pattern(code, pat, check, symbology)
            if found:
                return found
    if region == "US":
        return _us(code, check, symbology)
    if region in BIIP_REGIONS and len(code) == 13 and code[0] == "2":
        return _by_biip(code, region, check, symbology)
    return None
