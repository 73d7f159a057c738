from hypothesis import given
from hypothesis import strategies as st

from hub.domain.barcodes import KINDS, check_digit, parse, upce_to_upca


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


@given(st.binary(max_size=120))
def test_parse_never_raises_on_scanned_bytes(raw: bytes) -> None:
    for text in (raw.decode("latin-1"), raw.decode("utf-8", "replace"), "]C1" + raw.decode("latin-1")):
        for region in ("", "GB", "DE", "SE", "US"):
            p = parse(text, region=region, pattern="23.....{NNNDD}")
            assert p.kind in KINDS and (p.valid or p.error)


@given(st.text(alphabet="0123456789\x1d()]CEQde", max_size=60), st.sampled_from(["", "]C1", "]E0", "]d2"]))
def test_parse_never_raises_on_near_miss_codes(text: str, aim: str) -> None:
    for region in ("", "DK", "US"):
        p = parse(aim + text, region=region, pattern="weight:2......{NNDDD} 24....C{NNNDD}")
        assert p.kind in KINDS and (p.valid or p.error)


def test_parse_never_raises_on_odd_arguments() -> None:
    assert not parse(None).valid  # type: ignore[arg-type]
    assert not parse(b"4006381333931").valid  # type: ignore[arg-type]
    assert "rcn_pattern" in (parse("4006381333931", pattern="{").error or "")


@given(st.text(alphabet="0123456789", min_size=11, max_size=11), st.integers(0, 7))
def test_upce_round_trip_and_one_wrong_digit(payload: str, pos: int) -> None:
    # Build UPC-E from a compressible UPC-A: number system 0, manufacturer ending 000, item 00ddd.
    ns, d = "0", payload[:5]
    upce_body = d[:2] + d[2:5] + "0"  # last digit 0: UPC-A = ns d0 d1 0 0000 d2 d3 d4
    upca_payload = ns + d[:2] + "0" + "0000" + d[2:5]
    check = check_digit(upca_payload)
    upce = ns + upce_body + str(check)
    assert upce_to_upca(upce) == upca_payload + str(check)
    p = parse("]E0" + upce)
    assert p.valid and p.gtin == (upca_payload + str(check)).zfill(14)
    wrong = upce[:pos] + str((int(upce[pos]) + 1) % 10) + upce[pos + 1:]
    expanded = upce_to_upca(wrong)  # one wrong digit is one wrong UPC-A digit: its check fails
    assert check_digit(expanded[:-1]) != int(expanded[-1])


@given(st.text(alphabet="0123456789", min_size=12, max_size=12), st.integers(0, 12))
def test_ean13_round_trip_and_one_wrong_digit_says_expected_and_got(payload: str, pos: int) -> None:
    code = payload + str(check_digit(payload))
    assert parse("]E0" + code).gtin == code.zfill(14)
    wrong = code[:pos] + str((int(code[pos]) + 1) % 10) + code[pos + 1:]
    p = parse(wrong)
    expected = check_digit(wrong[:-1])
    assert not p.valid and f"check digit expected {expected} got {wrong[-1]}" in (p.error or "")


def test_the_hub_starts_without_loading_biip() -> None:
    """biip costs a Pi about 20 MB; it loads on the first GS1 or scale-label scan only."""
    import subprocess
    import sys

    code = "import sys, hub.service, hub.web, hub.cli; print('biip' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
