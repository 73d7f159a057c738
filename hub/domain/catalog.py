"""The item master's fields: what each may hold, who may change it, and what changed. Pure.

Change control (issue 3 §4): cashiers and devices edit nothing; managers edit descriptive
fields directly, and their price, cost, tax and unit changes become change requests an owner
approves; owners (and integration tokens, which owners create) apply directly. Every applied
change is recorded with who, when, old, new and why, whoever made it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hub.errors import Forbidden, ValidationError

UNITS = ("each", "g", "ml")
NET_UNITS = ("", "g", "ml")
KIT_POLICIES = ("", "components", "assembled")
NEGATIVE_STOCK = ("", "allow", "block")  # '' follows the store's setting (store.negative_stock)
PRICE_TIERS = ("member", "wholesale")  # retail is price_minor
BREAK_TIERS = ("retail", "member", "wholesale")
PACKAGING = ("unit", "inner", "case")
MAX_MINOR = 10**9
SKU_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f]")
IDENT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

# Columns of the items table that a caller may set; the rest of an item lives in side tables.
COLUMNS = ("name", "unit", "price_minor", "cost_minor", "tax_category", "department", "category",
           "supplier", "supplier_sku", "case_pack", "net_content", "net_unit", "active",
           "variant_axes", "variant_values", "kit_policy", "aisle", "negative_stock")
RELATED = ("tiers", "breaks", "components", "modifier_groups")
FIELDS = COLUMNS + RELATED
# Money and identity-of-measure fields: a manager's edit becomes a request an owner approves.
CONTROLLED = frozenset({"price_minor", "cost_minor", "tax_category", "tiers", "breaks", "unit"})
DESCRIPTIVE = frozenset(FIELDS) - CONTROLLED
DIRECT_ROLES = ("owner", "integration")
REQUEST_ROLES = ("manager",)


def _text(max_len: int, min_len: int = 0) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError(f"{name} must be text, not {type(value).__name__}", field=name)
        text: str = value.strip()
        if _CONTROL.search(text):
            raise ValidationError(f"{name} contains a control character; remove it", field=name)
        if not min_len <= len(text) <= max_len:
            raise ValidationError(f"{name} must be {min_len}-{max_len} characters (got {len(text)})", field=name)
        return text
    return check


def _int(lo: int, hi: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"{name} must be a whole number (minor units for money), not {value!r}", field=name)
        if not lo <= value <= hi:
            raise ValidationError(f"{name} must be between {lo} and {hi} (got {value})", field=name)
        return value
    return check


def _choice(options: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if value not in options:
            shown = ", ".join(repr(o) for o in options)
            raise ValidationError(f"{name} must be one of {shown} (got {value!r})", field=name)
        return str(value)
    return check


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{name} must be true or false (got {value!r})", field=name)
    return value


def _ident(name: str, value: Any) -> str:
    if not isinstance(value, str) or not IDENT_RE.match(value):
        raise ValidationError(f"{name} must be an id of lower-case letters, digits, '-' or '_' (got {value!r})",
                              field=name)
    return value


def _axes(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > 3:
        raise ValidationError(f"{name} must be a list of up to 3 axis names, e.g. [\"size\", \"colour\"]", field=name)
    axes = [_text(30, 1)(name, v) for v in value]
    if len(set(axes)) != len(axes):
        raise ValidationError(f"{name} names an axis twice: {axes}", field=name)
    return axes


def _values(name: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or len(value) > 3:
        raise ValidationError(f"{name} must be an object of up to 3 axis values, e.g. {{\"size\": \"M\"}}", field=name)
    return {_text(30, 1)(name, k): _text(40, 1)(name, v) for k, v in value.items()}


def _tiers(name: str, value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ValidationError(f"{name} must be an object like {{\"member\": 450}}", field=name)
    return {_choice(PRICE_TIERS)(name, k): _int(0, MAX_MINOR)(f"{name}.{k}", v) for k, v in value.items()}


def _rows(keys: tuple[str, ...], example: str) -> Callable[[str, Any], list[dict[str, Any]]]:
    def check(name: str, value: Any) -> list[dict[str, Any]]:
        if not isinstance(value, list) or len(value) > 50 or not all(isinstance(r, dict) and set(r) == set(keys) for r in value):
            raise ValidationError(f"{name} must be a list of objects like {example}", field=name)
        return [dict(r) for r in value]
    return check


def _breaks(name: str, value: Any) -> list[dict[str, Any]]:
    rows = _rows(("tier", "qty", "price_minor"), '{"tier": "retail", "qty": 3, "price_minor": 500}')(name, value)
    out = [{"tier": _choice(BREAK_TIERS)(name, r["tier"]), "qty": _int(2, 10_000)(f"{name}.qty", r["qty"]),
            "price_minor": _int(0, MAX_MINOR)(f"{name}.price_minor", r["price_minor"])} for r in rows]
    keys = [(r["tier"], r["qty"]) for r in out]
    if len(set(keys)) != len(keys):
        raise ValidationError(f"{name} has two breaks for the same tier and quantity", field=name)
    return sorted(out, key=lambda r: (BREAK_TIERS.index(r["tier"]), r["qty"]))


def _components(name: str, value: Any) -> list[dict[str, Any]]:
    rows = _rows(("sku", "qty"), '{"sku": "A1", "qty": 2}')(name, value)
    out = [{"sku": _sku(name, r["sku"]), "qty": _int(1, 1_000_000)(f"{name}.qty", r["qty"])} for r in rows]
    if len({r["sku"] for r in out}) != len(out):
        raise ValidationError(f"{name} lists a component twice; give its total quantity once", field=name)
    return sorted(out, key=lambda r: str(r["sku"]))


def _groups(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > 20:
        raise ValidationError(f"{name} must be a list of modifier group ids", field=name)
    ids = [_ident(name, v) for v in value]
    if len(set(ids)) != len(ids):
        raise ValidationError(f"{name} names a group twice", field=name)
    return ids


def _sku(name: str, value: Any) -> str:
    if not isinstance(value, str) or not SKU_RE.match(value):
        raise ValidationError(f"{name} {value!r} is not a valid SKU: 1-64 letters, digits, '.', '_' or '-', "
                              "starting with a letter or digit", field=name)
    return value


CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "name": _text(120, 1), "unit": _choice(UNITS), "price_minor": _int(0, MAX_MINOR),
    "cost_minor": _int(0, MAX_MINOR), "tax_category": _ident, "department": _text(80),
    "category": _text(80), "supplier": _text(80), "supplier_sku": _text(64),
    "case_pack": _int(1, 100_000), "net_content": _int(0, 10_000_000), "net_unit": _choice(NET_UNITS),
    "active": _bool, "variant_axes": _axes, "variant_values": _values, "kit_policy": _choice(KIT_POLICIES),
    "aisle": _text(40), "negative_stock": _choice(NEGATIVE_STOCK),
    "tiers": _tiers, "breaks": _breaks, "components": _components, "modifier_groups": _groups,
}
DEFAULTS: dict[str, Any] = {
    "cost_minor": 0, "tax_category": "zero", "department": "", "category": "", "supplier": "",
    "supplier_sku": "", "case_pack": 1, "net_content": 0, "net_unit": "", "active": True,
    "variant_axes": [], "variant_values": {}, "kit_policy": "", "tiers": {}, "breaks": [],
    "components": [], "modifier_groups": [], "aisle": "", "negative_stock": "",
}
REQUIRED_ON_CREATE = ("name", "unit")


def check_sku(value: Any) -> str:
    return _sku("sku", value)


def check_rate(value: Any) -> int:
    """A tax rate in basis points: 2000 is 20.00%."""
    return _int(0, 10_000)("rate_bp", value)


def check_modifier_group(body: Any) -> dict[str, Any]:
    """{id, name, required, max_choices, options: [{id, name, delta_minor}]}, validated."""
    if not isinstance(body, dict):
        raise ValidationError("a modifier group is an object {id, name, required, max_choices, options}")
    unknown = sorted(set(body) - {"id", "name", "required", "max_choices", "options"})
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]!r} in a modifier group", field=unknown[0])
    options = body.get("options")
    if not isinstance(options, list) or not 1 <= len(options) <= 30:
        raise ValidationError("options must list 1-30 choices like {\"id\": \"wrap\", \"name\": \"Gift wrap\", "
                              "\"delta_minor\": 200}", field="options")
    opts = [{"id": _ident("options.id", o.get("id")), "name": _text(60, 1)("options.name", o.get("name")),
             "delta_minor": _int(-MAX_MINOR, MAX_MINOR)("options.delta_minor", o.get("delta_minor", 0))}
            if isinstance(o, dict) else _bad_option() for o in options]
    if len({o["id"] for o in opts}) != len(opts):
        raise ValidationError("two options share an id", field="options")
    max_choices = _int(1, 30)("max_choices", body.get("max_choices", 1))
    if max_choices > len(opts):
        raise ValidationError(f"max_choices {max_choices} is more than the {len(opts)} options", field="max_choices")
    return {"id": _ident("id", body.get("id")), "name": _text(60, 1)("name", body.get("name")),
            "required": _bool("required", body.get("required", False)), "max_choices": max_choices, "options": opts}


def _bad_option() -> dict[str, Any]:
    raise ValidationError("each option must be an object {id, name, delta_minor}", field="options")


def check_packaging(packaging: Any, pack_qty: Any) -> tuple[str, int]:
    """A barcode's packaging and the units it means: a unit code means 1, inner and case more."""
    packaging = _choice(PACKAGING)("packaging", packaging)
    qty = _int(1, 100_000)("pack_qty", pack_qty)
    if packaging == "unit" and qty != 1:
        raise ValidationError("a unit barcode means 1 unit; mark it packaging 'inner' or 'case' for more", field="pack_qty")
    if packaging != "unit" and qty < 2:
        raise ValidationError(f"a barcode marked {packaging} means several units: give pack_qty of 2 or more", field="pack_qty")
    return packaging, qty


