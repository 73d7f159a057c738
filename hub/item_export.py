"""Exporting the item master as CSV (format: hub.item_csv) that imports back unchanged."""

from __future__ import annotations

import csv
import json
import sqlite3
from typing import Any, TextIO

from hub import item_csv
from hub.catalog import Catalog
from hub.domain import catalog as rules

_JSON_COLUMNS = frozenset({"variant_axes", "variant_values"})

_ITEM_ROWS = (
    "SELECT i.*, "
    "(SELECT json_group_array(json_array(tier, qty, price_minor)) FROM item_prices p WHERE p.sku = i.sku) AS prices, "
    "(SELECT json_group_array(json_array(component_sku, qty)) FROM kit_components k WHERE k.kit_sku = i.sku) AS comps, "
    "(SELECT json_group_array(json_array(group_id, position)) FROM item_modifier_groups g WHERE g.sku = i.sku) AS mods, "
    "(SELECT json_group_array(json_array(code, packaging, pack_qty)) FROM barcodes b WHERE b.sku = i.sku) AS codes "
    "FROM items i ")
# Items that need no other item, in SKU order; then variants and kits, each after what it needs.
_INDEPENDENT = _ITEM_ROWS + "WHERE i.parent_sku IS NULL AND i.sku NOT IN (SELECT kit_sku FROM kit_components) ORDER BY i.sku"
_DEPENDENT = (
    "WITH RECURSIVE needs(sku, needed) AS (SELECT kit_sku, component_sku FROM kit_components "
    "UNION ALL SELECT sku, parent_sku FROM items WHERE parent_sku IS NOT NULL), "
    "depth(sku, d) AS (SELECT sku, 1 FROM needs UNION SELECT n.sku, depth.d + 1 FROM needs n "
    "JOIN depth ON n.needed = depth.sku WHERE depth.d < 64), "
    "rank(sku, d) AS (SELECT sku, max(d) FROM depth GROUP BY sku) "
    + _ITEM_ROWS + "JOIN rank r ON r.sku = i.sku ORDER BY r.d, i.sku")


def export_items(catalog: Catalog, out: TextIO) -> int:
    """Write every item, active or not, as CSV that imports back unchanged; returns how many."""
    conn = catalog.db.conn
    writer = csv.writer(out)
    writer.writerow(item_csv.COLUMNS)
    count = 0
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")  # one snapshot for both queries
    try:
        for sql in (_INDEPENDENT, _DEPENDENT):
            for row in conn.execute(sql):
                writer.writerow(item_csv.export_row(*_exported(row)))
                count += 1
    finally:
        if own:
            conn.execute("COMMIT")
    return count


def _exported(row: sqlite3.Row) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An item as Catalog.read gives it, and its barcodes, from one export row."""
    item: dict[str, Any] = {"sku": row["sku"], "parent_sku": row["parent_sku"], "own_price": bool(row["own_price"])}
    for col in rules.COLUMNS:
        item[col] = json.loads(row[col]) if col in _JSON_COLUMNS else row[col]
    item["active"] = bool(row["active"])
    prices = sorted(json.loads(row["prices"]), key=lambda p: (rules.BREAK_TIERS.index(p[0]), p[1]))
    item["tiers"] = {t: p for t, q, p in prices if q == 1}
    item["breaks"] = [{"tier": t, "qty": q, "price_minor": p} for t, q, p in prices if q > 1]
    item["components"] = [{"sku": s, "qty": q} for s, q in sorted(json.loads(row["comps"]))]
    item["modifier_groups"] = [g for g, _ in sorted(json.loads(row["mods"]), key=lambda m: (m[1], m[0]))]
    barcodes = [{"code": c, "packaging": p, "pack_qty": n} for c, p, n in json.loads(row["codes"])]
    return item, barcodes
