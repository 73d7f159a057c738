"""Building a sale from a register's request: validation, pricing, tax and change. Pure."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from hub.domain import discounts, pricing, tax
from hub.domain.tenders import (  # noqa: F401  (re-exported: the tender types belong to a sale)
    TENDER_KINDS,
    Tender,
    looks_like_card_number,
    luhn_ok,
    parse_tenders,
    settle,
)
from hub.errors import UnprocessableError, ValidationError

MAX_LINES = 500
MAX_QTY = 1_000_000  # one million base units: 1 t of a weighed item, or a million pieces
# a sale made while the hub was out of reach, replayed; none of these is in its request hash, so a sale
# first sent live (answer lost), then replayed from the register's queue, is one sale
OFFLINE_FIELDS = ("offline", "recorded_at", "charged", "sold_by")
OFFLINE_MAX_AGE = timedelta(days=7)
OFFLINE_CLOCK_SKEW = timedelta(minutes=5)  # a tablet clock this far behind the hub's still books into the shift
MAX_MINOR = 10**12
DISCOUNT_REASONS = ("damaged", "loyalty", "price_match", "staff", "promotion")  # store.discount_reasons' default


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    name: str
    unit: str
    price_minor: int
    tax_rate_bp: int
    active: bool = True
    prices: pricing.PriceList | None = None  # tiers and breaks; None: retail price_minor only
    modifier_groups: tuple[pricing.ModifierGroup, ...] = ()
    kit_policy: str = ""
    components: tuple[tuple[str, int], ...] = ()
    variant_axes: tuple[str, ...] = ()  # a parent of variants: the till sells one of its variants


@dataclass(frozen=True)
class LineRequest:
    sku: str
    qty: int  # 0: not given; a weighed line then takes it from weighing_id or code (hub.domain.weighing)
    modifiers: tuple[str, ...] = ()
    weighing_id: str = ""  # a weighing the hub took on this register's scale
    code: str = ""  # the scanned scale label or GS1 code the weight (or an each item's price) was read from
    weight_source: str | None = None  # settled by hub.domain.weighing.weigh_line: scale, label or manual
    discount: discounts.Discount | None = None
    price_override: discounts.PriceOverride | None = None
    label_price_minor: int | None = None  # settled by hub.domain.weighing.label_priced: the pack's price label


@dataclass(frozen=True)
class SaleLine:
    line_no: int
    sku: str
    name: str
    unit: str
    qty: int
    unit_price_minor: int
    total_minor: int
    tax_rate_bp: int
    tax_minor: int
    modifiers: tuple[str, ...] = ()
    saving_minor: int = 0  # what quantity breaks took off, before tax
    weight_source: str | None = None  # weighed items: scale, label or manual (the receipt marks manual)
    weighing_id: str = ""
    discount_minor: int = 0  # this line's own discount, before tax is taken
    discount_reason: str = ""
    cart_discount_minor: int = 0  # its share of the cart discount
    override_from_minor: int | None = None  # a price override: the unit price it replaced
    override_reason: str = ""
    override_by: str = ""  # who changed the price, and the manager who approved it (settled by the hub)
    override_approver: str = ""
    price_source: str | None = None  # "label": an each item sold at the price its scale label carries


@dataclass(frozen=True)
class Sale:
    id: str
    register_id: str
    lines: tuple[SaleLine, ...]
    tenders: tuple[Tender, ...]
    total_minor: int
    tax_minor: int
    tendered_minor: int
    change_minor: int
    taxes: tuple[tax.RateTotal, ...] = ()
    cart_discount: discounts.Discount | None = None


@dataclass(frozen=True)
class Adjustments:
    """A cart's discounts and overrides, and whether they go beyond what the seller may do alone."""

    discount_minor: int  # every line and cart discount together
    before_minor: int  # the lines' amounts before any discount
    overrides: tuple[dict[str, int], ...]  # [{line_no, unit_price_minor}]


