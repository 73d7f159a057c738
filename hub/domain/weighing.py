"""Legal-for-trade weighing rules (EN 45501, NIST Handbook 44), pure: which scale reading may be
sold by, and where a weighed sale line's quantity may come from."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.domain.sale import LineRequest
from hub.errors import BackroomError, Conflict, UnprocessableError

WEIGHED_UNIT = "g"
SOURCES = ("scale", "label", "manual")

ZERO_FIRST = "Take the item off the scale: it must show zero before the next weighing."


@dataclass(frozen=True)
class Reading:
    """A scale's latest weight event, as the bus carries it (devices.bus.Weight)."""

    device_id: str
    grams: int
    stable: bool
    status: str = "ok"
    tare_g: int = 0

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Reading:
        return cls(
            str(event["device_id"]),
            int(event["grams"]),
            bool(event["stable"]),
            str(event.get("status", "ok")),
            int(event.get("tare_g", 0)),
        )


@dataclass(frozen=True)
class Weighing:
    """A weighing the hub took: one reading, for one sale line at most."""

    id: str
    register_id: str
    device_id: str
    grams: int
    taken_at: datetime
    sale_id: str | None = None


def is_zero(reading: Reading) -> bool:
    """The platter is empty: the scale says it is at its centre of zero, or holds still at 0 g."""
    return reading.status == "at_zero" or (
        reading.stable and reading.grams == 0 and reading.status == "ok"
    )


def refusal(reading: Reading | None, zeroed: bool) -> BackroomError | None:
    """Why this reading may not be sold by, or None: only a stable, positive, in-range weight,
    and only once the scale has been back at zero since its last weighing."""
    if reading is None:
        return Conflict(
            "the scale has sent no weight yet; check that it is on, then place the item on it",
            code="scale_no_reading",
        )
    status = reading.status
    if status == "over_capacity":
        return Conflict(
            "the scale is over its capacity; take something off", code="weight_over_capacity"
        )
    if status == "under_zero":
        return Conflict(
            "the scale shows less than zero; empty it and zero it", code="weight_under_zero"
        )
    if status == "motion" or (status == "ok" and not reading.stable):
        return Conflict(
            "the weight is still settling; wait until the scale shows a steady weight",
            code="weight_in_motion",
        )
    if status not in ("ok", "at_zero"):
        return Conflict(
            f"the scale reports {status!r}, not a weight; check the scale", code="scale_error"
        )
    if reading.grams <= 0 or status == "at_zero":
        return Conflict(
            "the scale shows no weight; place the item on the scale", code="weight_not_positive"
        )
    if not zeroed:
        return Conflict(ZERO_FIRST, code="scale_not_zeroed")
    return None


def _line(no: int, field: str = "") -> str:
    return f"lines[{no - 1}]" + (f".{field}" if field else "")


def weigh_line(
    no: int,
    req: LineRequest,
    unit: str,
    register_id: str,
    has_scale: bool,
    weighing: Weighing | None,
    label_grams: int | None,
    now: datetime,
    max_age_s: float,
    sale_id: str,
) -> LineRequest:
    """The line with its quantity and weight_source settled, or the reason it may not be sold.

    A weighed line takes its grams from a weighing the hub took (scale), from its scanned label
    (label), or, only on a register without a scale, as typed (manual). label_grams is what the
    hub read from req.code itself; weighing is the row req.weighing_id names (None: unknown).
    """
    if unit != WEIGHED_UNIT:
        if req.weighing_id or (req.code and req.label_price_minor is None):
            field = "weighing_id" if req.weighing_id else "code"
            raise UnprocessableError(
                f"line {no}: {req.sku} is sold by {unit}, not weighed; send it without {field}",
                field=_line(no, field),
            )
        return req
    if req.weighing_id:
        if weighing is None:
            raise UnprocessableError(
                f"line {no}: the hub took no weighing {req.weighing_id}; weigh the item again",
                field=_line(no, "weighing_id"),
                code="weighing_unknown",
            )
        if weighing.register_id != register_id:
            raise UnprocessableError(
                f"line {no}: weighing {weighing.id} was taken at register {weighing.register_id}, "
                f"not {register_id}; weigh the item on this register's scale",
                field=_line(no, "weighing_id"),
                code="weighing_other_register",
            )
        if weighing.sale_id not in (None, sale_id):
            raise Conflict(
                f"line {no}: weighing {weighing.id} ({weighing.grams} g) already paid for a line of another "
                "sale; weigh the item again",
                field=_line(no, "weighing_id"),
                code="weighing_used",
            )
        age = (now - weighing.taken_at).total_seconds()
        if age > max_age_s:
            raise UnprocessableError(
                f"line {no}: the weighing of {weighing.grams} g is {int(age // 60)} min old, older than the "
                f"{int(max_age_s // 60)} min a weight may wait for its sale; remove the line and weigh the item again",
                field=_line(no, "weighing_id"),
                code="weighing_stale",
            )
        return _settled(no, req, weighing.grams, "scale", "the weighing")
    if req.code:
        if label_grams is None or label_grams <= 0:
            raise UnprocessableError(
                f"line {no}: the code {req.code} carries no weight; weigh the item on the scale",
                field=_line(no, "code"),
                code="label_without_weight",
            )
        return _settled(no, req, label_grams, "label", "its label")
    if has_scale:
        raise UnprocessableError(
            f"line {no}: this register has a scale, so a weight may not be typed in; weigh the item on the scale "
            "or scan its label",
            field=_line(no, "qty"),
            code="manual_weight_refused",
        )
    if req.qty <= 0:
        raise UnprocessableError(
            f"line {no}: give the weight in grams as qty", field=_line(no, "qty")
        )
    return dataclasses.replace(req, weight_source="manual")


def _settled(no: int, req: LineRequest, grams: int, source: str, where: str) -> LineRequest:
    if req.qty and req.qty != grams:
        raise UnprocessableError(
            f"line {no}: qty {req.qty} g is not the {grams} g of {where}; send qty {grams} or none",
            field=_line(no, "qty"),
            code="weight_mismatch",
        )
    return dataclasses.replace(req, qty=grams, weight_source=source)


def label_priced(no: int, req: LineRequest, kind: str, price_minor: int | None) -> LineRequest:
    """An each item's line from a scale's price label: one pack, at the price printed on it.

    kind and price_minor are what the hub read from req.code itself, never what the register
    says. Each pack carries its own label (and maybe its own price), so a line is one label.
    """
    if kind != "rcn_price" or price_minor is None:
        raise UnprocessableError(
            f"line {no}: the code {req.code} carries no price, and {req.sku} is sold each; "
            "send the line without code (a price label is the only code a line of each items may carry)",
            field=_line(no, "code"),
            code="label_without_price",
        )
    if req.qty not in (0, 1):
        raise UnprocessableError(
            f"line {no}: a price label prices one pack, not {req.qty}; scan each pack's own label",
            field=_line(no, "qty"),
            code="label_one_pack",
        )
    return dataclasses.replace(req, qty=1, label_price_minor=price_minor)


def claimed_source(req: LineRequest, unit: str) -> LineRequest:
    """A quote's line: the weight_source the sale would record, checked only when the sale comes."""
    if unit != WEIGHED_UNIT:
        return req
    return dataclasses.replace(
        req, weight_source="scale" if req.weighing_id else "label" if req.code else "manual"
    )
