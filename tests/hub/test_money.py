from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain import money


@given(st.integers(-10**12, 10**12), st.integers(1, 10**6))
def test_div_half_up_matches_exact_rounding(n: int, d: int) -> None:
    exact = Fraction(n, d)
    expected = int(abs(exact) + Fraction(1, 2)) * (1 if exact >= 0 else -1)
    assert money.div_half_up(n, d) == expected


def test_half_rounds_away_from_zero() -> None:
    assert money.div_half_up(5, 10) == 1
    assert money.div_half_up(-5, 10) == -1
    assert money.div_half_up(4, 10) == 0


@given(st.integers(0, 1_000_000), st.integers(0, 100_000))
def test_weighed_line_is_price_per_kg_times_grams_rounded_once(grams: int, per_kg: int) -> None:
    total = money.line_total("g", grams, per_kg)
    assert abs(Fraction(total) - Fraction(grams * per_kg, 1000)) <= Fraction(1, 2)


def test_exact_halves_round_up_not_to_even_nor_down() -> None:
    assert money.line_total("g", 500, 1) == 1  # 0.5: half-down would give 0
    assert money.line_total("g", 2500, 1) == 3  # 2.5: half-even would give 2
    assert money.line_total("g", 3500, 1) == 4
    assert money.tax_included(105, 500) == 5  # 105 * 5/105 = 5 exactly
    assert money.tax_added(25, 1000) == 3  # 2.5 up
    assert money.tax_included(21, 2000) == 4  # 3.5 up


def test_weighed_example() -> None:
    # 532 g of bananas at 1.99/kg = 1.05868 -> 1.06
    assert money.line_total("g", 532, 199) == 106
    assert money.line_total("each", 3, 250) == 750
    with pytest.raises(ValueError):
        money.line_total("box", 1, 1)


@given(st.integers(0, 10**9), st.integers(0, 5000))
def test_included_tax_plus_net_is_gross(gross: int, rate: int) -> None:
    tax = money.tax_included(gross, rate)
    assert 0 <= tax <= gross
    # the net, re-taxed, lands within a cent of the gross
    net = gross - tax
    assert abs(net + money.tax_added(net, rate) - gross) <= 1


def test_format() -> None:
    assert money.format_minor(1234, "EUR") == "12.34 EUR"
    assert money.format_minor(-5, "EUR") == "-0.05 EUR"
