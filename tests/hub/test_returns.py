from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.returns import (
    CONDITION_LOCATION,
    CONDITIONS,
    RETURN_REASONS,
    RefundLine,
    ReturnRequestLine,
    SoldLine,
    location_for,
    needs_manager,
    refund_lines,
    split_refund,
)
from hub.errors import UnprocessableError, ValidationError

# 3 mugs for 10.00 (1.67 tax); 1 teapot 24.00 (4.00 tax)
MUGS = SoldLine(1, "MUG", 3, 1000, 167, 0)
TEAPOT = SoldLine(2, "TEAPOT", 1, 2400, 400, 0)


def back(no: int, qty: int, reason: str = "changed_mind", condition: str = "resellable",
         note: str = "") -> ReturnRequestLine:
    return ReturnRequestLine(no, qty, reason, condition, note)


def test_a_partial_return_is_prorated_and_the_last_unit_takes_the_remainder() -> None:
    first = refund_lines([MUGS, TEAPOT], [back(1, 1)])
    assert first == [RefundLine(1, "MUG", 1, 333, 56, "changed_mind", "resellable", "")]
    second = refund_lines([SoldLine(1, "MUG", 3, 1000, 167, 1)], [back(1, 1)])
    assert (second[0].amount_minor, second[0].tax_minor) == (334, 55)  # 667 - 333, 111 - 56
    last = refund_lines([SoldLine(1, "MUG", 3, 1000, 167, 2)], [back(1, 1)])
    assert (last[0].amount_minor, last[0].tax_minor) == (333, 56)  # 1000 - 667, 167 - 111
    assert 333 + 334 + 333 == 1000 and 56 + 55 + 56 == 167


def test_lines_come_back_in_request_order_with_reason_condition_and_note() -> None:
    refunds = refund_lines([MUGS, TEAPOT], [back(2, 1, "defective", "defective"),
                                            back(1, 3, "other", "open_box", "  gift, duplicate ")])
    assert refunds == [RefundLine(2, "TEAPOT", 1, 2400, 400, "defective", "defective", ""),
                       RefundLine(1, "MUG", 3, 1000, 167, "other", "open_box", "gift, duplicate")]


def test_more_than_is_left_to_return_is_refused_with_the_counts() -> None:
    with pytest.raises(UnprocessableError) as exc:
        refund_lines([MUGS, SoldLine(2, "X", 3, 900, 150, 2)], [back(2, 3)])
    assert exc.value.message == "line 2 (SKU X): 3 were sold and 2 already returned; at most 1 can be returned"
    assert exc.value.field == "lines[0].qty"
    with pytest.raises(UnprocessableError, match="3 were sold and 3 already returned; nothing more can be returned"):
        refund_lines([SoldLine(1, "MUG", 3, 1000, 167, 3)], [back(1, 1)])


@pytest.mark.parametrize("wanted,error,field,words", [
    ([back(3, 1)], UnprocessableError, "lines[0].sale_line_no", "line 3 is not a line of this sale"),
    ([back(1, 0)], ValidationError, "lines[0].qty", "at least 1, got 0"),
    ([back(1, 1), back(2, 1), back(1, 1)], ValidationError, "lines[2].sale_line_no", "line 1 (MUG) is asked for twice"),
    ([back(1, 1, "broke")], ValidationError, "lines[0].reason",
     "'broke' is not a return reason; use one of defective, damaged, wrong_item, wrong_size, changed_mind, other"),
    ([back(1, 1, condition="mint")], ValidationError, "lines[0].condition",
     "'mint' is not known; use one of resellable, open_box, damaged, defective"),
    ([back(2, 1), back(1, 1, "other", note=" ")], ValidationError, "lines[1].note", "add a note"),
    ([], ValidationError, "lines", "at least one line"),
])
def test_bad_returns_say_what_is_wrong(wanted: list[ReturnRequestLine], error: type[Exception], field: str,
                                       words: str) -> None:
    with pytest.raises(error) as exc:
        refund_lines([MUGS, TEAPOT], wanted)
    assert isinstance(exc.value, UnprocessableError | ValidationError)
    assert exc.value.field == field and words in exc.value.message


def test_a_store_may_add_reasons_and_conditions() -> None:
    refunds = refund_lines([MUGS], [back(1, 1, "late_delivery", "sealed")],
                           (*RETURN_REASONS, "late_delivery"), (*CONDITIONS, "sealed"))
    assert refunds[0].reason == "late_delivery" and refunds[0].condition == "sealed"
    assert location_for("sealed", {**CONDITION_LOCATION, "sealed": "floor"}) == "floor"


def test_returned_goods_go_to_their_condition_location() -> None:
    assert [location_for(c) for c in CONDITIONS] == ["floor", "review", "damaged", "review"]
    with pytest.raises(UnprocessableError) as exc:
        location_for("sealed")
    assert exc.value.field == "condition" and "'sealed' has no location" in exc.value.message


