"""The OpenAPI document served at /api/v1/openapi.json: the public contract of the REST API."""

from __future__ import annotations

from typing import Any

from hub import __version__

_ERROR = {"$ref": "#/components/schemas/Error"}


def _op(summary: str, roles: str, ok: dict[str, Any], body: str | None = None, params: list[Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": f"Roles: {roles}.",
        "responses": {
            **ok,
            "400": {"description": "bad input", "content": {"application/json": {"schema": _ERROR}}},
            "401": {"description": "no or unknown token", "content": {"application/json": {"schema": _ERROR}}},
            "403": {"description": "role not allowed, or CSRF token missing", "content": {"application/json": {"schema": _ERROR}}},
        },
    }
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}}
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Backroom hub API", "version": __version__},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                            "session": {"type": "apiKey", "in": "cookie", "name": "backroom_session"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": ["string", "null"]}}}}},
            "SaleRequest": {"type": "object", "required": ["id", "register_id", "lines", "tenders"], "additionalProperties": False,
                            "properties": {
                                "id": {"type": "string", "format": "uuid", "description": "made by the register; the idempotency key"},
                                "register_id": {"type": "string"},
                                "tier": {"enum": ["retail", "member", "wholesale"], "default": "retail"},
                                "lines": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["sku", "qty"],
                                          "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1,
                                                         "description": "base units: pieces, grams or millilitres"},
                                                         "modifiers": {"type": "array", "items": {"type": "string"},
                                                                       "description": "modifier option ids"}}}},
                                "tenders": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["kind", "amount_minor"],
                                            "properties": {"kind": {"enum": ["cash"]}, "amount_minor": {"type": "integer", "minimum": 1}}}}}},
        },
    },
    "security": [{"bearer": []}, {"session": []}],
    "paths": {
        "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "ok"}}}},
        "/api/v1/status": {"get": _op("Everything the status page shows", "manager, owner, integration", {"200": {"description": "status"}})},
        "/api/v1/status/stream": {"get": _op("Status as Server-Sent Events", "manager, owner", {"200": {"description": "text/event-stream"}})},
        "/api/v1/lookup": {"get": _op("Resolve a scan", "cashier and up, integration", {
            "200": {"description": "item, quantity (grams for weighed goods, from a scale label or GS1 310x; "
                                   "units for case and count codes; null when the scale must weigh), "
                                   "unit_price_minor (per each, kg or litre), line_price_minor and the parsed "
                                   "code; a price-embedded label adds embedded_price_minor"},
            "404": {"description": "no item has this code"}, "422": {"description": "malformed code"}},
            params=[{"name": "code", "in": "query", "required": True, "schema": {"type": "string"}}])},
        "/api/v1/stock/{sku}": {"get": _op("On hand, reserved and available per location", "cashier and up, integration",
                                           {"200": {"description": "stock"}}, params=[_path_param("sku")])},
        "/api/v1/sales": {"post": _op("Complete a sale", "cashier and up, integration", {
            "201": {"description": "recorded"}, "200": {"description": "the same id and body again: the first answer"},
            "409": {"description": "the same id with a different body"}, "422": {"description": "unknown item or too little tendered"}},
            body="SaleRequest")},
        "/api/v1/sales/quote": {"post": _op("Price a cart as a sale would be priced, recording nothing",
                                            "cashier and up, integration",
                                            {"200": {"description": "priced lines and totals"},
                                             "422": {"description": "unknown or inactive item"}})},
        "/api/v1/registers/{register_id}/events": {"get": _op("Register events (scan, scan_error, weight, job) as SSE", "cashier and up",
                                                              {"200": {"description": "text/event-stream"}}, params=[_path_param("register_id")])},
        "/api/v1/devices": {"get": _op("Known devices", "manager, owner, integration", {"200": {"description": "devices"}})},
        "/api/v1/devices/{device_id}/simulate-scan": {"post": _op("Make a simulated scanner scan", "manager, owner",
                                                                 {"202": {"description": "sent"}}, params=[_path_param("device_id")])},
        "/api/v1/openapi.json": {"get": _op("This document", "any", {"200": {"description": "OpenAPI 3.1"}})},
        "/api/v1/session": {"get": _op("Who is calling, and the CSRF token for a session", "any", {"200": {"description": "session"}})},
    },
}

