"""Shelf labels, item stickers and weighed-goods labels for an item, and the reprint queue.

What goes on a label is decided here from the item master; hub.domain.labels turns it into
ZPL, TSPL or ESC/POS bytes (or a PNG). Sending them to a label printer: hub/label_printing.py.
"""

from __future__ import annotations

from typing import Any

from hub.catalog import Catalog
from hub.clock import iso
from hub.domain import labels, money
from hub.domain.barcodes import encode, parse
from hub.errors import NotFound, UnprocessableError, ValidationError

KINDS = ("shelf", "sticker", "weighed")
MAX_QUEUE_RENDER = 500


class ShelfLabels:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.store = catalog.store
        self.db = catalog.db

    def _money(self, minor: int) -> str:
        return money.format_minor(minor, self.store.currency)

    def label(self, sku: str, kind: str, weight_g: int | None = None, symbology: str = "") -> labels.Label:
        if kind not in KINDS:
            raise ValidationError(f"kind must be one of {', '.join(KINDS)} (got {kind!r})", field="kind")
        item = self.catalog.get(sku)
        unit_price = labels.unit_price_text(item["unit"], item["price_minor"], item["net_content"], item["net_unit"],
                                            self._money)
        if kind == "weighed":
            return self._weighed(item, weight_g, unit_price)
        unit_codes = [b["code"] for b in item["barcodes"] if b["packaging"] == "unit"]
        code = unit_codes[0].lstrip("0") if unit_codes else ""
        if symbology not in ("", *labels.SYMBOLOGIES):
            raise ValidationError(f"symbology must be one of {', '.join(labels.SYMBOLOGIES)} (got {symbology!r})",
                                  field="symbology")
        if unit_codes and len(unit_codes[0]) == 14 and unit_codes[0][0] == "0":
            # GTIN-13 (and UPC-A as 0 + 12) print as EAN-13 unless Code 128 is asked for
            barcode, symbology = unit_codes[0][1:], symbology or "ean13"
        elif symbology == "ean13":
            raise UnprocessableError(f"{sku} has no EAN-13 barcode; give it one (or generate an in-store code) "
                                     "or print Code 128", field="symbology")
        else:
            barcode, symbology = (code or sku), "code128"
        price = self._money(item["price_minor"]) + (" per kg" if item["unit"] == "g" else " per l" if item["unit"] == "ml" else "")
        return labels.Label(item["name"], price, unit_price if item["unit"] == "each" else "", barcode, symbology,
                            (f"SKU {sku}",) if kind == "shelf" else ())

    def _weighed(self, item: dict[str, Any], weight_g: int | None, unit_price: str) -> labels.Label:
        if item["unit"] != "g":
            raise UnprocessableError(f"{item['sku']} is sold by {item['unit']}; weighed labels are for items sold by weight",
                                     field="kind")
        if not weight_g or weight_g <= 0 or weight_g > 1_000_000:
            raise ValidationError("a weighed label needs weight_g, the net weight in grams (1-1000000)", field="weight_g")
        store = self.store
        ref = ""
        for b in item["barcodes"]:
            stored = b["code"][1:] if len(b["code"]) == 14 and b["code"][0] == "0" else b["code"]  # GTIN-14 -> EAN-13
            parsed = parse(stored, store.rcn_region, store.rcn_pattern, store.rcn_check_price_digit)
            if parsed.kind in ("rcn_price", "rcn_weight") and parsed.item_ref:
                ref = parsed.item_ref
                break
        if not ref:
            raise UnprocessableError(f"{item['sku']} has no scale-label code for the store's region "
                                     f"{store.rcn_region or '(none set)'}: set store.rcn_region and give the item its "
                                     "label code with the price digits zeroed", field="barcodes")
        total = money.line_total("g", weight_g, item["price_minor"])
        try:
            code = encode.rcn_label_code("rcn_price", ref, total, store.rcn_region, store.rcn_pattern)
        except ValueError as exc:
            raise UnprocessableError(f"cannot make a price label for {item['sku']}: {exc}", field="weight_g") from None
        packed = iso(store.clock())[:10]
        # weight and unit price share a line so the label fits a 50 x 30 mm roll
        return labels.Label(item["name"], self._money(total), "", code, "ean13" if len(code) == 13 else "code128",
                            (f"{weight_g / 1000:.3f} kg at {unit_price}", f"Packed {packed}"))

    def render_item(self, sku: str, kind: str, fmt: str, weight_g: int | None, copies: int, symbology: str = "") -> bytes:
        if fmt not in labels.FORMATS:
            raise ValidationError(f"format must be one of {', '.join(labels.FORMATS)} (got {fmt!r})", field="format")
        return self._render(self.label(sku, kind, weight_g, symbology), fmt, copies)

    @staticmethod
    def _render(label: labels.Label, fmt: str, copies: int = 1) -> bytes:
        try:
            return labels.render(label, fmt, copies=copies)
        except ValueError as exc:  # the label does not fit its size: say so, never a 500
            raise UnprocessableError(f"label for {label.title!r}: {exc}", field="format") from None

    def queue(self) -> list[dict[str, Any]]:
        rows = self.db.conn.execute(
            "SELECT q.id, q.sku, i.name, q.kind, q.reason, q.queued_at FROM label_queue q JOIN items i ON i.sku = q.sku "
            "WHERE q.printed_at IS NULL ORDER BY q.id LIMIT 1000").fetchall()
        return [dict(r) for r in rows]

    def pick(self, ids: Any) -> list[dict[str, Any]]:
        """The waiting labels with ids (all when None), at most MAX_QUEUE_RENDER."""
        waiting = self.queue()
        if ids is not None:
            if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
                raise ValidationError("ids must be a list of queue ids", field="ids")
            missing = set(ids) - {w["id"] for w in waiting}
            if missing:
                raise NotFound(f"label {min(missing)} is not waiting in the queue", field="ids")
            waiting = [w for w in waiting if w["id"] in set(ids)]
        return waiting[:MAX_QUEUE_RENDER]

    def mark_printed(self, rows: list[tuple[str, str, int]]) -> None:
        """(printed_at or "" for now, printed_by, queue id) of labels that are printed."""
        now = iso(self.store.clock())
        with self.db.write() as conn:
            conn.executemany("UPDATE label_queue SET printed_at = ?, printed_by = ? WHERE id = ? AND printed_at IS NULL",
                             [(at or now, by, qid) for at, by, qid in rows])

    def render_queue(self, ids: Any, fmt: Any, actor: str) -> bytes:
        """The waiting labels (all, or the ids given) as one print job; handed over, they are printed."""
        if fmt not in labels.FORMATS:
            raise ValidationError(f"format must be one of {', '.join(labels.FORMATS)} (got {fmt!r})", field="format")
        waiting = self.pick(ids)
        data = b"".join(self._render(self.label(w["sku"], w["kind"]), fmt) for w in waiting)
        self.mark_printed([("", actor, w["id"]) for w in waiting])
        return data
