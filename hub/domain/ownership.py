"""Who owns which item field when the back office sends changes (the conflict policy). Pure.

docs/sync-protocol.md section 6 and docs/back-office.md state it for people; this is the one
place the code reads it. The back office owns what a chain decides centrally (prices, tax, the
name on the shelf, units, suppliers, barcodes); the shop owns what only makes sense in this
shop (where it stands, whether it may go below zero, its till's modifier groups).

The policy only matters while pulling is on (cloud.changes_url set): then a change from the
back office to a shop field is ignored (and logged), and a local edit to a back-office field
becomes a change request sent to the back office instead of applying.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

from hub.domain.catalog import FIELDS

BACK_OFFICE: Final = "back-office"
SHOP: Final = "shop"
Source = Literal["back-office", "shop"]
Verdict = Literal["apply", "ignore", "request"]

# "barcode" is not an item column: it stands for the item's barcodes (barcode.add / .remove).
BACK_OFFICE_FIELDS = frozenset({
    "name", "unit", "price_minor", "tiers", "breaks", "cost_minor", "tax_category", "department",
    "category", "supplier", "supplier_sku", "case_pack", "net_content", "net_unit", "active",
    "variant_axes", "variant_values", "kit_policy", "components", "barcode",
})
SHOP_FIELDS = frozenset({"aisle", "negative_stock", "modifier_groups"})


def owner(field: str) -> Source:
    """Who owns a field; ValueError for a name that is not an item field."""
    if field in BACK_OFFICE_FIELDS:
        return BACK_OFFICE
    if field in SHOP_FIELDS:
        return SHOP
    raise ValueError(f"{field!r} is not an item field; items have {', '.join(FIELDS)}")


def decide(field: str, source: Source) -> Verdict:
    """What happens to a change of field coming from source, while pulling is on.

    The owner's change applies; the back office's change to a shop field is ignored; the shop's
    change to a back-office field becomes a request to the back office.
    """
    if owner(field) == source:
        return "apply"
    return "ignore" if source == BACK_OFFICE else "request"


def split(fields: Iterable[str], source: Source) -> dict[Verdict, list[str]]:
    """The fields grouped by verdict (apply, ignore, request), each in the order given."""
    out: dict[Verdict, list[str]] = {"apply": [], "ignore": [], "request": []}
    for field in fields:
        out[decide(field, source)].append(field)
    return out
