"""Making codes: every code encode.py makes reads back through parse() as what it was made from."""

import pytest
from biip.rcn import _RCN_RULES, RcnRegion
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.barcodes import REGIONS, parse, price_check_digit, with_check_digit
from hub.domain.barcodes.encode import (
    INTERNAL_PREFIXES,
    REGION_LAYOUTS,
    code128_payload,
    internal_code,
    internal_prefix_problem,
    next_internal_code,
    rcn_label_code,
)

DIGITS = "0123456789"
_FIELD = {"rcn_price": "price_minor", "rcn_weight": "weight_g", "rcn_count": "count"}
_UNIT = {"price": 100, "weight": 1000, "count": 1}


def _value(p: object, kind: str) -> object:
    return getattr(p, _FIELD[kind])


def _bump(code: str, i: int) -> str:
    return code[:i] + str((int(code[i]) + 1) % 10) + code[i + 1:]


def test_region_layouts_are_the_ones_parse_reads() -> None:
    ours = {(region, p.template[:2], p.kind, p.template[2:], p.decimals)
            for region, layouts in REGION_LAYOUTS.items() if region != "US" for p in layouts}
    biips = {(region.value.upper(), prefix, "rcn_" + s.measure_type.value,
              s.pattern[2:].replace("P", "."), s.num_decimals)
             for region, rules in _RCN_RULES.items() for prefix, s in rules.items()}
    assert ours == biips
    assert set(REGION_LAYOUTS) == set(REGIONS)


# The layouts biip reads labels by: an independent source for what the encoder must make.
_BIIP_LAYOUTS = [(region.value.upper(), prefix, s) for region, rules in _RCN_RULES.items()
                 for prefix, s in rules.items()]


@given(st.sampled_from(_BIIP_LAYOUTS), st.data())
def test_every_region_label_round_trips(layout: tuple, data: st.DataObject) -> None:
    region, _, strategy = layout
    kind, unit = "rcn_" + strategy.measure_type.value, _UNIT[strategy.measure_type.value]
    item = data.draw(st.text(DIGITS, min_size=strategy.pattern.count("P") - 2,
                             max_size=strategy.pattern.count("P") - 2))
    raw = data.draw(st.integers(0, 10 ** strategy.pattern.count("V") - 1))
    value = raw * unit // 10**strategy.num_decimals  # a value this layout holds exactly
    code = rcn_label_code(kind, item, value, region)
    p = parse(code, region)
    assert (p.kind, p.valid, p.item_ref, _value(p, kind)) == (kind, True, item, value), p.error
    # The encoder may pick a sibling layout (SE 20/21/22), but always one of this region and kind.
    used = _RCN_RULES[RcnRegion(region.lower())][code[:2]]
    assert used.measure_type == strategy.measure_type
    at = data.draw(st.integers(used.pattern.index("V"), 11))
    wrong = _bump(code, at)
    assert "check digit expected" in (parse(wrong, region).error or "")
    rechecked = with_check_digit(wrong[:12])  # a misprint the EAN check digit cannot catch
    q = parse(rechecked, region)
    if "C" in used.pattern:
        assert f"{strategy.measure_type.value} check digit expected" in (q.error or "")
    else:
        assert q.valid and _value(q, kind) != value  # such layouts cannot catch it: why C exists


@given(st.text(DIGITS, min_size=5, max_size=5), st.integers(0, 9999), st.booleans())
def test_us_price_label_round_trips(item: str, cents: int, upca: bool) -> None:
    code = rcn_label_code("rcn_price", item, cents, "us")
    assert code[:2] == "02" and code[7] == str(price_check_digit(f"{cents:04d}"))
    scanned = code[1:] if upca else code  # a US scanner sends the 12-digit UPC-A
    p = parse(scanned, "US")
    assert (p.kind, p.valid, p.item_ref, p.price_minor) == ("rcn_price", True, item, cents)
    assert "price check digit expected" in (parse(with_check_digit(_bump(code, 9)[:12]), "US").error or "")


