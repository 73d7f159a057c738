"""The item CSV: one item per row, the columns below, and how each cell reads and writes. Pure.

Only ``sku`` must be in the header. A column left out of the header leaves that field as it is
(a new item gets its default). An empty cell in the KEEP_IF_EMPTY columns (name, unit, price,
cost, tax_category, case_pack, net_content, active) also leaves the field as it is; an empty cell
in any other column means none or blank.

Money is decimal text in major units with at most two decimals ("2.49", "2"), read into integer
minor units without ever passing through a float. List cells: ``barcodes`` are codes separated
by spaces, ``CODE*12`` a case of 12 and ``CODE*6i`` an inner pack of 6; ``breaks`` are
``3@5.00 6@9.00`` for retail and ``member:3@4.50`` for a tier; ``variant_values`` is
``size=M;colour=red``, ``variant_axes`` ``size;colour``, ``components`` ``SKU1*2;SKU2*1``,
``modifier_groups`` ``wrap;size``. In list cells a backslash makes the next character literal
(``a\\;b`` is one value).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from hub.domain import catalog as rules
from hub.errors import ValidationError

COLUMNS = ("sku", "name", "unit", "price", "cost", "tax_category", "department", "category", "supplier",
           "supplier_sku", "case_pack", "net_content", "net_unit", "active", "barcodes", "member_price",
           "wholesale_price", "breaks", "parent_sku", "variant_values", "variant_axes", "kit_policy",
           "components", "modifier_groups", "aisle", "negative_stock")
# Columns whose empty cell means "as it is" rather than "none".
KEEP_IF_EMPTY = frozenset({"name", "unit", "price", "cost", "tax_category", "case_pack", "net_content", "active"})
_TEXT = ("name", "unit", "tax_category", "department", "category", "supplier", "supplier_sku", "net_unit",
         "kit_policy", "aisle", "negative_stock")
_MONEY = {"price": "price_minor", "cost": "cost_minor"}
_WHOLE = ("case_pack", "net_content")
_TIER_COLUMNS = {"member_price": "member", "wholesale_price": "wholesale"}
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")
_PACK = {"case": "", "inner": "i"}


class RowError(ValidationError):
    """A cell that cannot be read; column names the CSV column."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason, field=column)
        self.column = column


@dataclass(slots=True)
class ItemRow:
    """One CSV row read: domain field values, plus what lives outside the fields."""

    sku: str
    fields: dict[str, Any] = field(default_factory=dict)
    tiers: dict[str, int | None] = field(default_factory=dict)  # only the tier columns present
    parent_sku: str | None = None
    has_parent: bool = False  # the parent_sku column is in the header
    barcodes: list[dict[str, Any]] | None = None  # None: the column is not in the header

    def wanted(self, current_tiers: Mapping[str, int]) -> dict[str, Any]:
        """The raw field values to clean, with the tier columns merged into the item's tiers."""
        if not self.tiers:
            return dict(self.fields)
        tiers = {**current_tiers, **self.tiers}
        return {**self.fields, "tiers": {t: p for t, p in sorted(tiers.items()) if p is not None}}


# -- header ------------------------------------------------------------------------------------
def check_header(header: Sequence[str]) -> list[str]:
    """The header's column names, lower-cased; ValidationError for a missing sku or unknown column."""
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    for name in names:
        if name not in COLUMNS:
            near = difflib.get_close_matches(name, COLUMNS, n=1)
            hint = f"; did you mean {near[0]}?" if near else f"; the columns are {', '.join(COLUMNS)}"
            raise ValidationError(f"the header has an unknown column {name!r}{hint}", field=name)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValidationError(f"the header has the column {twice[0]} twice; keep one", field=twice[0])
    if "sku" not in names:
        raise ValidationError("the header has no sku column; every row needs the item's SKU", field="sku")
    return names


# -- cells -------------------------------------------------------------------------------------
def _q(text: str) -> str:
    return f'"{text}"'


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_money(text: str, column: str = "price") -> int:
    """'2.49' -> 249, exactly; RowError for anything that is not a plain amount."""
    whole, dot, cents = text.strip().partition(".")
    if not (whole.isdigit() and whole.isascii()) or (dot and not (cents.isdigit() and cents.isascii())):
        raise RowError(column, f"{_q(text)} is not an amount; write it like 2.49")
    if len(cents) > 2:
        raise RowError(column, f"{_q(text)} has more than two decimals; write it like 2.49")
    if len(whole) > 10 or (minor := int(whole) * 100 + int(cents.ljust(2, "0"))) > rules.MAX_MINOR:
        raise RowError(column, f"{_q(text)} is more than the largest amount, {format_money(rules.MAX_MINOR)}")
    return minor


def format_money(minor: int) -> str:
    whole, cents = divmod(minor, 100)
    return f"{whole}.{cents:02d}"