_SKU = [_path_param("sku")]
_ITEM = {"200": {"description": "the item: fields, tax_rate_bp, barcodes, variants, available, pending_requests"}}
OPENAPI["components"]["schemas"]["ItemFields"] = {
    "type": "object", "description": "An item's fields; POST needs sku, name, unit and price_minor (a variant: sku, "
    "parent_sku and variant_values). Money is integer minor units; price is per each, per kg (unit g) or per litre (ml).",
    "properties": {
        "sku": {"type": "string"}, "name": {"type": "string"}, "unit": {"enum": ["each", "g", "ml"]},
        "price_minor": {"type": "integer"}, "cost_minor": {"type": "integer"}, "tax_category": {"type": "string"},
        "department": {"type": "string"}, "category": {"type": "string"}, "supplier": {"type": "string"},
        "supplier_sku": {"type": "string"}, "case_pack": {"type": "integer"}, "net_content": {"type": "integer"},
        "net_unit": {"enum": ["", "g", "ml"]}, "active": {"type": "boolean"},
        "variant_axes": {"type": "array", "items": {"type": "string"}}, "variant_values": {"type": "object"},
        "parent_sku": {"type": "string"}, "kit_policy": {"enum": ["", "components", "assembled"]},
        "components": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}}}},
        "tiers": {"type": "object", "properties": {"member": {"type": "integer"}, "wholesale": {"type": "integer"}}},
        "breaks": {"type": "array", "items": {"type": "object", "properties": {
            "tier": {"enum": ["retail", "member", "wholesale"]}, "qty": {"type": "integer"}, "price_minor": {"type": "integer"}}}},
        "modifier_groups": {"type": "array", "items": {"type": "string"}},
        "aisle": {"type": "string", "description": "where it sits on the shop floor (count sessions by aisle)"},
        "negative_stock": {"enum": ["", "allow", "block"], "description": "'' follows store.negative_stock"},
        "barcodes": {"type": "array", "description": "POST only: codes, or {code, packaging: unit|inner|case, pack_qty}"},
        "reason": {"type": "string", "description": "why; kept in the item's history"},
        "effective_at": {"type": "string", "format": "date-time", "description": "PATCH only: apply at this time"}}}
