"""The pure scanner decoder: US-layout key events in, scans out (and encode, its inverse)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.scanner.keymap import GS, KeyDecoder, decode, encode, split_aim

# Key codes written out by hand from linux/input-event-codes.h, independent of the module.
A, B, C, ONE, TWO, NINE, ZERO, MINUS = 30, 48, 46, 2, 3, 10, 11, 12
LEFTBRACE, RIGHTBRACE, ENTER, KPENTER, TAB = 26, 27, 28, 96, 15
LSHIFT, RSHIFT, LCTRL, RCTRL, LALT, CAPS = 42, 54, 29, 97, 56, 58
KP0, KP2, KP9 = 82, 80, 73
DOWN, UP, REPEAT = 1, 0, 2


def tap(code: int) -> list[tuple[int, int]]:
    return [(code, DOWN), (code, UP)]


def with_mod(mod: int, code: int) -> list[tuple[int, int]]:
    return [(mod, DOWN), *tap(code), (mod, UP)]


def test_plain_digits_and_letters() -> None:
    assert decode([*tap(ONE), *tap(TWO), *tap(A), *tap(B), *tap(ENTER)]) == ["12ab"]


def test_either_shift_gives_upper_case_and_symbols() -> None:
    events = [
        *with_mod(LSHIFT, A),
        *with_mod(RSHIFT, ONE),
        *with_mod(LSHIFT, MINUS),
        *tap(C),
        *tap(ENTER),
    ]
    assert decode(events) == ["A!_c"]


def test_shift_released_between_keys_is_honoured() -> None:
    events = [(LSHIFT, DOWN), *tap(A), (LSHIFT, UP), *tap(A), *tap(ENTER)]
    assert decode(events) == ["Aa"]


def test_capslock_toggles_letters_only() -> None:
    events = [
        *tap(CAPS),
        *tap(A),
        *tap(ONE),
        *with_mod(LSHIFT, B),
        *with_mod(LSHIFT, ONE),
        *tap(CAPS),
        *tap(C),
        *tap(ENTER),
    ]
    assert decode(events) == ["A1b!c"]


def test_repeat_and_key_up_do_not_type() -> None:
    assert decode([(ONE, DOWN), (ONE, REPEAT), (ONE, REPEAT), (ONE, UP), *tap(ENTER)]) == ["1"]


@pytest.mark.parametrize("terminator", [ENTER, KPENTER, TAB])
def test_each_terminator_ends_a_scan(terminator: int) -> None:
    assert decode([*tap(NINE), *tap(terminator), *tap(ZERO), *tap(terminator)]) == ["9", "0"]


def test_enter_alone_is_not_a_scan() -> None:
    assert decode([*tap(ENTER), *tap(ENTER)]) == []


def test_ctrl_right_brace_is_gs_and_ctrl_left_brace_is_esc() -> None:
    events = [
        *tap(ONE),
        *with_mod(LCTRL, RIGHTBRACE),
        *tap(TWO),
        *with_mod(RCTRL, LEFTBRACE),
        *tap(ENTER),
    ]
    assert decode(events) == ["1\x1d2\x1b"]


def test_ctrl_letter_is_control_character() -> None:
    assert decode([*with_mod(LCTRL, A), *with_mod(RCTRL, C), *tap(ENTER)]) == ["\x01\x03"]


def test_alt_keypad_code_types_gs() -> None:
    # Zebra/Honeywell "ALT mode": Alt held while 0 2 9 is typed on the keypad.
    events = [
        *tap(ONE),
        (LALT, DOWN),
        *tap(KP0),
        *tap(KP2),
        *tap(KP9),
        (LALT, UP),
        *tap(TWO),
        *tap(ENTER),
    ]
    assert decode(events) == ["1\x1d2"]


def test_events_other_than_keys_are_ignored() -> None:
    decoder = KeyDecoder()
    assert decoder.feed(4, 4, 0x7001E) is None  # EV_MSC MSC_SCAN
    assert decoder.feed(0, 0, 0) is None  # EV_SYN SYN_REPORT
    assert decoder.feed(1, ONE, DOWN) is None
    scan = decoder.feed(1, ENTER, DOWN)
    assert scan is not None and scan.raw == "1"


def test_reset_drops_and_returns_the_partial_code() -> None:
    decoder = KeyDecoder()
    for code, value in [(LSHIFT, DOWN), *tap(A), *tap(ONE)]:
        decoder.feed(1, code, value)
    assert decoder.reset() == "A!"
    assert decoder.feed(1, A, DOWN) is None
    scan = decoder.feed(1, ENTER, DOWN)
    assert scan is not None and scan.raw == "a", "shift state must not survive a reset"


@pytest.mark.parametrize(
    ("raw", "aim", "data", "symbology"),
    [
        ("]E04006381333931", "]E0", "4006381333931", "ean13"),
        ("]E496385074", "]E4", "96385074", "ean8"),
        (
            "]C1010950110102091710ABC" + GS + "21X",
            "]C1",
            "010950110102091710ABC" + GS + "21X",
            "gs1-128",
        ),
        ("]e00109501101020917", "]e0", "0109501101020917", "gs1-databar"),
        ("]d201095011010209171012", "]d2", "01095011010209171012", "gs1-datamatrix"),
        ("]Q30109501101020917", "]Q3", "0109501101020917", "gs1-qr"),
        ("]X9ABC", "]X9", "ABC", ""),
        ("4006381333931", "", "4006381333931", ""),
        ("]C1", "", "]C1", ""),  # nothing after the prefix: not an AIM identifier
        ("]]]abc", "", "]]]abc", ""),
    ],
)
def test_aim_prefix_is_split_and_named(raw: str, aim: str, data: str, symbology: str) -> None:
    scan = split_aim(raw)
    assert (scan.raw, scan.aim, scan.data, scan.symbology) == (raw, aim, data, symbology)


def test_decoder_returns_parsed_aim() -> None:
    decoder = KeyDecoder()
    result = None
    for code, value in encode("]C1010950110102091710ABC" + GS + "21X"):
        result = decoder.feed(1, code, value) or result
    assert result is not None
    assert (result.aim, result.symbology) == ("]C1", "gs1-128")
    assert result.data == "010950110102091710ABC\x1d21X"


def test_encode_uses_the_real_key_sequence() -> None:
    assert encode("aA" + GS) == [
        (A, DOWN),
        (A, UP),
        (LSHIFT, DOWN),
        (A, DOWN),
        (A, UP),
        (LSHIFT, UP),
        (LCTRL, DOWN),
        (RIGHTBRACE, DOWN),
        (RIGHTBRACE, UP),
        (LCTRL, UP),
        (ENTER, DOWN),
        (ENTER, UP),
    ]
    assert encode("1", terminator=None) == tap(ONE)


@pytest.mark.parametrize("text", ["é", "\x7f", "€"])
def test_encode_refuses_what_a_scanner_cannot_type(text: str) -> None:
    with pytest.raises(ValueError, match="cannot be typed"):
        encode(text)


printable_and_gs = st.text(
    alphabet=st.sampled_from([chr(c) for c in range(32, 127)] + [GS]), min_size=1, max_size=60
)


@settings(deadline=None)
@given(printable_and_gs)
def test_decode_inverts_encode(text: str) -> None:
    assert decode(encode(text)) == [text]


@settings(deadline=None)
@given(st.lists(printable_and_gs, min_size=1, max_size=5))
def test_back_to_back_scans_stay_apart(texts: list[str]) -> None:
    events = [event for text in texts for event in encode(text)]
    assert decode(events) == texts


@settings(deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 300), st.integers(-2, 3)), max_size=200)
)
def test_decoder_never_raises_on_any_event_stream(events: list[tuple[int, int, int]]) -> None:
    decoder = KeyDecoder()
    for type_, code, value in events:
        scan = decoder.feed(type_, code, value)
        assert scan is None or scan.raw
    decoder.reset()


@settings(deadline=None)
@given(printable_and_gs)
def test_decode_inverts_encode_with_caps_lock_on(text: str) -> None:
    assert decode(encode(text, caps_lock=True)) == [text]


def test_caps_lock_with_shift_gives_lower_case_letters_and_shifted_symbols() -> None:
    events = [*tap(CAPS), *with_mod(RSHIFT, A), *with_mod(LSHIFT, MINUS), *tap(B), *tap(KPENTER)]
    assert decode(events) == ["a_B"]


def test_a_repeated_modifier_keeps_it_held() -> None:
    events = [(LSHIFT, DOWN), (LSHIFT, REPEAT), *tap(A), (LSHIFT, REPEAT), *tap(B), (LSHIFT, UP)]
    assert decode([*events, *tap(A), *tap(ENTER)]) == ["ABa"]


def test_ctrl_with_shifted_keys_gives_the_other_control_codes() -> None:
    # Ctrl+@ (shift+2) is NUL, Ctrl+^ (shift+6) RS, Ctrl+_ (shift+-) US, as on a terminal.
    six = 7
    events = [
        (LCTRL, DOWN),
        *with_mod(LSHIFT, TWO),
        *with_mod(LSHIFT, six),
        *with_mod(LSHIFT, MINUS),
        (LCTRL, UP),
        *tap(ENTER),
    ]
    assert decode(events) == ["\x00\x1e\x1f"]


KEYPAD_DIGITS = {
    "0": 82,
    "1": 79,
    "2": 80,
    "3": 81,
    "4": 75,
    "5": 76,
    "6": 77,
    "7": 71,
    "8": 72,
    "9": 73,
}


def alt(digits: str) -> list[tuple[int, int]]:
    return [(LALT, DOWN), *(e for d in digits for e in tap(KEYPAD_DIGITS[d])), (LALT, UP)]


@pytest.mark.parametrize(
    ("digits", "char"),
    [
        ("029", GS),  # FNC1 as GS, the reason ALT mode exists on GS1 scanners
        ("29", GS),
        ("065", "A"),
        ("0233", "é"),  # Windows-1252 with a leading zero
        ("130", "é"),  # OEM code page 437 without one
        ("0128", "€"),
        ("0129", "\x81"),  # undefined in Windows-1252: taken as Latin-1
        ("285", GS),  # past 255 wraps modulo 256, as Windows does
    ],
)
def test_alt_keypad_codes(digits: str, char: str) -> None:
    assert decode([*tap(ONE), *alt(digits), *tap(TWO), *tap(ENTER)]) == [f"1{char}2"]


def test_keys_other_than_the_keypad_under_alt_type_nothing() -> None:
    assert decode([*tap(ONE), (LALT, DOWN), *tap(A), (LALT, UP), *tap(ENTER)]) == ["1"]