def clean_fields(raw: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """Validated, normalised field values; ValidationError naming the first bad field."""
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]!r}; items have {', '.join(FIELDS)}", field=unknown[0])
    out = {name: CHECKS[name](name, value) for name, value in raw.items()}
    if creating:
        missing = [f for f in REQUIRED_ON_CREATE if f not in out]
        if missing:
            raise ValidationError(f"a new item needs {missing[0]}", field=missing[0])
    return out


def with_defaults(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {**DEFAULTS, **fields}


def item_problems(item: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Rules across fields of a whole item, as (field, sentence) pairs."""
    problems = []
    if item.get("net_content") and not item.get("net_unit"):
        problems.append(("net_unit", "net_content needs a net_unit ('g' or 'ml')"))
    if item.get("net_unit") and item.get("unit") != "each":
        problems.append(("net_unit", "only items sold by 'each' have a net content; weighed goods are priced per kg"))
    if item.get("kit_policy") and not item.get("components"):
        problems.append(("components", "a kit needs at least one component"))
    if item.get("components") and not item.get("kit_policy"):
        problems.append(("kit_policy", "components are only for kits: set kit_policy to 'components' or 'assembled'"))
    if item.get("kit_policy") and item.get("unit") != "each":
        problems.append(("unit", "a kit is sold by 'each'"))
    if item.get("breaks") and item.get("unit") != "each":
        problems.append(("breaks", "quantity breaks are for items sold by 'each'"))
    if item.get("variant_axes") and item.get("variant_values"):
        problems.append(("variant_values", "an item is either a parent (variant_axes) or a variant (variant_values)"))
    return problems


@dataclass(frozen=True)
class Decision:
    apply: frozenset[str]
    request: frozenset[str]


def decide(role: str, fields: Iterable[str]) -> Decision:
    """Which fields a role applies directly and which become a change request; Forbidden otherwise."""
    wanted = frozenset(fields)
    if role in DIRECT_ROLES:
        return Decision(wanted, frozenset())
    if role in REQUEST_ROLES:
        return Decision(wanted - CONTROLLED, wanted & CONTROLLED)
    raise Forbidden(f"role {role} may not edit items; ask a manager or the owner")


def diff(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """{field: {"old": ..., "new": ...}} for the fields whose value changes."""
    return {f: {"old": current.get(f), "new": v} for f, v in wanted.items() if current.get(f) != v}