def adjustments(lines: list[SaleLine], prices_include_tax: bool) -> Adjustments:
    """What a priced cart took off its shelf amounts, and which lines sell at an overridden price."""
    off = sum(ln.discount_minor + ln.cart_discount_minor for ln in lines)
    after = sum(ln.total_minor if prices_include_tax else ln.total_minor - ln.tax_minor for ln in lines)
    return Adjustments(off, after + off, tuple({"line_no": ln.line_no, "unit_price_minor": ln.unit_price_minor}
                                               for ln in lines if ln.override_from_minor is not None))


def _int(value: Any, field: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(f"{field} must be a whole number, got {value!r}", field=field)
    if not low <= value <= high:
        raise ValidationError(f"{field} must be between {low} and {high}, got {value}", field=field)
    return value


def _str(value: Any, field: str, max_len: int = 128) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} must be a non-empty string, got {value!r}", field=field)
    if len(value) > max_len:
        raise ValidationError(f"{field} is longer than {max_len} characters", field=field)
    return value


def parse_request(body: Any, reasons: tuple[str, ...] = DISCOUNT_REASONS) -> tuple[str, str, list[LineRequest], list[Tender]]:
    """Check a POST /sales body: {id, register_id, lines: [{sku, qty}], tenders: [{kind, amount_minor}]}."""
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object")
    unknown = set(body) - {"id", "register_id", "lines", "tenders", "tier", "receipt", *OFFLINE_FIELDS, *CART_FIELDS}
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(f"unknown field {name!r}; allowed: id, register_id, lines, tenders, tier, offline, recorded_at, "
                              "charged, cart_discount, approvals, receipt",
                              field=name)
    raw_id = _str(body.get("id"), "id", 64)
    try:
        sale_id = str(uuid.UUID(raw_id))
    except ValueError:
        raise ValidationError(f"id {raw_id!r} is not a UUID; the register makes one per sale", field="id") from None
    register_id = _str(body.get("register_id"), "register_id", 64)
    lines = parse_lines(body.get("lines"), reasons)
    tenders = parse_tenders(body.get("tenders"))  # kinds, references, the card-number guard: hub.domain.tenders
    return sale_id, register_id, lines, tenders


def offline_recorded_at(body: Mapping[str, Any], now: datetime, may_backdate: bool) -> datetime | None:
    """When a sale the register made without the hub was made (its clock), or None for a live sale.

    A tablet clock ahead of the hub's counts as now; a sale older than OFFLINE_MAX_AGE needs a manager.
    """
    offline = body.get("offline", False)
    if not isinstance(offline, bool):
        raise ValidationError("offline must be true or false", field="offline")
    if not offline:
        if "recorded_at" in body:
            raise ValidationError("recorded_at goes only with offline: true", field="recorded_at")
        return None
    raw = body.get("recorded_at")
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00")) if isinstance(raw, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ValidationError(f"recorded_at must be an RFC 3339 time with a zone, e.g. 2026-11-27T13:45:00Z (got {raw!r})",
                              field="recorded_at")
    if when < now - OFFLINE_MAX_AGE and not may_backdate:
        raise UnprocessableError(f"this offline sale was made {(now - when).days} days ago; a manager must send it "
                                 "(sign in as a manager on this register)", field="recorded_at", code="offline_too_old")
    return min(when, now)


def offline_seller(body: Mapping[str, Any]) -> str | None:
    """An offline sale's sold_by: who was signed in on the register when the sale was made."""
    if "sold_by" not in body:
        return None
    if body.get("offline") is not True:
        raise ValidationError("sold_by goes only with offline: true (a live sale is the signed-in person's)",
                              field="sold_by")
    return _str(body["sold_by"], "sold_by", 64)


@dataclass(frozen=True)
class Charged:
    """What a register charged for an offline sale, priced from its catalog snapshot."""

    catalog_version: int
    total_minor: int
    lines: tuple[tuple[int, int], ...]  # (unit_price_minor, total_minor) per sale line, tax included


