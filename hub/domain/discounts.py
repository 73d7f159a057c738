"""Line and cart discounts with a reason, and the price override. Pure.

A discount is a percentage (in basis points) or an amount in minor units, with a reason code from
the store's list (`store.discount_reasons`). A line discount comes off that line's amount; a cart
discount comes off the cart's amount after line discounts and is spread over the lines in
proportion to their amounts by largest remainder, so the lines add up to the cart exactly and
each line's tax (hub.domain.tax) is taken on what that line really costs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hub.domain.money import div_half_up
from hub.domain.tax import largest_remainder
from hub.errors import ValidationError


@dataclass(frozen=True)
class Discount:
    reason: str
    percent_bp: int = 0  # one of percent_bp and amount_minor is set
    amount_minor: int = 0

    def off(self, amount: int) -> int:
        """What this discount takes off amount; never more than amount."""
        taken = div_half_up(amount * self.percent_bp, 10000) if self.percent_bp else self.amount_minor
        return min(max(taken, 0), amount)


@dataclass(frozen=True)
class PriceOverride:
    unit_price_minor: int
    reason: str


def _reason(raw: Mapping[str, Any], field: str, reasons: Sequence[str]) -> str:
    reason = raw.get("reason")
    if not isinstance(reason, str) or reason not in reasons:
        raise ValidationError(f"{field}.reason must be one of {', '.join(reasons)} (got {reason!r})",
                              field=f"{field}.reason")
    return reason


def _whole(raw: Mapping[str, Any], key: str, field: str, low: int, high: int) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(f"{field}.{key} must be a whole number from {low} to {high} (got {value!r})",
                              field=f"{field}.{key}")
    return value


def parse_discount(raw: Any, field: str, reasons: Sequence[str]) -> Discount | None:
    """{percent_bp, reason} or {amount_minor, reason}; None when raw is None."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"percent_bp", "amount_minor", "reason"} \
            or ("percent_bp" in raw) == ("amount_minor" in raw):
        raise ValidationError(f"{field} must be {{percent_bp, reason}} or {{amount_minor, reason}} "
                              "(1000 basis points = 10%)", field=field)
    reason = _reason(raw, field, reasons)
    if "percent_bp" in raw:
        return Discount(reason, percent_bp=_whole(raw, "percent_bp", field, 1, 10000))
    return Discount(reason, amount_minor=_whole(raw, "amount_minor", field, 1, 10**10))


def parse_override(raw: Any, field: str, reasons: Sequence[str]) -> PriceOverride | None:
    """{unit_price_minor, reason}: the line sells at this unit price instead of the item master's."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"unit_price_minor", "reason"}:
        raise ValidationError(f"{field} must be {{unit_price_minor, reason}}", field=field)
    return PriceOverride(_whole(raw, "unit_price_minor", field, 0, 10**10), _reason(raw, field, reasons))


def spread(total_off: int, amounts: Sequence[int]) -> list[int]:
    """total_off shared over lines in proportion to their amounts; the parts add up to total_off."""
    whole = sum(amounts)
    if total_off == 0 or whole == 0:
        return [0] * len(amounts)
    if not 0 < total_off <= whole:
        raise ValueError(f"cannot take {total_off} off lines worth {whole}")
    return largest_remainder(total_off, [a * total_off for a in amounts], whole)


def apply(amounts: Sequence[int], line_discounts: Sequence[Discount | None],
          cart_discount: Discount | None) -> list[tuple[int, int]]:
    """Each line's (line discount, share of the cart discount), from its amount before discounts."""
    own = [d.off(a) if d else 0 for a, d in zip(amounts, line_discounts, strict=True)]
    after = [a - o for a, o in zip(amounts, own, strict=True)]
    shares = spread(cart_discount.off(sum(after)), after) if cart_discount else [0] * len(amounts)
    return list(zip(own, shares, strict=True))


def needs_approval(discount_minor: int, before_minor: int, limit_bp: int, limit_minor: int) -> bool:
    """Whether a discount is above the store's limits: a share of the amount, or an amount (0: no limit)."""
    if discount_minor <= 0:
        return False
    over_share = before_minor > 0 and discount_minor * 10000 > before_minor * limit_bp
    over_amount = limit_minor > 0 and discount_minor > limit_minor
    return over_share or over_amount
