"""Worked examples and rules of the GS1 General Specifications (GS1 GS), read with parse().

tests/hub/test_gs1.py (the DataMatrix guideline example, 310n/392n rounding, day 00, errors)
and test_rcn.py (the price check digit of 2875 and 14685 as a function, GB and owner-pattern
labels) are not repeated; here the same numbers arrive the way a scanner sends them.
"""

import pytest

from hub.domain.barcodes import check_digit, parse

GS = "\x1d"  # FNC1 as transmitted (GS1 GS 7.8.5)
GTIN = "09521234543213"  # GS1's example GTIN (prefix 952 is kept for examples) of the GS1 GS element strings


@pytest.mark.parametrize(("scanned", "gtin"), [
    ("6291041500213", "06291041500213"),  # GTIN-13 of GS1's 7.9.1 check digit worked example
    ("9501101531000", "09501101531000"),  # GTIN-13, 7.9.1 (as in biip's checksum docs)
    ("95012346", "00000095012346"),  # GTIN-8, 7.9.1
    ("06291041500213", "06291041500213"),  # GTIN-14 with indicator 0: the same check digit
    ("16291041500210", "16291041500210"),  # indicator 1 takes weight 3: check 3 - 3 = 0
])
def test_standard_check_digit_examples(scanned: str, gtin: str) -> None:
    # GS1 GS 7.9.1: weights 3, 1, 3, ... from the right, so a leading zero changes nothing.
    p = parse(scanned)
    assert (p.kind, p.valid, p.gtin) == ("gtin", True, gtin)


def test_an_indicator_digit_needs_its_own_check_digit() -> None:
    p = parse("16291041500213")  # the GTIN-13's check digit carried over: wrong
    assert not p.valid and "check digit expected 0 got 3" in (p.error or "")


def test_sscc_check_digit_example() -> None:
    # GS1 GS 7.9.1 over 17 digits: SSCC 37610425002123456 has check digit 9; it travels in AI (00).
    assert check_digit("37610425002123456") == 9
    p = parse("]C1" + "00" + "376104250021234569" + "01" + GTIN)
    assert (p.kind, p.valid, p.gtin) == ("gs1", True, GTIN)


def test_a_wrong_sscc_check_digit_is_an_error() -> None:
    wrong = parse("]C1" + "00" + "376104250021234568")
    assert not wrong.valid and "SSCC" in (wrong.error or "") and "expected 9" in (wrong.error or "")
    assert parse("]C1" + "00" + "376104250021234569").valid


@pytest.mark.parametrize(("scanned", "symbology"), [
    ("(01)09521234543213(3103)000189", None),  # as printed under the symbol, AIs in brackets
    ("]C1" + "01" + GTIN + "3103000189", "gs1-128"),  # both AIs predefined length: no FNC1
    ("]C1" + "01" + GTIN + GS + "3103000189" + GS, "gs1-128"),  # a needless FNC1 is harmless
    ("]e0" + "01" + GTIN + "3103000189", "gs1-databar"),
    ("]d2" + "01" + GTIN + "3103000189", "gs1-datamatrix"),
    ("]Q3" + "01" + GTIN + "3103000189", "gs1-qr"),
])
def test_net_weight_example(scanned: str, symbology: str | None) -> None:
    # GS1 GS 3.6.2: AI (3103) 000189 is a net weight of 0.189 kg (n = 3 decimals).
    p = parse(scanned)
    assert (p.kind, p.valid, p.gtin, p.weight_g, p.symbology) == ("gs1", True, GTIN, 189, symbology)


def test_a_variable_length_field_ends_at_fnc1() -> None:
    # GS1 GS 7.8.5: after a field of variable length (AI 10, batch) an FNC1 separates the next AI.
    p = parse("]C1" + "01" + GTIN + "10" + "ABC123" + GS + "17" + "141231")
    assert (p.gtin, p.lot, p.expiry) == (GTIN, "ABC123", "2014-12-31")
    # Without the separator the batch runs on to the end of the message, as a printer made it.
    p = parse("]C1" + "01" + GTIN + "10" + "ABC123" + "17" + "141231")
    assert (p.lot, p.expiry) == ("ABC12317141231", None)
    # Put last, the batch needs no separator: why encoders put predefined-length AIs first.
    p = parse("]C1" + "01" + GTIN + "17" + "141231" + "10" + "ABC123")
    assert (p.gtin, p.lot, p.expiry) == (GTIN, "ABC123", "2014-12-31")


def test_price_and_weight_on_one_label() -> None:
    # GS1 GS 3.6 (AI 392n): (3922) 2499 is 24.99 payable; its length varies, so FNC1 follows it.
    p = parse("]C1" + "01" + GTIN + "3922" + "2499" + GS + "3103" + "000189")
    assert (p.price_minor, p.weight_g) == (2499, 189)


def test_two_digit_years_use_the_sliding_century() -> None:
    # GS1 GS 7.12: a year more than 50 years ahead of today belongs to the previous century.
    assert parse("]C1" + "01" + GTIN + "17" + "991231").expiry == "1999-12-31"
    assert parse("]C1" + "01" + GTIN + "17" + "301231").expiry == "2030-12-31"


def test_four_digit_price_check_digit_example_on_a_us_label() -> None:
    # GS1 GS 7.9.3: price 28.75 has check digit 9; UPC-A number system 2 carries it (2 IIIII C PPPP K).
    p = parse("212345928752", region="US")
    assert (p.kind, p.valid, p.item_ref, p.price_minor) == ("rcn_price", True, "12345", 2875)


@pytest.mark.parametrize(("code", "kind", "field", "value"), [
    ("2212346146856", "rcn_price", "price_minor", 14685),  # 146.85 EUR
    ("2812346146858", "rcn_weight", "weight_g", 14685),  # 14.685 kg
])
def test_five_digit_check_digit_example_on_a_german_label(code: str, kind: str, field: str, value: int) -> None:
    # GS1 GS 7.9.4: 14685 has check digit 6; GS1 Germany puts it before the 5-digit value.
    p = parse(code, region="DE")
    assert (p.kind, p.valid, p.item_ref, getattr(p, field)) == (kind, True, "1234", value)
    wrong = code[:6] + "5" + code[7:12]
    wrong += str(check_digit(wrong))
    assert "check digit expected 6 got 5" in (parse(wrong, region="DE").error or "")