def _whole(text: str, column: str) -> int:
    value = text.strip()
    if not _digits(value) or len(value) > 12:
        raise RowError(column, f"{_q(text)} is not a whole number; write it like 12")
    return int(value)


def _bool(text: str, column: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise RowError(column, f"{_q(text)} is not true or false; write true, false, yes, no, 1 or 0")


def _split(text: str, seps: str) -> list[str]:
    """The parts of text between unescaped separators, stripped, with their escapes kept."""
    if "\\" not in text:  # the common case, at C speed
        for sep in seps[1:]:
            text = text.replace(sep, seps[0])
        return [p.strip() for p in text.split(seps[0])]
    parts, buf, escaped = [], [], False
    for ch in text:
        if escaped:
            buf += ["\\", ch]
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in seps:
            parts.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
    parts.append(("".join(buf) + ("\\" if escaped else "")).strip())
    return parts


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text.strip()
    out, escaped = [], False
    for ch in text:
        if escaped or ch != "\\":
            out.append(ch)
            escaped = False
        else:
            escaped = True
    return "".join(out).strip()


def _escape(text: str, specials: str) -> str:
    return "".join("\\" + ch if ch in specials or ch == "\\" else ch for ch in text)


def parse_barcodes(text: str) -> list[dict[str, Any]]:
    if text.isalnum():  # one code and nothing else, as most rows have
        return [{"code": text, "packaging": "unit", "pack_qty": 1}]
    out = []
    for part in filter(None, _split(text, " \t")):
        pieces = _split(part, "*")
        if len(pieces) == 1:
            out.append({"code": _unescape(part), "packaging": "unit", "pack_qty": 1})
            continue
        code, pack = pieces[0], pieces[-1]
        packaging = "inner" if pack.endswith("i") else "case"
        qty = pack[:-1] if packaging == "inner" else pack
        if len(pieces) != 2 or not code or not _digits(qty) or len(qty) > 6:
            raise RowError("barcodes", f"{_q(_unescape(part))} is not a barcode; write CODE, CODE*12 for a case "
                                       "of 12 or CODE*6i for an inner pack of 6")
        out.append({"code": _unescape(code), "packaging": packaging, "pack_qty": int(qty)})
    return out


def format_barcodes(codes: Iterable[Mapping[str, Any]]) -> str:
    ordered = sorted(codes, key=lambda b: (rules.PACKAGING.index(b["packaging"]), b["code"]))
    return " ".join(_escape(b["code"], " *") + (f"*{b['pack_qty']}{_PACK[b['packaging']]}"
                                                if b["packaging"] != "unit" else "") for b in ordered)


def parse_breaks(text: str) -> list[dict[str, Any]]:
    out = []
    for part in text.split():
        tier, colon, rest = part.rpartition(":")
        qty, at, price = rest.partition("@")
        if not at or not _digits(qty) or len(qty) > 9 or (colon and not tier):
            raise RowError("breaks", f"{_q(part)} is not a price break; write 3@5.00 for 3 for 5.00, "
                                     "member:3@4.50 for a member break")
        try:
            out.append({"tier": tier or "retail", "qty": int(qty), "price_minor": parse_money(price, "breaks")})
        except RowError as exc:
            raise RowError("breaks", f"in {_q(part)}, {exc.message}") from None
    return out


def format_breaks(breaks: Iterable[Mapping[str, Any]]) -> str:
    return " ".join(("" if b["tier"] == "retail" else f"{b['tier']}:") + f"{b['qty']}@{format_money(b['price_minor'])}"
                    for b in breaks)


def parse_values(text: str) -> dict[str, str]:
    out = {}
    for part in filter(None, _split(text, ";")):
        pair = _split(part, "=")
        if len(pair) != 2:
            raise RowError("variant_values", f"{_q(_unescape(part))} is not axis=value; write size=M;colour=red")
        out[_unescape(pair[0])] = _unescape(pair[1])
    return out


def format_values(values: Mapping[str, str]) -> str:
    return ";".join(f"{_escape(k, ';=')}={_escape(v, ';=')}" for k, v in values.items())


def parse_components(text: str) -> list[dict[str, Any]]:
    out = []
    for part in text.split(";"):
        sku, star, qty = part.strip().partition("*")
        if not sku and not star:
            continue
        if star and (not _digits(qty.strip()) or len(qty.strip()) > 9):
            raise RowError("components", f"{_q(part.strip())} is not a component; write SKU*2 for two of SKU")
        out.append({"sku": sku.strip(), "qty": int(qty) if star else 1})
    return out


def format_components(components: Iterable[Mapping[str, Any]]) -> str:
    return ";".join(f"{c['sku']}*{c['qty']}" for c in components)


# -- rows --------------------------------------------------------------------------------------
def _list(text: str, column: str) -> list[str]:
    return [_unescape(p) for p in _split(text, ";") if p]


def _as_text(text: str, column: str) -> str:
    return text


# column: (the field it sets, how its text reads); the other columns are read in parse_cells.
_READERS: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    **{c: (c, _as_text) for c in _TEXT}, **{c: (f, parse_money) for c, f in _MONEY.items()},
    **{c: (c, _whole) for c in _WHOLE}, "active": ("active", _bool),
    "breaks": ("breaks", lambda t, c: parse_breaks(t)), "variant_values": ("variant_values", lambda t, c: parse_values(t)),
    "variant_axes": ("variant_axes", _list), "modifier_groups": ("modifier_groups", _list),
    "components": ("components", lambda t, c: parse_components(t)),
}


