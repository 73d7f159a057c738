"""Making codes: in-store item numbers, and the scale-label code a label printer puts on weighed goods.

The inverse of parse(): every code made here reads back through parse() under the same store
rules (region, owner pattern) as the item and value it was made from.
"""

from __future__ import annotations

from collections.abc import Callable

from hub.domain.barcodes.gtin import check_digit, with_check_digit
from hub.domain.barcodes.rcn import REGIONS, OwnerPattern, compile_patterns, price_check_digit
from hub.domain.barcodes.scan import parse

# GS1 General Specifications 2.1.11-12: 04 and 040-049 are numbers for use inside one company,
# 02 and 20-29 restricted to a geographic region, where the GS1 office may give them to
# variable-measure (scale) labels.
INTERNAL_PREFIXES: tuple[str, ...] = (
    "04", *(f"04{d}" for d in range(10)), "02", *(f"2{d}" for d in range(10)),
)


def _layouts(kind: str, prefixes: str, shape: str, decimals: int) -> tuple[OwnerPattern, ...]:
    return tuple(OwnerPattern("rcn_" + kind, p + shape, decimals) for p in prefixes.split())


# Each region's label layouts in rcn.OwnerPattern form ('.' item reference, 'C' the value's
# check digit, 'V' the value), the same rules biip reads them by (tests/hub/test_encode.py
# compares the two). Where several layouts of one kind exist, the first that holds the value
# exactly is used: SE/NO 20, 21, 22 are the same price with 2, 1 and 0 decimals.
REGION_LAYOUTS: dict[str, tuple[OwnerPattern, ...]] = {
    "GB": _layouts("price", "20", ".....CVVVV", 2),
    "DE": (*_layouts("price", "22 23", "....CVVVVV", 2), *_layouts("count", "25 26", "....CVVVVV", 0),
           *_layouts("weight", "28 29", "....CVVVVV", 3)),
    "SE": (*_layouts("price", "20", "......VVVV", 2), *_layouts("price", "21", "......VVVV", 1),
           *_layouts("price", "22", "......VVVV", 0), *_layouts("weight", "23", "......VVVV", 3),
           *_layouts("weight", "24", "......VVVV", 2), *_layouts("weight", "25", "......VVVV", 1)),
    "DK": (*_layouts("price", "21 22 23 24", "....VVVVVV", 2), *_layouts("weight", "26", "....VVVVVV", 3),
           *_layouts("weight", "27", ".....VVVVV", 3), *_layouts("weight", "28", "....VVVVVV", 3)),
    # UPC-A number system 2 (2 IIIII C PPPP K), written as the EAN-13 with its leading 0:
    # the same bars, and parse() reads both forms.
    "US": _layouts("price", "02", ".....CVVVV", 2),
}
REGION_LAYOUTS["NO"] = REGION_LAYOUTS["SE"]
for _region in ("FI", "EE", "LV", "LT"):
    REGION_LAYOUTS[_region] = (*_layouts("weight", "23", "......VVVV", 3),
                               *_layouts("weight", "24", "......VVVV", 2),
                               *_layouts("weight", "25", "......VVVV", 1))

_UNIT = {"rcn_price": 100, "rcn_weight": 1000, "rcn_count": 1}  # minor units, grams, pieces
_WHAT = {"rcn_price": "price", "rcn_weight": "weight", "rcn_count": "count"}


def internal_prefix_problem(prefix: str, region: str = "", pattern: str = "") -> str | None:
    """Why prefix cannot number this store's own items, or None when it can."""
    if prefix not in INTERNAL_PREFIXES:
        return (f"prefix {prefix!r} is not an in-store range: use 04 or 040-049 (or 02, 20-29 where "
                "no scale labels use them), GS1 General Specifications 2.1.11-12")
    region = region.upper()
    if region and region not in REGIONS:
        return f"unknown RCN region {region!r}; use one of {', '.join(REGIONS)} or none"
    scale_range = prefix == "02" if region == "US" else prefix[0] == "2" or prefix == "02"
    if region and scale_range:
        return (f"prefix {prefix} is where scales in {region} put price and weight labels "
                f"(store.rcn_region = {region}): codes made with it would be read as scale labels; "
                "use 04 or 040-049")
    try:
        patterns = compile_patterns(pattern)
    except ValueError as exc:
        return f"prefix {prefix} cannot be checked against store.rcn_pattern: {exc}"
    for pat in patterns:
        head = pat.template[:len(prefix)]
        if all(not t.isdigit() or t == p for t, p in zip(head, prefix, strict=False)):
            return (f"prefix {prefix} overlaps store.rcn_pattern ({pat.template}, {_WHAT[pat.kind]} "
                    "labels): codes made with it would be read as scale labels; choose a prefix the "
                    "pattern does not start with")
    return None


def _capacity(prefix: str) -> int:
    return int(10 ** (12 - len(prefix)))


def internal_code(prefix: str, number: int) -> str:
    """The EAN-13 for the store's own item number: prefix, number zero-padded, check digit."""
    if prefix not in INTERNAL_PREFIXES:
        raise ValueError(f"prefix {prefix!r} is not one of the in-store ranges {', '.join(INTERNAL_PREFIXES)}")
    if not 0 <= number < _capacity(prefix):
        raise ValueError(f"item number {number} does not fit after prefix {prefix}: "
                         f"use 0 to {_capacity(prefix) - 1}")
    return with_check_digit(prefix + str(number).zfill(12 - len(prefix)))