def parse_charged(body: Mapping[str, Any], line_count: int) -> Charged | None:
    """An offline sale's charged: {catalog_version, total_minor, lines: [{unit_price_minor, total_minor}]}."""
    raw = body.get("charged")
    if raw is None:
        return None
    if body.get("offline") is not True:
        raise ValidationError("charged goes only with offline: true", field="charged")
    if not isinstance(raw, dict) or set(raw) != {"catalog_version", "total_minor", "lines"}:
        raise ValidationError("charged must be {catalog_version, total_minor, lines: [{unit_price_minor, total_minor}]}",
                              field="charged")
    version = _int(raw["catalog_version"], "charged.catalog_version", 0, 2**62)
    total = _int(raw["total_minor"], "charged.total_minor", 0, MAX_MINOR)
    lines = raw["lines"]
    if not isinstance(lines, list) or len(lines) != line_count:
        raise ValidationError(f"charged.lines must hold one {{unit_price_minor, total_minor}} per sale line "
                              f"({line_count})", field="charged.lines")
    out = []
    for i, ln in enumerate(lines):
        if not isinstance(ln, dict) or set(ln) != {"unit_price_minor", "total_minor"}:
            raise ValidationError(f"charged.lines[{i}] must be {{unit_price_minor, total_minor}}",
                                  field=f"charged.lines[{i}]")
        out.append((_int(ln["unit_price_minor"], f"charged.lines[{i}].unit_price_minor", 0, MAX_MINOR),
                    _int(ln["total_minor"], f"charged.lines[{i}].total_minor", 0, MAX_MINOR)))
    if sum(t for _, t in out) != total:
        raise ValidationError(f"charged.total_minor {total} is not the sum of charged.lines' total_minor",
                              field="charged.total_minor")
    return Charged(version, total, tuple(out))


def price_offline(sale_id: str, register_id: str, today: list[SaleLine], tenders: list[Tender], charged: Charged | None,
                  currency: str = "", cart_discount: discounts.Discount | None = None,
                  tax_rounding: str = "line") -> tuple[Sale, list[dict[str, Any]]]:
    """An offline sale as the register charged it, and its lines whose charged price differs from today's.

    The customer paid and left: the sale stands at the charged amounts (tax taken out of them, as the
    tendered total is what was paid), never refused because today's prices are higher. A register that
    sent no charged prices (a queue from before it did) is kept at today's prices, its change at what
    the cash covers. Tenders short of what the register itself charged are a malformed body.
    """
    lines = today
    if charged is not None:
        taxes = tax.compute([(total, ln.tax_rate_bp) for ln, (_, total) in zip(today, charged.lines, strict=True)],
                            True, tax_rounding)
        lines = [replace(ln, unit_price_minor=unit, total_minor=taxed.total_minor, tax_minor=taxed.tax_minor)
                 for ln, (unit, _), taxed in zip(today, charged.lines, taxes.lines, strict=True)]
    total = sum(ln.total_minor for ln in lines)
    tendered = sum(t.amount_minor for t in tenders)
    if tendered >= total:
        tendered, change = settle(total, tenders, currency)
    elif charged is not None:
        raise ValidationError(f"the tenders ({tendered}) are less than charged.total_minor ({total}); a register "
                              "finishes no sale short", field="tenders")
    else:
        change = 0
    differences = [{"line_no": ln.line_no, "sku": ln.sku, "charged_unit_price_minor": ln.unit_price_minor,
                    "charged_total_minor": ln.total_minor, "today_unit_price_minor": now.unit_price_minor,
                    "today_total_minor": now.total_minor}
                   for ln, now in zip(lines, today, strict=True)
                   if (ln.unit_price_minor, ln.total_minor) != (now.unit_price_minor, now.total_minor)]
    sale = Sale(sale_id, register_id, tuple(lines), tuple(tenders), total, sum(ln.tax_minor for ln in lines), tendered,
                change, tax.summarize([(ln.total_minor, ln.tax_minor, ln.tax_rate_bp) for ln in lines]), cart_discount)
    return sale, differences