_OWNER = [
    ("weight:21.....{NNDDD}", "rcn_weight", 5, 99999),
    ("23.....{NNNDD}", "rcn_price", 5, 99999),
    ("24....C{NNNDD}", "rcn_price", 4, 99999),
    ("count:25.....{NNNNN}", "rcn_count", 5, 99999),
    ("price:27....C{NNDD}", "rcn_price", 4, 9999),
    ("weight:28...{NNNDDD}", "rcn_weight", 3, 999999),
]


@given(st.sampled_from(_OWNER), st.sampled_from(["", *REGIONS]), st.data())
def test_owner_pattern_round_trips(owner: tuple, region: str, data: st.DataObject) -> None:
    pattern, kind, width, top = owner
    item = data.draw(st.text(DIGITS, min_size=width, max_size=width))
    value = data.draw(st.integers(0, top))
    code = rcn_label_code(kind, item, value, region, pattern)
    assert code.startswith(pattern.split(":")[-1][:2])
    p = parse(code, region, pattern)
    assert (p.kind, p.valid, p.item_ref, _value(p, kind)) == (kind, True, item, value), p.error
    if "C" in pattern:
        assert "check digit expected" in (parse(with_check_digit(_bump(code, 12 - len(str(top)))[:12]),
                                                region, pattern).error or "")


def test_the_first_owner_pattern_of_the_kind_wins_and_the_region_fills_in() -> None:
    both = "weight:21.....{NNDDD} price:23.....{NNNDD} price:24.....{NNNDD}"
    assert rcn_label_code("rcn_price", "00042", 1250, "SE", both) == with_check_digit("230004201250")
    assert rcn_label_code("rcn_weight", "00042", 1250, "SE", both) == with_check_digit("210004201250")
    # No count pattern: DE's own count layout (25, 5-digit check digit) is used.
    assert rcn_label_code("rcn_count", "1234", 3, "DE", both)[:2] == "25"


def test_a_value_goes_to_the_sibling_layout_that_holds_it_exactly() -> None:
    assert rcn_label_code("rcn_price", "123456", 9999, "SE")[:2] == "20"  # 99.99
    assert rcn_label_code("rcn_price", "123456", 12340, "SE")[:2] == "21"  # 123.4
    assert rcn_label_code("rcn_price", "123456", 123400, "SE")[:2] == "22"  # 1234
    with pytest.raises(ValueError, match=r"price 12345 minor units does not fit .* 99\.99"):
        rcn_label_code("rcn_price", "123456", 12345, "SE")  # 123.45 needs 2 decimals and 5 digits
    assert rcn_label_code("rcn_weight", "123456", 12340, "FI")[:2] == "24"  # 12.34 kg


