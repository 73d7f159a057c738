from hypothesis import given
from hypothesis import strategies as st

from hub.domain.barcodes import check_digit, parse, upce_to_upca


def test_known_ean13() -> None:
    p = parse("4006381333931")
    assert (p.kind, p.valid, p.gtin) == ("gtin", True, "04006381333931")


def test_wrong_check_digit_says_expected_and_got() -> None:
    p = parse("4006381333932")
    assert not p.valid
    assert p.error is not None and "expected 1 got 2" in p.error


def test_upca_ean8_gtin14() -> None:
    assert parse("036000291452").gtin == "00036000291452"
    assert parse("96385074").valid  # EAN-8
    assert parse("10490000010012").valid is (check_digit("1049000001001") == 2)


def test_upce_expands_to_upca() -> None:
    # UPC-E 04252614 -> UPC-A 042100005264 (a common textbook example)
    assert upce_to_upca("04252614") == "042100005264"
    assert parse("04252614").gtin == "00042100005264"


def test_aim_prefix_is_stripped_and_named() -> None:
    p = parse("]E04006381333931")
    assert p.valid and p.symbology == "ean13"


def test_truncated_and_garbage() -> None:
    assert "truncated" in (parse("4006381333").error or "")
    assert not parse("").valid
    assert not parse("\x00\x01").valid


def test_plu_is_internal() -> None:
    p = parse("4011")
    assert (p.kind, p.item_ref) == ("internal", "4011")


@given(st.text(max_size=80))
def test_parse_never_raises(text: str) -> None:
    p = parse(text)
    assert p.kind in ("gtin", "rcn_price", "rcn_weight", "rcn_count", "gs1", "internal", "unknown")
    assert p.valid or p.error


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_any_payload_with_its_check_digit_is_valid(payload: str) -> None:
    code = payload + str(check_digit(payload))
    assert parse(code).valid
    wrong = payload + str((check_digit(payload) + 1) % 10)
    assert not parse(wrong).valid
