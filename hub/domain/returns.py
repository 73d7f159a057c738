"""Returns and refunds: what may come back, what it refunds, and which tenders pay it out. Pure.

A sale line of qty units that cost total_minor (tax_minor of it tax) refunds by proration with
the remainder on the last units: prorate(k) = total x k / qty rounded half away from zero, and
returning n units after r were already returned refunds prorate(r + n) - prorate(r). The parts
telescope, so every way of returning the whole line in pieces refunds exactly total_minor and
tax_minor, and each part is within one minor unit of its exact share. Tax is prorated the same
way, separately, so it too adds up to the line's tax.

A refund goes back to the sale's tenders in the proportions they paid (split_refund), by the
largest-remainder method: the parts add up exactly, none is above what its tender paid, and each
is within one minor unit of its exact share.

Returned goods go to a location by condition (CONDITION_LOCATION, which a store may extend);
DISPOSITIONS is what is later done with them there.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from hub.domain import money
from hub.errors import UnprocessableError, ValidationError

RETURN_REASONS = ("defective", "damaged", "wrong_item", "wrong_size", "changed_mind", "other")
CONDITIONS = ("resellable", "open_box", "damaged", "defective")
CONDITION_LOCATION = {"resellable": "floor", "open_box": "review", "damaged": "damaged", "defective": "review"}
DISPOSITIONS = ("restock", "refurbish", "markdown", "write_off")


@dataclass(frozen=True)
class SoldLine:
    """A line of the original sale and how many of its units earlier returns took back."""

    sale_line_no: int
    sku: str
    qty: int
    total_minor: int
    tax_minor: int
    already_returned: int


@dataclass(frozen=True)
class ReturnRequestLine:
    """Units of one sale line the customer brings back, why, and in what state."""

    sale_line_no: int
    qty: int
    reason: str
    condition: str
    note: str = ""


@dataclass(frozen=True)
class RefundLine:
    """One returned line with its refund (tax included in amount_minor, tax_minor of it tax)."""

    sale_line_no: int
    sku: str
    qty: int
    amount_minor: int
    tax_minor: int
    reason: str
    condition: str
    note: str


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _prorate(total: int, k: int, qty: int) -> int:
    return money.div_half_up(total * k, qty)


def _sold_by_line(sold: Sequence[SoldLine]) -> dict[int, SoldLine]:
    by_no: dict[int, SoldLine] = {}
    for line in sold:
        if line.sale_line_no in by_no:
            raise UnprocessableError(f"the sale lists line {line.sale_line_no} twice; reload the sale",
                                     field="sold")
        if not (_whole(line.qty) and _whole(line.already_returned) and 0 <= line.already_returned <= line.qty
                and line.qty >= 1):
            raise UnprocessableError(f"line {line.sale_line_no} ({line.sku}) has qty {line.qty!r} and "
                                     f"{line.already_returned!r} already returned, which cannot be; reload the sale",
                                     field="sold")
        by_no[line.sale_line_no] = line
    return by_no


def _check_request(i: int, want: ReturnRequestLine, sold: SoldLine | None, seen: set[int],
                   reasons: Collection[str], conditions: Collection[str]) -> SoldLine:
    at = f"lines[{i}]"
    if sold is None:
        raise UnprocessableError(f"line {want.sale_line_no!r} is not a line of this sale; choose a line from the "
                                 "receipt", field=f"{at}.sale_line_no")
    if want.sale_line_no in seen:
        raise ValidationError(f"line {want.sale_line_no} ({sold.sku}) is asked for twice; put all its units on one "
                              "return line", field=f"{at}.sale_line_no")
    if not _whole(want.qty) or want.qty < 1:
        raise ValidationError(f"line {want.sale_line_no} ({sold.sku}): qty must be a whole number of at least 1, "
                              f"got {want.qty!r}", field=f"{at}.qty")
    left = sold.qty - sold.already_returned
    if want.qty > left:
        can = f"at most {left} can be returned" if left else "nothing more can be returned"
        raise UnprocessableError(f"line {want.sale_line_no} (SKU {sold.sku}): {sold.qty} were sold and "
                                 f"{sold.already_returned} already returned; {can}", field=f"{at}.qty")
    if want.reason not in reasons:
        raise ValidationError(f"reason {want.reason!r} is not a return reason; use one of {', '.join(reasons)}",
                              field=f"{at}.reason")
    if want.condition not in conditions:
        raise ValidationError(f"condition {want.condition!r} is not known; use one of {', '.join(conditions)}",
                              field=f"{at}.condition")
    if want.reason == "other" and not want.note.strip():
        raise ValidationError(f"line {want.sale_line_no} ({sold.sku}) is returned for 'other'; add a note saying "
                              "why", field=f"{at}.note")
    return sold


def refund_lines(sold: Sequence[SoldLine], wanted: Sequence[ReturnRequestLine],
                 reasons: Collection[str] = RETURN_REASONS,
                 conditions: Collection[str] = CONDITIONS) -> list[RefundLine]:
    """Check a return against the sale and price each line by the module's proration, in request order."""
    if not wanted:
        raise ValidationError("a return needs at least one line; choose the items coming back", field="lines")
    by_no = _sold_by_line(sold)
    seen: set[int] = set()
    refunds = []
    for i, want in enumerate(wanted):
        line = _check_request(i, want, by_no.get(want.sale_line_no), seen, reasons, conditions)
        seen.add(want.sale_line_no)
        before, after = line.already_returned, line.already_returned + want.qty
        amount = _prorate(line.total_minor, after, line.qty) - _prorate(line.total_minor, before, line.qty)
        tax = _prorate(line.tax_minor, after, line.qty) - _prorate(line.tax_minor, before, line.qty)
        refunds.append(RefundLine(want.sale_line_no, line.sku, want.qty, amount, tax, want.reason,
                                  want.condition, want.note.strip()))
    return refunds