def test_a_sale_that_cannot_be_is_refused() -> None:
    with pytest.raises(UnprocessableError, match="lists line 1 twice"):
        refund_lines([MUGS, MUGS], [back(1, 1)])
    with pytest.raises(UnprocessableError, match="has qty 3 and 4 already returned"):
        refund_lines([SoldLine(1, "MUG", 3, 1000, 167, 4)], [back(1, 1)])


@st.composite
def sold_and_returns(draw: st.DrawFn) -> tuple[SoldLine, list[int]]:
    qty = draw(st.integers(1, 60))
    total = draw(st.integers(0, 10**7))
    tax = draw(st.integers(0, total))
    pieces, left = [], qty
    while left:
        piece = draw(st.integers(1, left))
        pieces.append(piece)
        left -= piece
    return SoldLine(1, "X", qty, total, tax, 0), pieces


@given(sold_and_returns())
def test_returning_everything_in_any_pieces_refunds_exactly_the_line(case: tuple[SoldLine, list[int]]) -> None:
    sold, pieces = case
    returned = amount = tax = 0
    for piece in pieces:
        now = SoldLine(1, "X", sold.qty, sold.total_minor, sold.tax_minor, returned)
        (refund,) = refund_lines([now], [back(1, piece)])
        exact = Fraction(sold.total_minor * piece, sold.qty)
        assert abs(refund.amount_minor - exact) <= 1
        assert abs(refund.tax_minor - Fraction(sold.tax_minor * piece, sold.qty)) <= 1
        amount, tax, returned = amount + refund.amount_minor, tax + refund.tax_minor, returned + piece
    assert (amount, tax) == (sold.total_minor, sold.tax_minor)
    with pytest.raises(UnprocessableError, match="nothing more can be returned"):
        refund_lines([SoldLine(1, "X", sold.qty, sold.total_minor, sold.tax_minor, returned)], [back(1, 1)])


@given(st.integers(1, 100), st.integers(0, 100), st.integers(1, 100))
def test_never_more_than_was_sold(qty: int, already: int, wanted: int) -> None:
    sold = SoldLine(1, "X", qty, 999, 99, min(already, qty))
    if sold.already_returned + wanted <= qty:
        assert refund_lines([sold], [back(1, wanted)])[0].qty == wanted
    else:
        with pytest.raises(UnprocessableError):
            refund_lines([sold], [back(1, wanted)])


def test_a_refund_reverses_the_tenders_in_proportion() -> None:
    assert split_refund(500, [("cash", 1000), ("card", 3000)]) == [("cash", 125), ("card", 375)]
    # exact shares 333.33, 333.33, 333.33 of 1000: the earliest tender takes the spare unit
    assert split_refund(1000, [("cash", 1000), ("card", 1000), ("voucher", 1000)]) == [
        ("cash", 334), ("card", 333), ("voucher", 333)]
    # 0.6, 9.4: the larger remainder wins
    assert split_refund(10, [("voucher", 60), ("card", 940)]) == [("voucher", 1), ("card", 9)]
    assert split_refund(0, [("cash", 500)]) == [("cash", 0)]
    assert split_refund(0, []) == []


def test_a_refund_above_what_was_paid_is_refused() -> None:
    with pytest.raises(UnprocessableError) as exc:
        split_refund(1001, [("cash", 400), ("card", 600)])
    assert exc.value.field == "amount_minor" and "10.01 is more than the 10.00" in exc.value.message
    with pytest.raises(ValidationError):
        split_refund(-1, [("cash", 400)])
    with pytest.raises(UnprocessableError, match="tender 'cash' paid -5"):
        split_refund(0, [("cash", -5)])


@given(st.lists(st.tuples(st.sampled_from(["cash", "card", "voucher"]), st.integers(0, 10**6)), max_size=6),
       st.data())
def test_split_parts_add_up_stay_within_each_tender_and_in_proportion(tenders: list[tuple[str, int]],
                                                                      data: st.DataObject) -> None:
    paid = sum(amount for _, amount in tenders)
    amount = data.draw(st.integers(0, paid))
    parts = split_refund(amount, tenders)
    assert [kind for kind, _ in parts] == [kind for kind, _ in tenders]
    assert sum(part for _, part in parts) == amount
    for (_, part), (_, tender) in zip(parts, tenders, strict=True):
        assert 0 <= part <= tender
        assert abs(part - Fraction(amount * tender, paid or 1)) < 1


def test_a_manager_is_needed_without_a_receipt_or_above_the_threshold() -> None:
    assert not needs_manager(True, 5000, 5000)
    assert needs_manager(True, 5001, 5000)
    assert needs_manager(False, 1, 5000)
