"""GS1 element strings: the General Specifications' examples and round trips of random messages."""

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.barcodes import check_digit, parse
from hub.domain.money import div_half_up

GS = "\x1d"


def test_gs1_datamatrix_example() -> None:
    # The GS1 DataMatrix Guideline's example (01)09501101530003(17)140704(10)AB-123.
    p = parse("]d2" + "0109501101530003" + "17140704" + "10AB-123")
    assert (p.kind, p.valid, p.symbology) == ("gs1", True, "gs1-datamatrix")
    assert (p.gtin, p.expiry, p.lot) == ("09501101530003", "2014-07-04", "AB-123")


def test_weight_price_and_serial_with_separators() -> None:
    # (3103)001234 is 1.234 kg; (3922)1099 is 10.99; FNC1 (GS) ends the variable-length lot.
    p = parse("]C1" + "0104006381333931" + "3103001234" + "10LOT7" + GS + "3922" + "1099" + GS + "21SN-1")
    assert (p.gtin, p.weight_g, p.price_minor, p.lot, p.serial) == ("04006381333931", 1234, 1099, "LOT7", "SN-1")


def test_weight_and_price_round_half_up() -> None:
    assert parse("]C10104006381333931" + "3104012345").weight_g == 1235  # 1.2345 kg
    assert parse("]C10104006381333931" + "3923" + "1005").price_minor == 101  # 1.005


def test_day_00_is_the_last_day_of_the_month() -> None:
    assert parse("]C10104006381333931" + "17240200").expiry == "2024-02-29"
    assert parse("]C10104006381333931" + "17251200").expiry == "2025-12-31"


def test_without_aim_a_leading_ai_01_or_hri_is_gs1() -> None:
    assert parse("010400638133393117250131").expiry == "2025-01-31"
    assert parse("(01)04006381333931(10)A1").lot == "A1"
    assert parse("0104006381333931").kind == "gs1"


def test_errors_name_the_ai() -> None:
    wrong = parse("]C10104006381333932")
    assert not wrong.valid and "check digit expected 1 got 2" in (wrong.error or "")
    assert "truncated" in (parse("]C10104006381").error or "")
    assert "not a valid YYMMDD date" in (parse("]C1010400638133393117251301").error or "")
    assert "unknown prefix" in (parse("]C12345").error or "")


_LOT = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=20)


@st.composite
def gs1_messages(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    payload = draw(st.text(alphabet="0123456789", min_size=13, max_size=13))
    gtin = payload + str(check_digit(payload))
    fields: list[tuple[str, bool]] = []  # (element string, needs a separator after it)
    want: dict[str, object] = {"gtin": gtin}
    if draw(st.booleans()):
        day = draw(st.dates(dt.date(2000, 1, 1), dt.date(2049, 12, 31)))
        fields.append(("17" + day.strftime("%y%m%d"), False))
        want["expiry"] = day.isoformat()
    if draw(st.booleans()):
        x, digits = draw(st.integers(0, 5)), draw(st.integers(0, 999999))
        fields.append((f"310{x}{digits:06d}", False))
        want["weight_g"] = div_half_up(digits * 1000, 10**x)
    if draw(st.booleans()):
        x, amount = draw(st.integers(0, 3)), draw(st.text(alphabet="0123456789", min_size=1, max_size=15))
        fields.append((f"392{x}{amount}", True))
        want["price_minor"] = div_half_up(int(amount) * 100, 10**x)
    for ai, key in (("10", "lot"), ("21", "serial")):
        if draw(st.booleans()):
            value = draw(_LOT)
            fields.append((ai + value, True))
            want[key] = value
    fields = draw(st.permutations(fields))
    body = "01" + gtin + "".join(es + (GS if sep else "") for es, sep in fields)
    aim = draw(st.sampled_from(["]C1", "]e0", "]d2", "]Q3", ""]))
    return aim + body.removesuffix(GS), want


@given(gs1_messages())
def test_round_trip(message: tuple[str, dict[str, object]]) -> None:
    text, want = message
    p = parse(text)
    assert p.valid, p.error
    got = {k: v for k, v in p.to_json().items() if k in want}
    assert got == want


@given(gs1_messages(), st.integers(2, 14))
def test_one_wrong_gtin_digit_is_a_check_digit_error(message: tuple[str, dict[str, object]], pos: int) -> None:
    text, _ = message
    start = text.index("01") if text.startswith("]") else 0
    i = start + 2 + pos - 1
    corrupted = text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1:]
    p = parse(corrupted)
    assert not p.valid and "check digit expected" in (p.error or "")
