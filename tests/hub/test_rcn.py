"""Scale labels (restricted-circulation numbers): every region's layout, US, and the owner's pattern."""

from pathlib import Path

import pytest
from biip.rcn import _RCN_RULES  # the region layouts biip reads; generated codes follow them
from hypothesis import given
from hypothesis import strategies as st

from hub import config as cfg
from hub.domain.barcodes import (
    check_digit,
    parse,
    pattern_problem,
    price_check_digit,
    with_check_digit,
)
from hub.domain.money import div_half_up
from hub.errors import ConfigError

DIGITS = "0123456789"


def test_price_check_digit_worked_examples() -> None:
    # GS1 General Specifications 7.9.3 and 7.9.4.
    assert price_check_digit("2875") == 9
    assert price_check_digit("14685") == 6


def test_gb_price_label() -> None:
    code = with_check_digit("20" + "12345" + "9" + "2875")
    p = parse(code, region="GB")
    assert (p.kind, p.valid, p.item_ref, p.price_minor) == ("rcn_price", True, "12345", 2875)
    assert p.gtin == with_check_digit("20123450" + "0000").zfill(14)
    bad = with_check_digit("20" + "12345" + "3" + "2875")
    assert "price check digit expected 9 got 3" in (parse(bad, region="GB").error or "")
    assert parse(bad, region="GB", check_price_digit=False).price_minor == 2875


def test_without_a_region_a_label_is_a_plain_gtin() -> None:
    code = with_check_digit("2312345012340")
    assert (parse(code).kind, parse(code).gtin) == ("gtin", code.zfill(14))


_LAYOUTS = [(region.value.upper(), prefix, s) for region, rules in _RCN_RULES.items() for prefix, s in rules.items()]


@given(st.sampled_from(_LAYOUTS), st.data())
def test_every_region_layout_round_trips(layout: tuple, data: st.DataObject) -> None:
    region, prefix, strategy = layout
    pattern = strategy.pattern  # 12 places: P prefix and item reference, C check, V value
    item = data.draw(st.text(alphabet=DIGITS, min_size=pattern.count("P") - 2, max_size=pattern.count("P") - 2))
    value = data.draw(st.text(alphabet=DIGITS, min_size=pattern.count("V"), max_size=pattern.count("V")))
    check = str(price_check_digit(value)) if "C" in pattern else ""
    code = with_check_digit(prefix + item + check + value)
    p = parse(code, region=region)
    assert p.valid, p.error
    assert p.item_ref == item
    measure = strategy.measure_type.value
    assert p.kind == "rcn_" + measure
    want = {"weight": ("weight_g", 1000), "price": ("price_minor", 100), "count": ("count", 1)}[measure]
    assert getattr(p, want[0]) == div_half_up(int(value) * want[1], 10**strategy.num_decimals)
    assert p.gtin == with_check_digit(prefix + item + ("0" if check else "") + "0" * len(value)).zfill(14)
    # One wrong digit anywhere breaks the EAN-13 check digit.
    i = data.draw(st.integers(0, 12))
    wrong = code[:i] + str((int(code[i]) + 1) % 10) + code[i + 1:]
    assert "check digit expected" in (parse(wrong, region=region).error or "")


@given(st.text(alphabet=DIGITS, min_size=5, max_size=5), st.text(alphabet=DIGITS, min_size=4, max_size=4))
def test_us_price_label_round_trips(item: str, price: str) -> None:
    code = with_check_digit("2" + item + str(price_check_digit(price)) + price)
    for scanned in (code, "0" + code, "]E00" + code):
        p = parse(scanned, region="US")
        assert (p.kind, p.valid, p.item_ref, p.price_minor) == ("rcn_price", True, item, int(price))
        assert p.gtin == with_check_digit("2" + item + "00000").zfill(14)
    wrong_c = (price_check_digit(price) + 1) % 10
    bad = with_check_digit("2" + item + str(wrong_c) + price)
    assert f"check digit expected {price_check_digit(price)} got {wrong_c}" in (parse(bad, region="US").error or "")
    assert parse(bad, region="US", check_price_digit=False).price_minor == int(price)


@given(st.text(alphabet=DIGITS, min_size=5, max_size=5), st.text(alphabet=DIGITS, min_size=5, max_size=5))
def test_owner_pattern_round_trips_and_beats_the_region(item: str, value: str) -> None:
    code = with_check_digit("20" + item + value)
    p = parse(code, region="GB", pattern="weight:20.....{NNDDD}")
    assert (p.kind, p.item_ref, p.weight_g) == ("rcn_weight", item, int(value))
    assert p.gtin == with_check_digit("20" + item + "00000").zfill(14)
    assert parse(code, pattern="23.....{NNNDD}").kind == "gtin"  # does not match: a plain code


def test_owner_pattern_defaults_and_check_digit() -> None:
    code = with_check_digit("23" + "00042" + "01250")
    assert (parse(code, pattern="23.....{NNNDD}").kind, parse(code, pattern="23.....{NNNDD}").price_minor) == ("rcn_price", 1250)
    assert parse(code, pattern="23.....{NNDDD}").weight_g == 1250
    assert parse(code, pattern="count:23.....{NNNNN}").count == 1250
    assert parse(code, pattern="weight:21.....{NNDDD} price:23.....{NNNDD}").price_minor == 1250
    checked = with_check_digit("24" + "1234" + str(price_check_digit("14685")) + "14685")
    assert parse(checked, pattern="24....C{NNNDD}").price_minor == 14685
    bad = with_check_digit("24" + "1234" + "0" + "14685")
    assert "check digit expected 6 got 0" in (parse(bad, pattern="24....C{NNNDD}").error or "")


@pytest.mark.parametrize("pattern", ["23.....NNNDD", "23{}", "23.....{NNNDD}x", "2" * 12 + "{N}", "C2...{NN}"])
def test_bad_patterns_are_refused_with_a_reason(pattern: str) -> None:
    assert pattern_problem(pattern)
    p = parse("4006381333931", pattern=pattern)
    assert not p.valid and "rcn_pattern" in (p.error or "")


def test_config_keys_are_validated(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[store]\nrcn_region = "SE"\nrcn_pattern = "23.....{NNNDD}"\nrcn_check_price_digit = false\n')
    store = cfg.load(good, env={})["store"]
    assert (store["rcn_region"], store["rcn_pattern"], store["rcn_check_price_digit"]) == ("SE", "23.....{NNNDD}", False)
    for line in ('rcn_region = "XX"', 'rcn_pattern = "23...NN"'):
        bad = tmp_path / "bad.toml"
        bad.write_text(f"[store]\n{line}\n")
        with pytest.raises(ConfigError, match="store.rcn_"):
            cfg.load(bad, env={})


def test_unknown_region_is_an_error_not_an_exception() -> None:
    assert "unknown RCN region" in (parse("4006381333931", region="XX").error or "")
    assert check_digit("400638133393") == 1


def test_cli_reads_labels_by_region_option_or_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from hub.cli import main

    label = "2302148210869"
    assert main(["barcode", "parse", label, "--json", "--region", "se"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["kind"], out["weight_g"], out["item_ref"]) == ("rcn_weight", 1086, "021482")
    config = tmp_path / "backroom.toml"
    config.write_text('[store]\nrcn_region = "SE"\n')
    assert main(["barcode", "parse", label, "--json", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)["weight_g"] == 1086
    assert main(["barcode", "parse", label, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "gtin"