def parse_lines(raw_lines: Any, reasons: tuple[str, ...] = DISCOUNT_REASONS) -> list[LineRequest]:
    """Check the lines of a sale or a quote: a non-empty list of {sku, qty}."""
    if not isinstance(raw_lines, list) or not raw_lines:
        raise ValidationError("lines must be a non-empty list of {sku, qty}", field="lines")
    if len(raw_lines) > MAX_LINES:
        raise ValidationError(f"a sale holds at most {MAX_LINES} lines", field="lines")
    lines = []
    for i, raw in enumerate(raw_lines):
        if not isinstance(raw, dict):
            raise ValidationError(f"lines[{i}] must be an object {{sku, qty}}", field=f"lines[{i}]")
        extra = set(raw) - {"sku", "qty", "modifiers", "weighing_id", "code", "discount", "price_override"}
        if extra:
            name = sorted(extra)[0]
            raise ValidationError(f"lines[{i}] has an unknown field {name!r}; allowed: sku, qty, modifiers, weighing_id, "
                                  "code, discount, price_override",
                                  field=f"lines[{i}].{name}")
        mods = raw.get("modifiers", [])
        if not isinstance(mods, list) or len(mods) > 20 or not all(isinstance(m, str) and 0 < len(m) <= 40 for m in mods):
            raise ValidationError(f"lines[{i}].modifiers must be a list of modifier option ids", field=f"lines[{i}].modifiers")
        weighing_id = _str(raw["weighing_id"], f"lines[{i}].weighing_id", 64) if "weighing_id" in raw else ""
        code = _str(raw["code"], f"lines[{i}].code", 128) if "code" in raw else ""
        if weighing_id and code:
            raise ValidationError(f"lines[{i}] has both weighing_id and code; a weight comes from one of them",
                                  field=f"lines[{i}].code")
        # a weighed line may leave qty to its weighing or label (hub.domain.weighing)
        qty = 0 if "qty" not in raw and (weighing_id or code) else _int(raw.get("qty"), f"lines[{i}].qty", 1, MAX_QTY)
        lines.append(LineRequest(_str(raw.get("sku"), f"lines[{i}].sku", 64), qty, tuple(mods), weighing_id, code,
                                 discount=discounts.parse_discount(raw.get("discount"), f"lines[{i}].discount", reasons),
                                 price_override=discounts.parse_override(raw.get("price_override"),
                                                                         f"lines[{i}].price_override", reasons)))
    return lines


CART_FIELDS = ("cart_discount", "approvals")


def parse_cart(body: Mapping[str, Any], reasons: tuple[str, ...] = DISCOUNT_REASONS) -> tuple[discounts.Discount | None, dict[str, str]]:
    """A sale's or quote's cart discount and its manager approval tokens ({discount, price_override})."""
    cart = discounts.parse_discount(body.get("cart_discount"), "cart_discount", reasons)
    approvals = body.get("approvals", {})
    if not isinstance(approvals, dict) or set(approvals) - {"discount", "price_override"} \
            or not all(isinstance(v, str) and 0 < len(v) <= 128 for v in approvals.values()):
        raise ValidationError("approvals must be {discount, price_override}: tokens a manager's PIN gave",
                              field="approvals")
    return cart, dict(approvals)


def parse_tier(body: Mapping[str, Any]) -> str:
    """The customer's price tier for a sale or quote: retail unless the register says member or wholesale."""
    tier = body.get("tier", "retail")
    if tier not in pricing.TIERS:
        raise ValidationError(f"tier must be one of {', '.join(pricing.TIERS)} (got {tier!r})", field="tier")
    return str(tier)