def parse_row(cells: Mapping[str, str]) -> ItemRow:
    """One row, keyed by column: the SKU and the raw values of the fields it gives (not yet cleaned)."""
    return parse_cells(list(cells), list(cells.values()))


def parse_cells(columns: Sequence[str], cells: Sequence[str]) -> ItemRow:
    """parse_row for a header's columns and one row's cells in the same order."""
    return row_reader(tuple(columns))(cells)


_FIELD, _TIER, _BARCODES, _PARENT = range(4)


@lru_cache(maxsize=8)
def row_reader(columns: tuple[str, ...]) -> Callable[[Sequence[str]], ItemRow]:
    """parse_cells for one header: what each column means is worked out once, not on every row."""
    # (kind, position, column, field or tier, how the text reads if not as it is, empty keeps)
    steps: list[tuple[int, int, str, str, Callable[[str, str], Any] | None, bool]] = []
    for at, column in enumerate(columns):
        if column in _READERS:
            name, reads = _READERS[column]
            steps.append((_FIELD, at, column, name, None if reads is _as_text else reads, column in KEEP_IF_EMPTY))
        elif column in _TIER_COLUMNS:
            steps.append((_TIER, at, column, _TIER_COLUMNS[column], None, False))
        elif column == "barcodes":
            steps.append((_BARCODES, at, column, column, None, False))
        elif column == "parent_sku":
            steps.append((_PARENT, at, column, column, None, False))
    width = len(columns)
    sku_at = columns.index("sku") if "sku" in columns else None

    def read(cells: Sequence[str]) -> ItemRow:
        if len(cells) != width:
            raise RowError("", f"the row has {len(cells)} cells but the header has {width} columns; "
                               "check for a stray comma or a missing quote")
        sku = cells[sku_at].strip() if sku_at is not None else ""
        if not sku:
            raise RowError("sku", "the SKU is empty; every row needs one")
        try:
            rules.check_sku(sku)
        except ValidationError as exc:
            raise RowError("sku", exc.message) from None
        row = ItemRow(sku)
        fields = row.fields
        for kind, at, column, name, parse, keep_if_empty in steps:
            text = cells[at]
            if kind == _FIELD:
                if not keep_if_empty or text.strip():
                    fields[name] = text if parse is None else parse(text, column)
            elif kind == _TIER:
                row.tiers[name] = parse_money(text, column) if text.strip() else None
            elif kind == _BARCODES:
                row.barcodes = parse_barcodes(text)
            else:
                row.has_parent = True
                row.parent_sku = text.strip() or None
        return row

    return read


def export_row(item: Mapping[str, Any], barcodes: Iterable[Mapping[str, Any]]) -> list[str]:
    """An item as Catalog.read gives it, and its barcodes, as cells in COLUMNS order."""
    tiers = item["tiers"]
    follows = item.get("parent_sku") and not item.get("own_price", True)
    cells = {
        "sku": item["sku"], "price": "" if follows else format_money(item["price_minor"]),
        "cost": format_money(item["cost_minor"]), "case_pack": str(item["case_pack"]),
        "net_content": str(item["net_content"]), "active": "true" if item["active"] else "false",
        "barcodes": format_barcodes(barcodes),
        "member_price": format_money(tiers["member"]) if "member" in tiers else "",
        "wholesale_price": format_money(tiers["wholesale"]) if "wholesale" in tiers else "",
        "breaks": format_breaks(item["breaks"]), "parent_sku": item.get("parent_sku") or "",
        "variant_values": format_values(item["variant_values"]),
        "variant_axes": ";".join(_escape(a, ";") for a in item["variant_axes"]),
        "components": format_components(item["components"]),
        "modifier_groups": ";".join(item["modifier_groups"]),
    }
    return [cells[c] if c in cells else str(item[c]) for c in COLUMNS]


def column_of(field_name: str | None) -> str:
    """The CSV column a domain field's error belongs to."""
    name = (field_name or "").split(".")
    if name[0] == "tiers":
        return f"{name[1]}_price" if len(name) > 1 else "member_price"
    return {"price_minor": "price", "cost_minor": "cost", "code": "barcodes", "packaging": "barcodes",
            "pack_qty": "barcodes"}.get(name[0], name[0])
