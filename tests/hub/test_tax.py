"""hub.domain.tax: inclusive and exclusive prices, rounded per line or per receipt, in one place."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain import tax
from hub.domain.sale import CatalogItem, LineRequest, Tender, price_sale

RATES = st.sampled_from([0, 500, 700, 1000, 1900, 2000, 2100, 2500])
LINES = st.lists(st.tuples(st.integers(0, 10**7), RATES), min_size=1, max_size=30)


def exact(amount: int, rate: int, inclusive: bool) -> Fraction:
    return Fraction(amount * rate, 10000 + rate if inclusive else 10000)


@given(LINES, st.booleans(), st.sampled_from(tax.ROUNDINGS))
def test_each_line_pays_its_amount_and_its_tax_is_within_one_unit_of_exact(
        lines: list[tuple[int, int]], inclusive: bool, rounding: str) -> None:
    taxes = tax.compute(lines, inclusive, rounding)
    for (amount, rate), ln in zip(lines, taxes.lines, strict=True):
        assert ln.total_minor == (amount if inclusive else amount + ln.tax_minor)
        assert abs(ln.tax_minor - exact(amount, rate, inclusive)) < 1
    assert taxes.total_minor == sum(ln.total_minor for ln in taxes.lines)
    assert taxes.tax_minor == sum(ln.tax_minor for ln in taxes.lines) == sum(r.tax_minor for r in taxes.rates)
    if inclusive:
        assert taxes.total_minor == sum(a for a, _ in lines)
    else:
        assert taxes.total_minor == sum(a for a, _ in lines) + taxes.tax_minor
    for r in taxes.rates:
        assert r.net_minor + r.tax_minor == r.gross_minor


@given(LINES, st.booleans())
def test_per_receipt_rounding_is_within_half_a_unit_of_exact_per_rate(lines: list[tuple[int, int]], inclusive: bool) -> None:
    taxes = tax.compute(lines, inclusive, "receipt")
    for r in taxes.rates:
        base = sum(a for a, rate in lines if rate == r.rate_bp)
        assert abs(r.tax_minor - exact(base, r.rate_bp, inclusive)) <= Fraction(1, 2)


@given(LINES, st.booleans())
def test_per_line_rounding_rounds_each_line_half_up(lines: list[tuple[int, int]], inclusive: bool) -> None:
    taxes = tax.compute(lines, inclusive, "line")
    for (amount, rate), ln in zip(lines, taxes.lines, strict=True):
        assert abs(ln.tax_minor - exact(amount, rate, inclusive)) <= Fraction(1, 2)


def test_the_two_rules_differ_where_line_roundings_add_up() -> None:
    # three lines of 0.05 at 10% added: each 0.005 rounds up to 0.01 -> 0.03 by line, 0.015 -> 0.02 by receipt
    lines = [(5, 1000)] * 3
    assert tax.compute(lines, False, "line").tax_minor == 3
    by_receipt = tax.compute(lines, False, "receipt")
    assert by_receipt.tax_minor == 2 and [ln.tax_minor for ln in by_receipt.lines] == [1, 1, 0]
    assert tax.rates_dicts(by_receipt.rates) == [{"rate_bp": 1000, "net_minor": 15, "tax_minor": 2, "gross_minor": 17}]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="line or receipt|one of"):
        tax.compute([(100, 2000)], True, "sometimes")
    with pytest.raises(ValueError, match="negative"):
        tax.compute([(-1, 2000)], True, "line")


def test_a_sale_takes_its_tax_from_the_store_rule() -> None:
    catalog = {"P": CatalogItem("P", "Pencil", "each", 5, 1000)}
    reqs = [LineRequest("P", 1), LineRequest("P", 1), LineRequest("P", 1)]
    by_line = price_sale("s", "r", reqs, [Tender("cash", 100)], catalog, False, tax_rounding="line")
    by_receipt = price_sale("s", "r", reqs, [Tender("cash", 100)], catalog, False, tax_rounding="receipt")
    assert (by_line.tax_minor, by_line.total_minor) == (3, 18)
    assert (by_receipt.tax_minor, by_receipt.total_minor) == (2, 17)
    assert by_receipt.taxes == (tax.RateTotal(1000, 15, 2, 17),)
