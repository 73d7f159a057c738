"""Building a sale from a register's request: validation, pricing, tax and change. Pure."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.domain import money, pricing
from hub.errors import UnprocessableError, ValidationError

MAX_LINES = 500
MAX_QTY = 1_000_000  # one million base units: 1 t of a weighed item, or a million pieces
TENDER_KINDS = ("cash",)
_LUHN_CANDIDATE = re.compile(r"\d{13,19}")


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
    qty: int
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tender:
    kind: str
    amount_minor: int
    reference: str = ""


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


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def looks_like_card_number(text: str) -> bool:
    """13-19 digits passing Luhn (spaces and dashes ignored): never stored, anywhere."""
    compact = re.sub(r"[\s-]", "", text)
    return any(luhn_ok(m) for m in _LUHN_CANDIDATE.findall(compact))


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


def parse_request(body: Any) -> tuple[str, str, list[LineRequest], list[Tender]]:
    """Check a POST /sales body: {id, register_id, lines: [{sku, qty}], tenders: [{kind, amount_minor}]}."""
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object")
    unknown = set(body) - {"id", "register_id", "lines", "tenders", "tier"}
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(f"unknown field {name!r}; allowed: id, register_id, lines, tenders, tier", field=name)
    raw_id = _str(body.get("id"), "id", 64)
    try:
        sale_id = str(uuid.UUID(raw_id))
    except ValueError:
        raise ValidationError(f"id {raw_id!r} is not a UUID; the register makes one per sale", field="id") from None
    register_id = _str(body.get("register_id"), "register_id", 64)
    lines = parse_lines(body.get("lines"))
    raw_tenders = body.get("tenders")
    if not isinstance(raw_tenders, list) or not raw_tenders:
        raise ValidationError("tenders must be a non-empty list of {kind, amount_minor}", field="tenders")
    tenders = []
    for i, raw in enumerate(raw_tenders):
        if not isinstance(raw, dict):
            raise ValidationError(f"tenders[{i}] must be an object {{kind, amount_minor}}", field=f"tenders[{i}]")
        for key, value in raw.items():
            if isinstance(value, (str, int)) and not isinstance(value, bool) and key != "amount_minor" and looks_like_card_number(str(value)):
                raise ValidationError(
                    f"tenders[{i}].{key} looks like a payment card number; Backroom never stores card "
                    "numbers: record only the terminal's reference",
                    field=f"tenders[{i}].{key}",
                )
        extra = set(raw) - {"kind", "amount_minor", "reference"}
        if extra:
            name = sorted(extra)[0]
            raise ValidationError(f"tenders[{i}] has an unknown field {name!r}; allowed: kind, amount_minor, reference",
                                  field=f"tenders[{i}].{name}")
        kind = _str(raw.get("kind"), f"tenders[{i}].kind", 32)
        if kind not in TENDER_KINDS:
            raise ValidationError(f"tenders[{i}].kind {kind!r} is not supported yet; use one of {', '.join(TENDER_KINDS)}", field=f"tenders[{i}].kind")
        reference = raw.get("reference", "")
        if not isinstance(reference, str) or len(reference) > 64:
            raise ValidationError(f"tenders[{i}].reference must be text of at most 64 characters", field=f"tenders[{i}].reference")
        tenders.append(Tender(kind, _int(raw.get("amount_minor"), f"tenders[{i}].amount_minor", 1, 10**10), reference))
    return sale_id, register_id, lines, tenders


def parse_lines(raw_lines: Any) -> list[LineRequest]:
    """Check the lines of a sale or a quote: a non-empty list of {sku, qty}."""
    if not isinstance(raw_lines, list) or not raw_lines:
        raise ValidationError("lines must be a non-empty list of {sku, qty}", field="lines")
    if len(raw_lines) > MAX_LINES:
        raise ValidationError(f"a sale holds at most {MAX_LINES} lines", field="lines")
    lines = []
    for i, raw in enumerate(raw_lines):
        if not isinstance(raw, dict):
            raise ValidationError(f"lines[{i}] must be an object {{sku, qty}}", field=f"lines[{i}]")
        extra = set(raw) - {"sku", "qty", "modifiers"}
        if extra:
            name = sorted(extra)[0]
            raise ValidationError(f"lines[{i}] has an unknown field {name!r}; allowed: sku, qty, modifiers",
                                  field=f"lines[{i}].{name}")
        mods = raw.get("modifiers", [])
        if not isinstance(mods, list) or len(mods) > 20 or not all(isinstance(m, str) and 0 < len(m) <= 40 for m in mods):
            raise ValidationError(f"lines[{i}].modifiers must be a list of modifier option ids", field=f"lines[{i}].modifiers")
        lines.append(LineRequest(_str(raw.get("sku"), f"lines[{i}].sku", 64), _int(raw.get("qty"), f"lines[{i}].qty", 1, MAX_QTY),
                                 tuple(mods)))
    return lines


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
) -> Sale:
    """Price every line from the catalog (never from the client) and settle the tenders."""
    lines = price_lines(requests, catalog, prices_include_tax, tier)
    total = sum(line.total_minor for line in lines)
    tendered = sum(t.amount_minor for t in tenders)
    if tendered < total:
        raise UnprocessableError(
            f"tendered {money.format_minor(tendered, currency).strip()} is less than the total "
            f"{money.format_minor(total, currency).strip()}; take more cash before completing the sale",
            field="tenders",
        )
    return Sale(
        sale_id, register_id, tuple(lines), tuple(tenders), total,
        sum(line.tax_minor for line in lines), tendered, tendered - total,
    )


def price_lines(requests: list[LineRequest], catalog: Mapping[str, CatalogItem], prices_include_tax: bool,
                tier: str = "retail") -> list[SaleLine]:
    """Each line priced by pricing.price_line (tiers, breaks, modifiers), with tax per line."""
    lines = []
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
        priced = pricing.price_line(prices, req.qty, tier, options)
        gross = priced.total_minor
        if prices_include_tax:
            tax = money.tax_included(gross, item.tax_rate_bp)
            total = gross
        else:
            tax = money.tax_added(gross, item.tax_rate_bp)
            total = gross + tax
        lines.append(SaleLine(no, item.sku, item.name, item.unit, req.qty, priced.unit_price_minor, total, item.tax_rate_bp,
                              tax, tuple(o.id for o in options), priced.base_minor + priced.modifiers_minor - gross))
    return lines