OPENAPI["paths"].update({
    "/api/v1/items": {
        "get": _op("Search items by scanned code, SKU or name; cursor pagination", "cashier and up, integration",
                   {"200": {"description": "{items, next_cursor}"}}, params=[
                       {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                       for n in ("q", "cursor", "limit", "department", "include_inactive", "parent")]),
        "post": _op("Create an item (or a variant, with parent_sku)", "manager, owner, integration",
                    {"201": dict(_ITEM["200"]), "409": {"description": "SKU or barcode already taken (names the holder)"},
                     "422": {"description": "rule broken across fields or against the store"}}, body="ItemFields")},
    "/api/v1/items/import": {"post": _op(
        "Import items from CSV (body, text/csv; format in docs/items.md): create or update by SKU; nothing applies "
        "if any row is bad unless ?partial=1; the answer lists rejections by row, column and reason",
        "owner, integration", {"200": {"description": "applied: counts"}, "422": {"description": "rows rejected: nothing applied "
                               "(or, with partial, the good rows were)"}})},
    "/api/v1/items/export": {"get": _op("All items as CSV that imports back unchanged", "manager, owner, integration",
                                        {"200": {"description": "text/csv"}})},
    "/api/v1/items/{sku}": {
        "get": _op("One item, whole", "cashier and up, integration", _ITEM, params=_SKU),
        "patch": _op("Change fields: a manager's price, cost, tax and unit changes become a change request; "
                     "effective_at schedules the whole change", "manager, owner, integration",
                     {"200": {"description": "{item, applied, request}"},
                      "202": {"description": "nothing applied yet: {request} waits for approval or its time"}},
                     body="ItemFields", params=_SKU)},
    "/api/v1/items/{sku}/history": {"get": _op("Every change: who, when, old, new, why; and the item's requests",
                                               "manager, owner, integration", {"200": {"description": "history"}}, params=_SKU)},
    "/api/v1/items/{sku}/barcodes": {"post": _op("Add a barcode, or {generate: true} for an in-store EAN-13",
                                                 "manager, owner, integration", {"201": {"description": "the barcode"},
                                                  "409": {"description": "held by another item"}}, params=_SKU)},
    "/api/v1/items/{sku}/barcodes/{code}": {"delete": _op("Remove a barcode", "manager, owner, integration",
                                                          {"200": {"description": "removed"}}, params=[*_SKU, _path_param("code")])},
    "/api/v1/items/{sku}/label": {"get": _op("A label job: kind shelf|sticker|weighed (weight_g), format zpl|tspl|escpos",
                                             "manager, owner, integration", {"200": {"description": "printer bytes"}}, params=_SKU)},
    "/api/v1/labels/queue": {"get": _op("Shelf labels waiting for reprint", "manager, owner, integration",
                                        {"200": {"description": "{labels}"}})},
    "/api/v1/labels/queue/render": {"post": _op("Render waiting labels ({format, ids?}) as one job; they leave the queue",
                                                "manager, owner, integration", {"200": {"description": "printer bytes"}})},
    "/api/v1/change-requests": {"get": _op("Change requests (?status=pending)", "manager, owner, integration",
                                           {"200": {"description": "{requests}"}})},
    "/api/v1/change-requests/{request_id}/{decision}": {"post": _op(
        "approve or reject a request (owner; not one's own); the requester may reject (cancel) their own",
        "manager, owner, integration", {"200": {"description": "the request"}, "409": {"description": "already decided, or stale"}},
        params=[_path_param("request_id"), _path_param("decision")])},
    "/api/v1/tax-categories": {"get": _op("The store's tax categories", "cashier and up, integration",
                                          {"200": {"description": "{tax_categories}"}})},
    "/api/v1/tax-categories/{tax_id}": {"put": _op("Create or change a tax category {name, rate_bp}", "owner, integration",
                                                   {"200": {"description": "the category"}}, params=[_path_param("tax_id")])},
    "/api/v1/modifier-groups": {"get": _op("Modifier groups and their options", "cashier and up, integration",
                                           {"200": {"description": "{modifier_groups}"}})},
    "/api/v1/modifier-groups/{group_id}": {"put": _op("Create or replace a modifier group", "owner, integration",
                                                      {"200": {"description": "the group"}}, params=[_path_param("group_id")])},
})

_MGR = "manager, owner, integration"
OPENAPI["paths"].update({
    "/api/v1/stock/{sku}/moves": {"get": _op(
        "Move history, newest first, with the balance after each move (?location=, ?limit=; the next page: "
        "?before=<next_before>&balance=<next_balance>)", _MGR,
        {"200": {"description": "{sku, on_hand, moves: [{id, location, qty, kind, reason, doc_type, doc_id, note, actor, "
                                "at, balance}], next_before, next_balance}"}}, params=_SKU)},
    "/api/v1/stock/adjustments": {"post": _op(
        "Adjust stock with a reason code: {sku, location, qty (negative takes out), reason, note}", _MGR,
        {"201": {"description": "the adjustment and the item's levels"}})},
    "/api/v1/transfers": {"post": _op("Move stock between locations: {sku, from, to, qty, note}", _MGR,
                                      {"201": {"description": "the transfer and the item's levels"}})},
    "/api/v1/stock/dispositions": {"post": _op(
        "Decide a review-bin item's fate: {sku, qty, action: restock|refurbish|markdown|write_off, markdown_sku}", _MGR,
        {"201": {"description": "the moves made"}})},
    "/api/v1/stock/exceptions": {"get": _op("Negative stock, variances waiting for approval, shrink by reason (?days=30)",
                                            _MGR, {"200": {"description": "exceptions"}})},
    "/api/v1/reservations": {"post": _op("Set stock aside for a customer: {sku, location, qty, ref}",
                                         "cashier and up, integration", {"201": {"description": "the reservation"},
                                                                         "422": {"description": "not enough available"}})},
    "/api/v1/reservations/{res_id}/release": {"post": _op(
        "Release a reservation: {outcome: collected|cancelled|expired}", "cashier and up, integration",
        {"200": {"description": "released"}, "409": {"description": "already released"}}, params=[_path_param("res_id")])},
    "/api/v1/reason-codes": {"get": _op("Return reasons, condition codes (with their location) and adjustment reasons",
                                        "cashier and up, integration", {"200": {"description": "codes by kind"}})},
    "/api/v1/reason-codes/{kind}/{code}": {"put": _op(
        "Add or relabel a code: {label, location (conditions), needs_note}", "owner, integration",
        {"200": {"description": "the code"}}, params=[_path_param("kind"), _path_param("code")])},
    "/api/v1/locations": {"get": _op("The store's locations", "cashier and up, integration",
                                     {"200": {"description": "{locations}"}})},
    "/api/v1/locations/{loc_id}": {"put": _op("Add, rename or retire a location: {name, active}", "owner, integration",
                                              {"200": {"description": "the location"}}, params=[_path_param("loc_id")])},
})

_EXCHANGE = ("Exchange: first complete the replacement sale (POST /api/v1/sales), then record the return with "
             "exchange_sale_id set to it: the refund is credited to that sale as a refund of kind 'exchange' (up to its "
             "total; any rest goes back as usual), and return.recorded and sale.exchanged name each other.")
OPENAPI["paths"].update({
    "/api/v1/sales/{sale_id}": {"get": _op(
        "A sale with each line's returned_qty, returnable_qty and refunded_minor, its tenders, returns and void state",
        "cashier and up, integration", {"200": {"description": "the sale"}, "404": {"description": "no such sale"}},
        params=[_path_param("sale_id")])},
    "/api/v1/sales/by-receipt/{code}": {"get": _op(
        "A sale by the code printed on its receipt (S00000012), as GET /sales/{sale_id}", "cashier and up, integration",
        {"200": {"description": "the sale"}, "404": {"description": "no such sale"}}, params=[_path_param("code")])},
    "/api/v1/sales/{sale_id}/void": {"post": _op(
        "Post-void a whole sale: {reason}. Moves of kind 'void' restore exactly what the sale took; event sale.voided "
        "lists the tenders to reverse", "manager, owner",
        {"200": {"description": "the sale with voided {at, by, reason} and tenders_reversed"},
         "404": {"description": "no such sale"}, "409": {"description": "already voided"},
         "422": {"description": "part of the sale was returned, or it is an exchange sale"}},
        params=[_path_param("sale_id")])},
    "/api/v1/returns": {"post": _op(
        "Record a return. With a receipt: {id (UUID), register_id, sale_id or receipt_code, lines: [{sale_line_no, qty, "
        "reason, condition, note}], exchange_sale_id?}: prorated refunds to the sale's tenders in the proportions they "
        "paid. Without: {id, register_id, lines: [{sku, qty, amount_minor, reason, condition, note}]}, refunded in cash. "
        "Stock goes to the condition's location. A return without a receipt, or refunding more than "
        "store.return_approval_minor, is made by a manager (approved_by). " + _EXCHANGE,
        "cashier and up, integration",
        {"201": {"description": "{id, number, receipt_code, sale_id, lines (amounts, locations), refunds [{kind, "
                                "amount_minor, reference}], total_minor, tax_minor, approved_by, exchange_sale_id, "
                                "created_at}"},
         "200": {"description": "the same id and body again: the first answer (Idempotent-Replayed: true)"},
         "403": {"description": "a manager must approve it (no receipt, or above the threshold)"},
         "409": {"description": "the same id with a different body"},
         "422": {"description": "more than was sold, a voided sale, or an unknown sale, item or exchange sale"}})},
    "/api/v1/purchase-orders": {
        "get": _op("Purchase orders, newest first (?status=open|received|closed)", _MGR,
                   {"200": {"description": "{purchase_orders}"}},
                   params=[{"name": "status", "in": "query", "required": False, "schema": {"enum": ["open", "received", "closed"]}}]),
        "post": _op("Create a purchase order: {supplier, note, lines: [{sku, qty, cost_minor}]}", _MGR,
                    {"201": {"description": "the order with its lines"}})},
    "/api/v1/purchase-orders/{po_id}": {"get": _op(
        "A purchase order with qty_received, open_qty and over_qty per line, and its receipts", _MGR,
        {"200": {"description": "the order"}, "404": {"description": "no such order"}}, params=[_path_param("po_id")])},
    "/api/v1/receipts": {"post": _op(
        "Receive a delivery: {po_id?, supplier?, location (backroom), note, lines: [{sku, qty, po_line_no?, cost_minor?}]}. "
        "Moves of kind 'receive' (reason receive, or unplanned without a PO or for a SKU not on it); per PO line: "
        "ordered, received_before, received_now, remaining, over; the PO is 'received' when every line is in",
        _MGR, {"201": {"description": "{id, po_id, po_status, lines, po_lines, warnings}"},
               "422": {"description": "unknown or closed PO, or a po_line_no for another SKU"}})},
})

_COUNT = [_path_param("session_id")]
_COUNTER = "cashier and up, integration"
OPENAPI["paths"].update({
    "/api/v1/counts": {
        "get": _op("Count sessions, newest first (?status=open|review|closed|cancelled)", _COUNTER,
                   {"200": {"description": "{sessions: [{id, location, scope_kind, scope, blind, status, note, created_by, "
                                           "created_at, closed_by, closed_at, lines_counted, lines_waiting}]}"}}),
        "post": _op("Open a count: {location (default floor), scope_kind: location|aisle|category|daily|items, scope "
                    "(aisle or category name; list of SKUs for items; none for location and daily, whose list is "
                    "frozen at opening), blind (default true), note}", _MGR,
                    {"201": {"description": "the session, as GET /counts/{session_id}"},
                     "422": {"description": "unknown location or SKU, an aisle or category with no items, or "
                                            "nothing due today"}})},
    "/api/v1/counts/daily": {"get": _op(
        "Items due for counting today by ABC class and count frequency (?date=YYYY-MM-DD)", _COUNTER,
        {"200": {"description": "{date, day_number, items: [{sku, name, aisle, class}]}"}},
        params=[{"name": "date", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}}])},
    "/api/v1/counts/classes": {"post": _op("Recompute ABC classes from the last 90 days of sales value now", _MGR,
                                           {"200": {"description": "{classes: {A, B, C}}: items per class"}})},
    "/api/v1/counts/accuracy": {"get": _op(
        "Count accuracy per ABC class over sessions closed in the last ?days=90", _MGR,
        {"200": {"description": "{days, classes: {A|B|C: {counted, matched, accuracy_bp}}}"}})},
    "/api/v1/counts/{session_id}": {"get": _op(
        "A session and its lines (what to count, what was counted). On a blind count a cashier never sees "
        "on_hand, ledger_qty, variance or variance_minor", _COUNTER,
        {"200": {"description": "{id, location, scope_kind, scope, blind, status, summary, lines: [{sku, name, aisle, "
                                "class, in_scope, status, counted, counted_by, counted_at, note, photo, (on_hand, "
                                "ledger_qty, ledger_position, variance, variance_minor, move_id, decided_by, "
                                "decided_at)}]}"}, "404": {"description": "no such session"}}, params=_COUNT)},
    "/api/v1/counts/{session_id}/lines": {"post": _op(
        "Count a line: {sku, qty (base units) | code (a scan; qty = number of scans, a case code counts its pack), "
        "mode: set|add (default set), note, photo (base64 JPEG or PNG, at most 1 MB)}. The first count of a line "
        "records the ledger position it is measured from; corrections keep it, a recount takes a new one", _COUNTER,
        {"200": {"description": "{session_id, line}"}, "404": {"description": "no such session"},
         "409": {"description": "the session is closed, under review, or the line is decided"},
         "422": {"description": "unknown code or SKU, or a kit or variant parent"}}, params=_COUNT)},
    "/api/v1/counts/{session_id}/close": {"post": _op(
        "Post the counted lines within the variance rule as count_variance moves (counted - ledger at the count, "
        "so later sales stay); lines over it wait for approval and the session goes to review", _MGR,
        {"200": {"description": "the session"}, "409": {"description": "already closed"}}, params=_COUNT)},
    "/api/v1/counts/{session_id}/lines/{sku}/{action}": {"post": _op(
        "Decide a line waiting for approval: action approve (post its variance) | reject (post nothing) | recount; "
        "?location= or {location} (default the session's). The session closes when nothing waits", _MGR,
        {"200": {"description": "the session"}, "404": {"description": "no such session or line"},
         "409": {"description": "the line is not waiting for approval"}},
        params=[*_COUNT, *_SKU, _path_param("action")])},
})

OPENAPI["paths"].update({
    "/api/v1/stock": {"get": _op("What one location holds (?location=review): items with stock or reservations there", _MGR,
                                 {"200": {"description": "{location, levels: [{sku, name, unit, on_hand, reserved, available}]}"}},
                                 params=[{"name": "location", "in": "query", "required": True, "schema": {"type": "string"}}])},
    "/api/v1/counts/{session_id}/lines/{sku}/photo": {"get": _op(
        "The photo attached to a counted line", _MGR, {"200": {"description": "image/jpeg or image/png"},
                                                         "404": {"description": "no photo"}},
        params=[_path_param("session_id"), _path_param("sku")])},
})