def next_internal_code(prefix: str, start: int, taken: Callable[[str], bool]) -> tuple[str, int]:
    """The first code from number start upward that taken() says is free, and its number."""
    if not 0 <= start < _capacity(prefix):
        raise ValueError(f"start {start} is outside prefix {prefix}'s numbers 0 to {_capacity(prefix) - 1}")
    for number in range(start, _capacity(prefix)):
        code = internal_code(prefix, number)
        if not taken(code):
            return code, number
    raise ValueError(f"every code with prefix {prefix} from number {start} up is taken; "
                     "start lower or choose another in-store prefix")


def code128_payload(code: str) -> str:
    """What a Code 128 symbol carries for an internal code: its 13 digits, as they are."""
    if len(code) != 13 or not code.isdigit() or check_digit(code[:12]) != int(code[12]):
        raise ValueError(f"{code!r} is not a 13-digit code with its check digit; make it with internal_code()")
    return code


def _raw_value(pat: OwnerPattern, value: int) -> str | None:
    """The value's digits in this layout, or None when it does not hold the value exactly."""
    raw, rest = divmod(value * 10**pat.decimals, _UNIT[pat.kind])
    width = pat.template.count("V")
    return str(raw).zfill(width) if rest == 0 and raw < 10**width else None


def _fill(pat: OwnerPattern, item_ref: str, raw: str) -> str:
    items, values = iter(item_ref), iter(raw)
    body = "".join(next(items) if c == "." else next(values) if c == "V" else c
                   for c in pat.template)
    if "C" in body:
        body = body.replace("C", str(price_check_digit(raw)))
    return with_check_digit(body.ljust(12, "0"))


def _largest(pat: OwnerPattern) -> str:
    """'99.99', '9.999 kg': the most a layout holds, in the units a person reads."""
    whole, frac = divmod(10 ** pat.template.count("V") - 1, 10**pat.decimals)
    unit = " kg" if pat.kind == "rcn_weight" else ""
    return (f"{whole}.{frac:0{pat.decimals}d}" if pat.decimals else str(whole)) + unit


def _candidates(kind: str, region: str, pattern: str) -> tuple[tuple[OwnerPattern, ...], str]:
    owned = tuple(p for p in compile_patterns(pattern) if p.kind == kind)
    if owned:
        return owned, f"store.rcn_pattern {pattern!r}"
    if not region:
        raise ValueError(f"no {_WHAT[kind]} label layout: set store.rcn_region or store.rcn_pattern")
    if region not in REGION_LAYOUTS:
        raise ValueError(f"unknown RCN region {region!r}; use one of {', '.join(REGIONS)}")
    layouts = tuple(p for p in REGION_LAYOUTS[region] if p.kind == kind)
    if not layouts:
        kinds = sorted({_WHAT[p.kind] for p in REGION_LAYOUTS[region]})
        raise ValueError(f"scale labels in {region} carry no {_WHAT[kind]}, only {' or '.join(kinds)}; "
                         "print another kind or set store.rcn_pattern to your scale's layout")
    return layouts, f"{region} layout"


def rcn_label_code(kind: str, item_ref: str, value: int, region: str = "", pattern: str = "") -> str:
    """The 13-digit scale-label code for item_ref and value (price_minor, grams or count).

    Owner patterns of this kind come first, then the region's layouts; the first that takes
    an item reference of this length and holds the value exactly is used. Every check digit
    is computed. ValueError with a sentence when nothing fits.
    """
    if kind not in _UNIT:
        raise ValueError(f"kind {kind!r} is not a scale label; use rcn_price, rcn_weight or rcn_count")
    if value < 0:
        raise ValueError(f"{_WHAT[kind]} {value} is negative; a label carries 0 or more")
    if not item_ref.isascii() or not (item_ref.isdigit() or item_ref == ""):
        raise ValueError(f"item reference {item_ref!r} must be digits")
    region = region.upper()
    layouts, source = _candidates(kind, region, pattern)
    sized = [p for p in layouts if p.template.count(".") == len(item_ref)]
    if not sized:
        widths = " or ".join(sorted({str(p.template.count(".")) for p in layouts}))
        raise ValueError(f"{_WHAT[kind]} labels by the {source} carry a {widths}-digit item reference; "
                         f"got {item_ref!r} ({len(item_ref)} digits): pad or shorten the item's PLU")
    for pat in sized:
        raw = _raw_value(pat, value)
        if raw is not None:
            code = _fill(pat, item_ref, raw)
            _check_reads_back(code, kind, item_ref, value, region, pattern)
            return code
    holds = "; ".join(f"{p.template}: up to {_largest(p)}, {p.decimals} decimal{'' if p.decimals == 1 else 's'}"
                      for p in sized)
    unit = {"rcn_price": "minor units", "rcn_weight": "g", "rcn_count": "pieces"}[kind]
    raise ValueError(f"{_WHAT[kind]} {value} {unit} does not fit a {_WHAT[kind]} label by the {source} "
                     f"exactly ({holds})")


def _check_reads_back(code: str, kind: str, item_ref: str, value: int, region: str, pattern: str) -> None:
    """The store reads its own label: a pattern of another kind or region rule may catch it first."""
    got = parse(code, region, pattern)
    field = {"rcn_price": got.price_minor, "rcn_weight": got.weight_g, "rcn_count": got.count}.get(got.kind)
    if (got.kind, got.item_ref or "", field) != (kind, item_ref, value):
        raise ValueError(f"{code} would be read back as {got.kind} (item {got.item_ref}, value {field}) "
                         f"under store.rcn_region {region!r} and store.rcn_pattern {pattern!r}: a pattern "
                         "catches labels of another layout; give each pattern a prefix of its own")
