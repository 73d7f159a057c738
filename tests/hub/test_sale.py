import uuid
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.sale import (
    CatalogItem,
    LineRequest,
    Tender,
    looks_like_card_number,
    parse_request,
    price_sale,
)
from hub.errors import UnprocessableError, ValidationError

CATALOG = {
    "A": CatalogItem("A", "Apple juice", "each", 249, 2000),
    "B": CatalogItem("B", "Bananas", "g", 199, 700),
    "X": CatalogItem("X", "Old stock", "each", 100, 0, active=False),
}


def body(**kw: object) -> dict[str, object]:
    b: dict[str, object] = {"id": str(uuid.uuid4()), "register_id": "till-1", "lines": [{"sku": "A", "qty": 2}],
                            "tenders": [{"kind": "cash", "amount_minor": 1000}]}
    b.update(kw)
    return b


def test_prices_come_from_the_catalog_and_change_is_due() -> None:
    sale_id, reg, lines, tenders = parse_request(body(lines=[{"sku": "A", "qty": 2}, {"sku": "B", "qty": 532}]))
    sale = price_sale(sale_id, reg, lines, tenders, CATALOG, prices_include_tax=True)
    assert [ln.total_minor for ln in sale.lines] == [498, 106]
    assert sale.total_minor == 604 and sale.change_minor == 396
    assert sale.tax_minor == 83 + 7


def test_tax_exclusive_adds_tax() -> None:
    sale = price_sale("s", "r", [LineRequest("A", 1)], [Tender("cash", 1000)], CATALOG, prices_include_tax=False)
    assert sale.total_minor == 249 + 50


@pytest.mark.parametrize("bad,field", [
    ({"id": "not-a-uuid"}, "id"),
    ({"lines": []}, "lines"),
    ({"lines": [{"sku": "A", "qty": 0}]}, "lines[0].qty"),
    ({"lines": [{"sku": "A", "qty": 1.5}]}, "lines[0].qty"),
    ({"tenders": [{"kind": "cheque", "amount_minor": 5}]}, "tenders[0].kind"),
    ({"tenders": [{"kind": "card", "amount_minor": 5}]}, "tenders[0].reference"),  # the terminal's reference
    ({"surprise": 1}, "surprise"),
])
def test_bad_bodies_name_the_field(bad: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_request(body(**bad))
    assert exc.value.field == field


def test_unknown_inactive_and_short_tender_are_refused() -> None:
    with pytest.raises(UnprocessableError, match="no item with SKU 'Z'"):
        price_sale("s", "r", [LineRequest("Z", 1)], [Tender("cash", 1000)], CATALOG, True)
    with pytest.raises(UnprocessableError, match="inactive"):
        price_sale("s", "r", [LineRequest("X", 1)], [Tender("cash", 1000)], CATALOG, True)
    with pytest.raises(UnprocessableError, match=r"tendered 10.00 EUR is less than the total 24.90 EUR"):
        price_sale("s", "r", [LineRequest("A", 10)], [Tender("cash", 1000)], CATALOG, True, "EUR")


def test_card_numbers_are_recognised() -> None:
    assert looks_like_card_number("4111-1111-1111-1111")
    assert not looks_like_card_number("4111-1111-1111-1112")
    assert not looks_like_card_number("TERM-REF-000123")


def half_up(x: Fraction) -> int:
    """Independent reference: round half away from zero with exact fractions."""
    return int(x + Fraction(1, 2)) if x >= 0 else -int(-x + Fraction(1, 2))


@given(st.lists(st.tuples(st.sampled_from(["A", "B"]), st.integers(1, 5000)), min_size=1, max_size=20),
       st.booleans())
def test_lines_match_an_independent_exact_calculation(reqs: list[tuple[str, int]], inclusive: bool) -> None:
    lines = [LineRequest(s, q) for s, q in reqs]
    sale = price_sale("s", "r", lines, [Tender("cash", 10**9)], CATALOG, inclusive)
    for line, (sku, qty) in zip(sale.lines, reqs, strict=True):
        item = CATALOG[sku]
        gross = half_up(Fraction(qty * item.price_minor, 1 if item.unit == "each" else 1000))
        if inclusive:
            tax = half_up(Fraction(gross * item.tax_rate_bp, 10000 + item.tax_rate_bp))
            assert (line.total_minor, line.tax_minor) == (gross, tax)
        else:
            tax = half_up(Fraction(gross * item.tax_rate_bp, 10000))
            assert (line.total_minor, line.tax_minor) == (gross + tax, tax)
    assert sale.total_minor == sum(ln.total_minor for ln in sale.lines)
    assert sale.change_minor == 10**9 - sale.total_minor
