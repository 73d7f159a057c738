"""REST routes of the item master: items, barcodes, history, change requests, tax categories,
modifier groups and labels. Roles: cashiers read; managers edit (money fields by request);
owners approve and set store-wide tax and modifier settings."""

from __future__ import annotations

import csv
import dataclasses
import io

from flask import Blueprint, Response, g, request

from hub.errors import NotFound, ValidationError
from hub.http import _body, _json, requires
from hub.item_export import export_items
from hub.item_import import import_items
from hub.label_printing import LabelPrinting
from hub.service import HubService

MAX_PAGE = 200
MAX_REJECTIONS = 1000


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValidationError(f"{name} must be a whole number from {low} to {high} (got {raw!r})", field=name)
    return int(raw)


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "yes")


def items_blueprint(svc: HubService) -> Blueprint:
    bp = Blueprint("items", __name__, url_prefix="/api/v1")
    catalog, changes = svc.catalog, svc.changes
    printing = LabelPrinting(svc.labels, svc)

    @bp.get("/items")
    @requires("cashier", "integration")
    def list_items() -> Response:
        return _json(catalog.search(request.args.get("q", "")[:128], request.args.get("cursor", ""),
                                    _int_arg("limit", 50, 1, MAX_PAGE), request.args.get("department", ""),
                                    _flag("include_inactive"), request.args.get("parent", "")))

    @bp.post("/items")
    @requires("manager", "integration")
    def create_item() -> Response:
        return _json(changes.create(_body(), g.actor, g.role), 201)

    @bp.post("/items/import")
    @requires("owner", "integration")
    def import_csv() -> Response:
        """CSV in the body (hub.item_csv); all or nothing unless ?partial=1. Big files: the CLI."""
        if request.mimetype not in ("text/csv", "text/plain", "application/octet-stream"):
            raise ValidationError("send the CSV file as the body with Content-Type: text/csv")
        try:
            text = request.get_data().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError("the file is not UTF-8 text; save it as 'CSV UTF-8' and import again") from None
        report = io.StringIO()
        result = import_items(catalog, io.StringIO(text, newline=""), g.actor, partial=_flag("partial"), report=report)
        rejections = list(csv.DictReader(io.StringIO(report.getvalue())))[:MAX_REJECTIONS]
        body = {**dataclasses.asdict(result), "rejections": rejections}
        return _json(body, 200 if result.applied else 422)

    @bp.get("/items/export")
    @requires("manager", "integration")
    def export_csv() -> Response:
        out = io.StringIO()
        export_items(catalog, out)
        return Response(out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="items.csv"'})

    @bp.get("/items/<sku>")
    @requires("cashier", "integration")
    def get_item(sku: str) -> Response:
        item = catalog.get(sku)
        if g.role in ("cashier", "device"):  # margins are the owner's business, not the till's
            item.pop("cost_minor", None)
        return _json(item)

    @bp.patch("/items/<sku>")
    @requires("manager", "integration")
    def edit_item(sku: str) -> Response:
        result = changes.edit(sku, _body(), g.actor, g.role)
        waiting = result["request"] or result["back_office_request"]
        return _json(result, 202 if waiting and not result["applied"] else 200)

    @bp.get("/items/<sku>/history")
    @requires("manager", "integration")
    def item_history(sku: str) -> Response:
        return _json({"sku": sku, "changes": catalog.history(sku), "requests": changes.requests(sku=sku)})

    @bp.post("/items/<sku>/barcodes")
    @requires("manager", "integration")
    def add_barcode(sku: str) -> Response:
        body = _body()
        if not isinstance(body, dict):
            raise ValidationError('send {"code": ..., "packaging": "unit", "pack_qty": 1} or {"generate": true}')
        with svc.db.write() as conn:
            if catalog.read(conn, sku) is None:
                raise NotFound(f"no item with SKU {sku}", field="sku")
            if body.get("generate") is True:
                record = catalog.generate_barcode(conn, sku, g.actor, svc.config["store"]["internal_prefix"],
                                                  body.get("packaging", "unit"), body.get("pack_qty", 1))
            else:
                record = catalog.add_barcode(conn, sku, body.get("code"), g.actor, body.get("packaging", "unit"),
                                             body.get("pack_qty", 1))
        return _json(record, 201)

    @bp.delete("/items/<sku>/barcodes/<code>")
    @requires("manager", "integration")
    def remove_barcode(sku: str, code: str) -> Response:
        with svc.db.write() as conn:
            catalog.remove_barcode(conn, sku, code, g.actor)
        return _json({"ok": True})

    @bp.get("/items/<sku>/label")
    @requires("manager", "integration")
    def item_label(sku: str) -> Response:
        weight = _int_arg("weight_g", 0, 1, 1_000_000) or None
        data = svc.labels.render_item(sku, request.args.get("kind", "shelf"), request.args.get("format", "zpl"),
                                      weight, _int_arg("copies", 1, 1, 100), request.args.get("symbology", ""))
        return Response(data, mimetype="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{sku}.{request.args.get("format", "zpl")}"'})

    @bp.get("/labels/queue")
    @requires("manager", "integration")
    def label_queue() -> Response:
        printing.settle()
        pending = printing.pending()
        return _json({"labels": [{**w, "job_id": pending.get(w["id"])} for w in svc.labels.queue()]})

    @bp.get("/labels/printers")
    @requires("manager", "integration")
    def label_printers() -> Response:
        return _json({"printers": printing.printers()})

    @bp.post("/items/<sku>/label/print")
    @requires("manager", "integration")
    def print_item_label(sku: str) -> Response:
        body = _body()
        if not isinstance(body, dict):
            raise ValidationError('send {"kind": "shelf", "copies": 1} (and device_id, weight_g as needed)')
        return _json(printing.print_item(sku, body, g.actor), 202)

    @bp.post("/labels/queue/print")
    @requires("manager", "integration")
    def print_queue() -> Response:
        body = _body()
        if not isinstance(body, dict):
            raise ValidationError('send {"device_id": "label-1", "ids": [1, 2]} (ids: all waiting when left out)')
        printing.settle()
        return _json(printing.print_waiting(body, g.actor), 202)

    @bp.post("/labels/queue/render")
    @requires("manager", "integration")
    def render_queue() -> Response:
        body = _body()
        if not isinstance(body, dict):
            raise ValidationError('send {"format": "zpl", "ids": [1, 2]}')
        data = svc.labels.render_queue(body.get("ids"), body.get("format", "zpl"), g.actor)
        return Response(data, mimetype="application/octet-stream")

    @bp.get("/change-requests")
    @requires("manager", "integration")
    def change_requests() -> Response:
        return _json({"requests": changes.requests(request.args.get("status") or None)})

    @bp.post("/change-requests/<int:request_id>/<any(approve, reject):decision>")
    @requires("manager", "integration")
    def decide(request_id: int, decision: str) -> Response:
        body = request.get_json(silent=True) if request.is_json else None
        note = body.get("note", "") if isinstance(body, dict) else ""
        if not isinstance(note, str):
            raise ValidationError("note must be text", field="note")
        return _json(changes.decide(request_id, decision == "approve", g.actor, g.role, note))

    @bp.get("/tax-categories")
    @requires("cashier", "integration")
    def tax_categories() -> Response:
        return _json({"tax_categories": catalog.tax_categories()})

    @bp.put("/tax-categories/<tax_id>")
    @requires("owner", "integration")
    def put_tax_category(tax_id: str) -> Response:
        body = _body()
        if not isinstance(body, dict):
            raise ValidationError('send {"name": "Standard rate", "rate_bp": 2000}')
        with svc.db.write() as conn:
            result = catalog.put_tax_category(conn, tax_id, body.get("name"), body.get("rate_bp"), g.actor,
                                              str(body.get("reason", ""))[:500])
        return _json(result)

    @bp.get("/modifier-groups")
    @requires("cashier", "integration")
    def modifier_groups() -> Response:
        return _json({"modifier_groups": catalog.modifier_groups()})

    @bp.put("/modifier-groups/<group_id>")
    @requires("owner", "integration")
    def put_modifier_group(group_id: str) -> Response:
        body = _body()
        if not isinstance(body, dict) or body.get("id", group_id) != group_id:
            raise ValidationError("send the group as an object whose id matches the URL", field="id")
        with svc.db.write() as conn:
            result = catalog.put_modifier_group(conn, {**body, "id": group_id}, g.actor)
        return _json(result)

    return bp