def price_sale(
    sale_id: str,
    register_id: str,
    requests: list[LineRequest],
    tenders: list[Tender],
    catalog: Mapping[str, CatalogItem],
    prices_include_tax: bool,
    currency: str = "",
    tier: str = "retail",
    cart_discount: discounts.Discount | None = None,
    tax_rounding: str = "line",
) -> Sale:
    """Price every line from the catalog (never from the client) and settle the tenders."""
    lines = price_lines(requests, catalog, prices_include_tax, tier, cart_discount, tax_rounding)
    total = sum(line.total_minor for line in lines)
    tendered, change = settle(total, tenders, currency)  # split tenders; change only from cash
    return Sale(
        sale_id, register_id, tuple(lines), tuple(tenders), total,
        sum(line.tax_minor for line in lines), tendered, change,
        tax.summarize([(ln.total_minor, ln.tax_minor, ln.tax_rate_bp) for ln in lines]), cart_discount,
    )


def price_lines(requests: list[LineRequest], catalog: Mapping[str, CatalogItem], prices_include_tax: bool,
                tier: str = "retail", cart_discount: discounts.Discount | None = None,
                tax_rounding: str = "line") -> list[SaleLine]:
    """Each line priced by pricing.price_line (tiers, breaks, modifiers) or at its overridden price, less
    its discounts (hub.domain.discounts), with tax by hub.domain.tax for the whole cart at once."""
    priced_lines = []
    for no, req in enumerate(requests, start=1):
        item = catalog.get(req.sku)
        if item is None:
            raise UnprocessableError(f"line {no}: no item with SKU {req.sku!r} is in the catalog", field=f"lines[{no - 1}].sku")
        if not item.active:
            raise UnprocessableError(f"{item.name} ({item.sku}) is inactive and cannot be sold", field=f"lines[{no - 1}].sku")
        if item.variant_axes:
            raise UnprocessableError(f"line {no}: {item.name} comes in {', '.join(item.variant_axes)}; "
                                     "pick the variant to sell", field=f"lines[{no - 1}].sku")
        try:
            options = pricing.choose_modifiers(item.modifier_groups, req.modifiers)
        except UnprocessableError as exc:
            raise UnprocessableError(f"line {no} ({item.name}): {exc.message}", field=f"lines[{no - 1}].modifiers") from None
        prices = item.prices or pricing.PriceList(item.unit, item.price_minor)
        if req.label_price_minor is not None:  # the label is the price of this one pack: no tier or break
            prices = pricing.PriceList(item.unit, req.label_price_minor)
        listed = pricing.price_line(prices, req.qty, tier if req.label_price_minor is None else "retail", options)
        # an override sells at its own flat unit price: no tier or break applies to it; modifiers still do
        priced = pricing.price_line(pricing.PriceList(item.unit, req.price_override.unit_price_minor), req.qty,
                                    "retail", options) if req.price_override else listed
        priced_lines.append((req, item, options, listed, priced))
    gross = [p.total_minor for _, _, _, _, p in priced_lines]
    offs = discounts.apply(gross, [req.discount for req, *_ in priced_lines], cart_discount)
    taxes = tax.compute([(g - own - share, item.tax_rate_bp) for g, (own, share), (_, item, *_)
                         in zip(gross, offs, priced_lines, strict=True)], prices_include_tax, tax_rounding)
    lines = []
    for no, ((req, item, options, listed, priced), (own, share), taxed) in enumerate(
            zip(priced_lines, offs, taxes.lines, strict=True), start=1):
        override = req.price_override
        lines.append(SaleLine(no, item.sku, item.name, item.unit, req.qty, priced.unit_price_minor, taxed.total_minor,
                              item.tax_rate_bp, taxed.tax_minor, tuple(o.id for o in options),
                              priced.base_minor + priced.modifiers_minor - priced.total_minor,
                              req.weight_source, req.weighing_id, own, req.discount.reason if req.discount else "",
                              share, listed.unit_price_minor if override else None,
                              override.reason if override else "",
                              price_source="label" if req.label_price_minor is not None else None))
    return lines