def split_refund(amount_minor: int, tenders: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """Each tender's part of a refund, in the sale's tender order (zero parts included)."""
    if not _whole(amount_minor) or amount_minor < 0:
        raise ValidationError(f"a refund must be a whole number of minor units, 0 or more, got {amount_minor!r}",
                              field="amount_minor")
    for kind, paid in tenders:
        if not _whole(paid) or paid < 0:
            raise UnprocessableError(f"tender {kind!r} paid {paid!r}; a tender pays a whole number of minor "
                                     "units, 0 or more, net of change: reload the sale", field="tenders")
    paid_total = sum(paid for _, paid in tenders)
    if amount_minor > paid_total:
        raise UnprocessableError(f"the refund {money.format_minor(amount_minor, '').strip()} is more than the "
                                 f"{money.format_minor(paid_total, '').strip()} the sale's tenders paid; refund at "
                                 "most what was paid", field="amount_minor")
    if amount_minor == 0:
        return [(kind, 0) for kind, _ in tenders]
    parts = [amount_minor * paid // paid_total for _, paid in tenders]
    remainders = [amount_minor * paid % paid_total for _, paid in tenders]
    short = amount_minor - sum(parts)
    # short < the number of tenders with a remainder, and such a tender's exact share is below what it paid.
    for i in sorted(range(len(tenders)), key=lambda j: (-remainders[j], j))[:short]:
        parts[i] += 1
    return [(kind, part) for (kind, _), part in zip(tenders, parts, strict=True)]


def location_for(condition: str, locations: Mapping[str, str] = CONDITION_LOCATION) -> str:
    """The location a returned item in this condition goes to."""
    if condition not in locations:
        raise UnprocessableError(f"condition {condition!r} has no location; use one of {', '.join(locations)} or "
                                 "map it to a location in the store's settings", field="condition")
    return locations[condition]


def needs_manager(has_receipt: bool, amount_minor: int, threshold_minor: int) -> bool:
    """True for a return without a receipt, or one refunding more than threshold_minor."""
    return not has_receipt or amount_minor > threshold_minor