@pytest.mark.parametrize(("args", "message"), [
    (("rcn_price", "12", 100, "GB"), "5-digit item reference; got '12'"),
    (("rcn_price", "1234a", 100, "GB"), "must be digits"),
    (("rcn_count", "123456", 1, "SE"), "carry no count, only price or weight"),
    (("rcn_weight", "12345", 100, "US"), "carry no weight, only price"),
    (("rcn_price", "12345", 100, ""), "set store.rcn_region or store.rcn_pattern"),
    (("rcn_price", "12345", -1, "GB"), "negative"),
    (("rcn_price", "12345", 10000, "GB"), r"up to 99\.99"),
    (("gtin", "12345", 1, "GB"), "not a scale label"),
    (("rcn_price", "12345", 1, "XX"), "unknown RCN region"),
])
def test_what_does_not_fit_is_refused_with_a_reason(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rcn_label_code(*args)


def test_a_label_the_store_would_misread_is_refused() -> None:
    # The owner's price pattern starts with 2 and catches SE's weight layout (23) first.
    with pytest.raises(ValueError, match="would be read back as rcn_price"):
        rcn_label_code("rcn_weight", "123456", 1234, "SE", "price:2......{NNNNN}")


@given(st.sampled_from(INTERNAL_PREFIXES), st.data(), st.sampled_from(["", *REGIONS]))
def test_internal_codes_read_as_plain_valid_codes(prefix: str, data: st.DataObject, region: str) -> None:
    number = data.draw(st.integers(0, 10 ** (12 - len(prefix)) - 1))
    code = internal_code(prefix, number)
    assert len(code) == 13 and code.startswith(prefix) and int(code[len(prefix):12]) == number
    assert code128_payload(code) == code
    assert (parse(code).kind, parse(code).valid) == ("gtin", True)
    if internal_prefix_problem(prefix, region) is None:
        p = parse(code, region)
        assert (p.kind, p.valid, p.gtin) == ("gtin", True, code.zfill(14))


def test_a_colliding_prefix_really_is_read_as_a_scale_label() -> None:
    assert internal_prefix_problem("20", "GB")
    assert parse(internal_code("20", 1234567890), "GB").kind == "rcn_price"
    assert "price check digit expected" in (parse(internal_code("20", 1), "GB").error or "")
    assert internal_prefix_problem("02", "US")
    assert parse(internal_code("02", 1234567890), "US").kind == "rcn_price"


@pytest.mark.parametrize(("prefix", "region", "pattern", "fine"), [
    ("04", "GB", "", True), ("045", "SE", "", True), ("20", "", "", True), ("02", "", "", True),
    ("21", "GB", "", False), ("29", "DE", "", False), ("02", "SE", "", False),  # 02/20-29 are scale ranges
    ("02", "US", "", False), ("21", "US", "", True),  # the US uses only number system 2
    ("20", "", "price:20.....{NNNDD}", False), ("21", "", "price:20.....{NNNDD}", True),
    ("045", "", "04....{NNNNNN}", False), ("04", "", "2.....{NNNDD}", True),
])
def test_internal_prefix_problem(prefix: str, region: str, pattern: str, fine: bool) -> None:
    problem = internal_prefix_problem(prefix, region, pattern)
    assert (problem is None) is fine, problem
    if problem:
        assert prefix in problem


def test_prefixes_outside_the_in_store_ranges_are_refused() -> None:
    for prefix in ("4", "03", "050", "30", "200", ""):
        assert "not an in-store range" in (internal_prefix_problem(prefix) or "")
        with pytest.raises(ValueError, match="in-store ranges"):
            internal_code(prefix, 1)
    with pytest.raises(ValueError, match="does not fit after prefix 049: use 0 to 999999999"):
        internal_code("049", 10**9)
    with pytest.raises(ValueError, match="does not fit"):
        internal_code("04", -1)


@given(st.sampled_from(["04", "041", "20"]), st.integers(0, 50), st.sets(st.integers(0, 80)))
def test_next_internal_code_skips_taken_ones(prefix: str, start: int, taken_numbers: set[int]) -> None:
    taken = {internal_code(prefix, n) for n in taken_numbers}
    asked: list[str] = []

    def is_taken(code: str) -> bool:
        asked.append(code)
        return code in taken

    code, number = next_internal_code(prefix, start, is_taken)
    assert code == internal_code(prefix, number) and code not in taken
    assert number >= start and all(n in taken_numbers for n in range(start, number))
    assert asked == [internal_code(prefix, n) for n in range(start, number + 1)]


def test_next_internal_code_says_when_the_range_is_used_up() -> None:
    top = 10**9 - 1
    assert next_internal_code("049", top, lambda c: False) == (internal_code("049", top), top)
    with pytest.raises(ValueError, match="every code with prefix 049 from number 999999997 up is taken"):
        next_internal_code("049", top - 2, lambda c: True)
    for start in (-1, 10**9):
        with pytest.raises(ValueError, match="outside prefix 049's numbers 0 to 999999999"):
            next_internal_code("049", start, lambda c: False)


def test_code128_payload_wants_a_whole_checked_code() -> None:
    assert code128_payload("0400000000428") == "0400000000428"
    for bad in ("040000000042", "0400000000427", "04000000004a8", "0400000000428 "):
        with pytest.raises(ValueError, match="13-digit code"):
            code128_payload(bad)
