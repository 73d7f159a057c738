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


_TENDER_REFERENCE = ("card: the card terminal's reference for the payment (1-32 letters, digits, / . _ -), never a card "
                     "number; gift_card, store_credit: the account code; exchange: the id of a return recorded "
                     "with exchange: true, whose unspent credit pays (checked in the sale's transaction, 422 "
                     "no_exchange_credit); cash: optional. Any mix pays one sale; "
                     "change comes only from cash")
_CARD_GUARD = ("Every JSON body the hub accepts is refused with 422 code card_number (field: where) when any value looks "
               "like a payment card number (13-19 digits passing Luhn); UUIDs and valid GTINs in code, barcode, gtin, "
               "sku, data and receipt_code fields pass")


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
                                "lines": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["sku"],
                                          "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1,
                                                         "description": "base units: pieces, grams or millilitres; "
                                                                        "may be left out when weighing_id or code gives it"},
                                                         "modifiers": {"type": "array", "items": {"type": "string"},
                                                                       "description": "modifier option ids"},
                                                         "weighing_id": {"type": "string", "format": "uuid",
                                                                         "description": "weighed items: a weighing taken on "
                                                                         "this register (weight_source scale)"},
                                                         "code": {"type": "string", "description": "weighed items: the "
                                                                  "scanned scale label, read again by the hub "
                                                                  "(weight_source label). On a register with a scale a "
                                                                  "weighed line needs one of the two (422 "
                                                                  "manual_weight_refused); without a scale a bare qty is "
                                                                  "weight_source manual. Each items: a scale's price "
                                                                  "label; the line is that one pack (qty 1) at the "
                                                                  "label's price, no tier or break (price_source label; "
                                                                  "422 label_without_price, label_one_pack)"}}}},
                                "receipt": {"enum": ["print", "none"], "description": "print (default) on the register's "
                                            "printer, or none: no receipt, though cash still opens the drawer"},
                                "tenders": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["kind", "amount_minor"],
                                            "properties": {"kind": {"enum": ["cash", "card", "gift_card", "store_credit", "exchange"]},
                                                           "amount_minor": {"type": "integer", "minimum": 1},
                                                           "reference": {"type": "string", "description": _TENDER_REFERENCE}}}}}},
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
                                   "code; a price-embedded label adds embedded_price_minor; item.variant_axes is not "
                                   "empty for a parent that sells only through its variants"},
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
        "/api/v1/registers/{register_id}/events": {"get": _op("Register events (scan, scan_error, weight, job, catalog; cloud {state, since, reason}: the cloud link, sent on connect and on each change) as SSE", "cashier and up",
                                                              {"200": {"description": "text/event-stream"}}, params=[_path_param("register_id")])},
        "/api/v1/devices": {"get": _op("Known devices", "manager, owner, integration", {"200": {"description": "devices"}})},
        "/api/v1/devices/{device_id}/simulate-scan": {"post": _op("Make a simulated scanner scan", "manager, owner",
                                                                 {"202": {"description": "sent"}}, params=[_path_param("device_id")])},
        "/api/v1/openapi.json": {"get": _op("This document", "any", {"200": {"description": "OpenAPI 3.1"}})},
        "/api/v1/session": {"get": _op("Who is calling, and the CSRF token for a session", "any", {"200": {"description": (
            "session: user, role, csrf_token, store {name, currency, prices_include_tax, rcn_region, rcn_pattern, "
            "rcn_check_price_digit} (the scale-label settings a register keeps to read labels while the hub is out of reach)")}})},
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
                     "effective_at schedules the whole change. While pulling from the back office is on "
                     "(cloud.changes_url), fields the back office owns become a back_office_request "
                     "(status sent_to_back_office) instead (docs/back-office.md)", "manager, owner, integration",
                     {"200": {"description": "{item, applied, request, back_office_request}"},
                      "202": {"description": "nothing applied yet: {request} waits for approval or its time, "
                                             "{back_office_request} for the back office"}},
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
    "/api/v1/items/{sku}/label/print": {"post": _op(
        "Print a label on a label printer through the print queue: {kind shelf|sticker|weighed, device_id? (default: "
        "the one bound to register_id, or the only one), register_id?, copies 1-100, weight_g (weighed), symbology?}",
        "manager, owner, integration", {"202": {"description": "the queued print job {job_id, status, ...}"},
                                        "404": {"description": "no such item or label printer"},
                                        "422": {"description": "the label cannot be made or does not fit the printer's size"}},
        params=_SKU)},
    "/api/v1/labels/printers": {"get": _op("Label printers the hub knows, with language, size (mm) and dpi",
                                           "manager, owner, integration", {"200": {"description": "{printers}"}})},
    "/api/v1/labels/queue": {"get": _op("Shelf labels waiting for reprint; job_id is set while one is on its way to a printer",
                                        "manager, owner, integration", {"200": {"description": "{labels}"}})},
    "/api/v1/labels/queue/print": {"post": _op(
        "Print waiting labels ({device_id?, register_id?, ids?}) on a label printer, one job each; each leaves the "
        "queue when the printer reports it printed", "manager, owner, integration",
        {"202": {"description": "{device_id, jobs, already_printing}"}, "404": {"description": "an id is not waiting"}})},
    "/api/v1/labels/queue/render": {"post": _op("Render waiting labels ({format, ids?}) as one job; they leave the queue",
                                                "manager, owner, integration", {"200": {"description": "printer bytes"}})},
    "/api/v1/change-requests": {"get": _op("Change requests (?status=pending)", "manager, owner, integration",
                                           {"200": {"description": "{requests}"}})},
    "/api/v1/change-requests/{request_id}/{decision}": {"post": _op(
        "approve or reject a request (owner; not one's own); the requester may reject (cancel) their own; a request "
        "sent_to_back_office can only be withdrawn (reject: cancelled), by the owner or the requester",
        "manager, owner, integration", {"200": {"description": "the request"},
                                        "409": {"description": "already decided, stale, or waiting for the back office"}},
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

_EXCHANGE = ("Exchange: record the return first with exchange: true: its refund is held as exchange credit (a refund "
             "of kind exchange_credit). The replacement sale (POST /api/v1/sales, same register) pays with an exchange "
             "tender naming the return; what it does not use is refunded then as usual (sale.exchanged). "
             "POST /api/v1/returns/{return_id}/refund-credit calls the exchange off.")
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
        "lists the tenders to reverse. A cashier sends {reason, approval}: a token for action post_void with "
        "details {sale_id}", "manager, owner; cashier with a manager's approval",
        {"200": {"description": "the sale with voided {at, by, reason} and tenders_reversed"},
         "404": {"description": "no such sale"}, "409": {"description": "already voided"},
         "422": {"description": "part of the sale was returned, or it is an exchange sale"}},
        params=[_path_param("sale_id")])},
    "/api/v1/returns": {"post": _op(
        "Record a return. With a receipt: {id (UUID), register_id, sale_id or receipt_code, lines: [{sale_line_no, qty, "
        "reason, condition, note}], exchange?}: prorated refunds to the sale's tenders in the proportions they "
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
    "/api/v1/returns/{return_id}/refund-credit": {"post": _op(
        "Call an exchange off: refund the return's unspent exchange credit by the usual rules, once "
        "(event return.credit_refunded)", "cashier and up",
        {"200": {"description": "{id, number, refunds [{kind, amount_minor, reference}]}"},
         "404": {"description": "no such return"},
         "422": {"description": "no_exchange_credit: it holds none, or it was spent or refunded"}},
        params=[_path_param("return_id")])},
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

OPENAPI["paths"].update({
    "/api/v1/registers/{register_id}": {"get": _op(
        "A register and the scales bound to it: {id, name, has_scale, scales: [{id, name, online}], weighing_max_age_s}",
        "cashier and up, integration", {"200": {"description": "the register"}, "404": {"description": "no such register"}},
        params=[_path_param("register_id")])},
    "/api/v1/registers/{register_id}/weighings": {"post": _op(
        "Take a legal-for-trade weighing {id (UUID)} from the register's scale: only a stable, positive, in-range "
        "reading, and only once the scale has shown zero since its last weighing. A refusal records nothing",
        "cashier and up",
        {"201": {"description": "{id, register_id, device_id, grams, taken_at, tare_g}"},
         "200": {"description": "the same id again: the first answer (Idempotent-Replayed: true)"},
         "404": {"description": "no such register"},
         "409": {"description": "code scale_offline, scale_no_reading, weight_in_motion, weight_not_positive, "
                                "weight_over_capacity, weight_under_zero, scale_error, scale_not_zeroed, or "
                                "idempotency_conflict (the id was used at another register)"},
         "422": {"description": "code no_scale: no scale is bound to the register"}},
        params=[_path_param("register_id")])},
})

_OWNER = "owner"
_PRINTER = ("{id, host, port, kind: receipt_printer|label_printer, language: escpos|zpl|tspl|brother_ql, name, "
            "added_by, added_at}")
_SCAN = ("{state: idle|running|finished|cancelled|failed, hosts, done, port, found: [{host, port, escpos}], "
         "started_at, finished_at, started_by}")
OPENAPI["paths"].update({
    "/api/v1/discovery/printers": {"get": _op(
        "Printers on the network: advertised over mDNS (_pdl-datastream, _ipp, _printer), found by the last "
        "port-9100 scan, and added by the owner", _OWNER,
        {"200": {"description": "{zeroconf: bool (browsing on), advertised: [{name, service, host, addresses, port, "
                                "product, ty, note, pdl, present, first_seen, last_seen}], scan: " + _SCAN
                                + ", added: [" + _PRINTER + "]}"}})},
    "/api/v1/discovery/scan": {
        "post": _op("Start a port-9100 scan of the hub's subnet (at most a /discovery.scan_prefix around its "
                    "address), or of {networks: [\"192.168.1.0/24\"]}; optional {port} (default 9100). A host that "
                    "answers DLE EOT 1 with a status byte speaks ESC/POS", _OWNER,
                    {"202": {"description": "the scan's progress, " + _SCAN},
                     "409": {"description": "code scan_running (one at a time) or no_network"}}),
        "get": _op("The running or last scan's progress and results", _OWNER, {"200": {"description": _SCAN}}),
        "delete": _op("Cancel the running scan (its results so far stay)", _OWNER, {"200": {"description": _SCAN}})},
    "/api/v1/printers": {
        "get": _op("Network printers the owner added", _OWNER, {"200": {"description": "{printers: [" + _PRINTER + "]}"}}),
        "post": _op("Add a network printer {host (IP or host name), port (default 9100), kind (default "
                    "receipt_printer), language (default escpos), name}; the hub publishes the list, retained, on "
                    "backroom/<hub>/hub/printers and the devices agent hosts it", _OWNER,
                    {"201": {"description": _PRINTER},
                     "409": {"description": "this host and port is already added"}}, body="NetworkPrinter")},
    "/api/v1/printers/{printer_id}": {"delete": _op(
        "Remove a network printer (the row keeps who added and removed it)", _OWNER,
        {"200": {"description": "{id, removed: true}"}, "404": {"description": "no such printer"}},
        params=[_path_param("printer_id")])},
    "/api/v1/devices/credentials": {
        "get": _op("Devices given MQTT credentials: who and when, and revocations", _OWNER,
                   {"200": {"description": "{credentials: [{device_id, issued_by, issued_at, revoked_by, revoked_at}]}"}}),
        "post": _op("Give a network device (ESP32 scale, scanner) its own MQTT user {device_id}; a new call replaces "
                    "the password. The ACL lets it write only backroom/<hub>/dev/<device_id>/#", _OWNER,
                    {"201": {"description": "{device_id, username, password (shown only now), host, port, tls_port, "
                                            "hub_id, topics: {base, config, availability, events, commands, results, "
                                            "hub_status}}"},
                     "409": {"description": "the id is the hub's or the agent's user, or the password file is "
                                            "missing or not writable (code no_passwd)"}}, body="DeviceId")},
    "/api/v1/devices/credentials/{device_id}": {"delete": _op(
        "Revoke a device's MQTT user: the broker reloads and drops its connection", _OWNER,
        {"200": {"description": "{device_id, revoked: true}"}, "404": {"description": "it has no credentials"}},
        params=[_path_param("device_id")])},
})
OPENAPI["components"]["schemas"].update({
    "NetworkPrinter": {"type": "object", "required": ["host"], "additionalProperties": False, "properties": {
        "host": {"type": "string"}, "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 9100},
        "kind": {"enum": ["receipt_printer", "label_printer"], "default": "receipt_printer"},
        "language": {"enum": ["escpos", "zpl", "tspl", "brother_ql"], "default": "escpos"},
        "name": {"type": "string", "maxLength": 100}}},
    "DeviceId": {"type": "object", "required": ["device_id"], "properties": {"device_id": {"type": "string"}}},
})

_DEVICE = [_path_param("device_id")]
OPENAPI["paths"].update({
    "/api/v1/devices/{device_id}": {
        "patch": _op("Rename a device (null: its announced name again; an announcement never overwrites it), bind it "
                     "to a register (null: unbound), or make an input device act as a scanner or a keyboard (the "
                     "hub remembers it and tells the device again whenever it announces another kind)",
                     "manager, owner", {"200": {"description": "the device as GET /api/v1/devices lists it"},
                                        "404": {"description": "no such device"},
                                        "422": {"description": "no such register, or role on a device that is not "
                                                               "an input device"}},
                     body="DevicePatch", params=_DEVICE),
        "delete": _op("Forget a device: the hub clears its retained config and availability on the broker (no ghost "
                      "after a broker restart) and deletes its row. A device still connected announces itself "
                      "again at the next hub start", "owner",
                      {"200": {"description": "{device_id, forgotten: true, note}"},
                       "404": {"description": "no such device"}}, params=_DEVICE)},
    "/api/v1/devices/{device_id}/test": {"post": _op(
        "A test action: test_page (printers), drawer {pin 2|5} (receipt printers), tare and zero (scales) send "
        "cmd/<action> with a job id; the result arrives on /api/v1/status/stream as event device_job {job_id, "
        "device_id, action, status done|failed, ok, error}. scan publishes data (default: a known item's barcode) "
        "on the register's live channel as if this scanner read it, marked test: true",
        "manager, owner",
        {"202": {"description": "{job_id, device_id, action, status sent|done|failed, ok, error, created_at}; "
                                "scan adds register_id, code and listeners (open register pages)"},
         "404": {"description": "no such device"},
         "409": {"description": "code device_offline"},
         "422": {"description": "the action is not for this kind of device, or no register to scan to"}},
        body="DeviceTest", params=_DEVICE)},
    "/api/v1/devices/{device_id}/jobs/{job_id}": {"get": _op(
        "A recent test job and its result", "manager, owner",
        {"200": {"description": "the job, as the test action returned it, with ok, error and finished_at"},
         "404": {"description": "no such recent job"}}, params=[*_DEVICE, _path_param("job_id")])},
})
OPENAPI["components"]["schemas"].update({
    "DevicePatch": {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": {
        "name": {"type": ["string", "null"], "maxLength": 60},
        "register_id": {"type": ["string", "null"]},
        "role": {"enum": ["scanner", "keyboard", None]}}},
    "DeviceTest": {"type": "object", "required": ["action"], "properties": {
        "action": {"enum": ["test_page", "drawer", "tare", "zero", "scan"]},
        "pin": {"enum": [2, 5], "default": 2}, "register_id": {"type": "string"},
        "data": {"type": "string", "maxLength": 256}}},
})

OPENAPI["paths"].update({  # print jobs (hub.print_queue, hub.print_api)
    "/api/v1/sales/{sale_id}/receipt": {"post": _op(
        "Reprint a sale's receipt, marked COPY - REPRINT, never opening the drawer: {} or {device_id} (default: the "
        "register's receipt printer). The job waits while the printer is offline and is retried after paper out; "
        "its result comes on the register's events as 'job'", "cashier and up",
        {"202": {"description": "the print job: {job_id, device_id, status, attempts, error, ...}"},
         "404": {"description": "no such sale, or no such device"},
         "409": {"description": "the register has no receipt printer and no device_id was given"}},
        params=[_path_param("sale_id")])},
    "/api/v1/print-jobs": {"get": _op(
        "Print jobs, newest first; query device_id, status (queued, sent, printed, failed, cancelled), limit (<= 500)",
        "manager, owner, integration", {"200": {"description": "{jobs: [...]}"}})},
    "/api/v1/print-jobs/{job_id}": {"get": _op(
        "One print job: status, attempts, error, next_attempt_at", "cashier and up, integration",
        {"200": {"description": "the job"}, "404": {"description": "no such job"}}, params=[_path_param("job_id")])},
    "/api/v1/print-jobs/{job_id}/cancel": {"post": _op(
        "Cancel a job that is still waiting (queued or sent)", "manager, owner",
        {"200": {"description": "the job, cancelled"}, "404": {"description": "no such job"},
         "409": {"description": "the job already printed or failed"}}, params=[_path_param("job_id")])},
})

OPENAPI["paths"].update({  # cloud sync (hub.outbox, hub.sync_api); GET /api/v1/status has the sync state
    "/api/v1/sync/dead-letters": {"get": _op(
        "Events the cloud refused, set aside so the rest keeps flowing: [{seq, id, type, detail, answer (the "
        "receiver's), at, replay, replay_by, replay_at}]", "manager, owner, integration",
        {"200": {"description": "{dead_letters: [...]}"}})},
    "/api/v1/sync/dead-letters/replay": {"post": _op(
        "Send dead letters again once the cause is fixed: {seqs: [1017]} or {all: true}. Each keeps its seq and id",
        "owner", {"200": {"description": "{replayed: n}"}, "404": {"description": "a seq is not a dead letter"}})},
    "/api/v1/sync/pull": {"post": _op(  # hub.inbound_api
        "Pull item and price changes from the back office now, instead of at the next interval (unless it asked "
        "the hub to wait); the result shows in GET /api/v1/status at sync.inbound", "manager, owner",
        {"202": {"description": "{pulling: true}"}, "409": {"description": "pulling is off (cloud.changes_url)"}})},
    "/api/v1/sync/inbound": {"get": _op(
        "The newest changes taken from the back office: [{change_id, type, sku, outcome (applied, scheduled, "
        "ignored, refused), detail, at}]", "manager, owner, integration",
        {"200": {"description": "{changes: [...]}"}, "400": {"description": "a bad outcome or limit"}},
        params=[{"name": "outcome", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["applied", "scheduled", "ignored", "refused"]}},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}])},
})

OPENAPI["paths"].update({  # the registers' offline catalog (hub.catalog_snapshot, hub.snapshot_api)
    "/api/v1/catalog/snapshot": {"get": _op(
        "The catalog a register sells from when the hub is out of reach, streamed as NDJSON (application/x-ndjson): "
        "a header {format: backroom.catalog.v2, version, count, taxes: {category: rate_bp}, modifier_groups: {id: "
        "{name, required, max_choices, options: [[id, name, delta_minor]]}}, store: {currency, prices_include_tax, "
        "tax_rounding, discount_approval_bp, discount_approval_minor, discount_reasons}, fields}, then one array per "
        "item [sku, name, unit, price_minor, tax, active, variants, codes: [[code, pack_qty]]], with a ninth element "
        "prices {tiers: {tier: price_minor}, breaks: {tier: [[qty, price_minor]]}, groups: [group id]} only on an "
        "item that has tier prices, breaks or modifier groups. Then ask /catalog/changes?since=version",
        "cashier and up, integration",
        {"200": {"description": "NDJSON, streamed in constant memory"}})},
    "/api/v1/catalog/changes": {"get": _op(
        "Items changed since a snapshot's version: {version, since, more, taxes, modifier_groups, store, fields, "
        "upserts (items as they are now, with all their codes and prices, as the snapshot's rows), removed (SKUs)}; "
        "with more: true ask again with since=version",
        "cashier and up, integration",
        {"200": {"description": "the delta"}, "410": {"description": "since is newer than this hub's catalog (a "
                                                                      "restored database): load the snapshot again"}},
        params=[{"name": "since", "in": "query", "required": True, "schema": {"type": "integer", "minimum": 0}}])},
})
OPENAPI["components"]["schemas"]["SaleRequest"]["properties"].update({
    "offline": {"type": "boolean", "default": False,
                "description": "the register made this sale while the hub was out of reach and replays it now: it is "
                               "taken even where stock would go below zero (the items are flagged), prints no receipt, "
                               "and is dated recorded_at. Not part of the idempotency comparison"},
    "recorded_at": {"type": "string", "format": "date-time",
                    "description": "with offline: when the cashier finished the sale, on the register's clock (a time "
                                   "ahead of the hub's counts as now; older than 7 days needs a manager, else 422 "
                                   "offline_too_old)"},
    "charged": {"type": "object",
                "description": "with offline: what the register charged, {total_minor, lines: [{unit_price_minor, "
                               "total_minor}], catalog_version}; the hub records these prices (tax recomputed from "
                               "them) instead of today's, and keeps both for review when they differ. offline is "
                               "accepted only from a paired tablet or an integration token (else 403 "
                               "offline_not_allowed) and within the register's last two shifts (else 422 "
                               "offline_outside_shift)"},
    "sold_by": {"type": "string",
                "description": "with offline: who was signed in on the register when the sale was made; the sale "
                               "is theirs (its actor), whoever's session sends it. Approvals their role would need "
                               "never refuse an offline sale: they are kept for the owner's review "
                               "(GET /api/v1/offline-sales approvals_missing), as is a manager's discount sent by a "
                               "lower role, and a name that is no person here"},
})

OPENAPI["paths"].update({  # tablets as registers: pairing, PINs, approvals, shifts (hub.registers_api)
    "/api/v1/pairing/codes": {"post": _op(
        "Make a pairing code (6 digits, 10 minutes, single use; older codes stop working): {code, expires_at, url, "
        "urls, qr_svg}. url is the hub's /pair?code=... as the owner's browser reached it (or its mDNS name)",
        "owner", {"201": {"description": "the code and its QR code (SVG)"}})},
    "/api/v1/pairing/check": {"post": _op(
        "Check a pairing code {code} without using it: {registers: [{id, name, paired}]}. Wrong codes count: after "
        "10 in 10 minutes every open code is cancelled", "none (the code is the credential)",
        {"200": {"description": "the registers a tablet may become"}, "429": {"description": "too many wrong codes"}})},
    "/api/v1/pairing": {"post": _op(
        "Pair this browser as a register: {code, register_id} (an unpaired one) or {code, register_name} (a new "
        "one). Sets the backroom_tablet cookie (HTTP-only, SameSite=Strict, 400 days): {tablet, register_id, next}",
        "none (the code is the credential)",
        {"201": {"description": "paired"}, "404": {"description": "no such register"},
         "409": {"description": "code register_paired: the register has a tablet"},
         "429": {"description": "too many wrong codes"}})},
    "/api/v1/tablets": {"get": _op("Paired tablets: [{id, register_id, register_name, paired_at, paired_by, "
                                   "user_agent, last_seen}]", "manager, owner", {"200": {"description": "{tablets}"}})},
    "/api/v1/tablets/{tablet_id}/unpair": {"post": _op(
        "Unpair a tablet: its token and any PIN session on it stop working at once", "owner",
        {"200": {"description": "the tablet, with unpaired_at"}, "404": {"description": "no paired tablet"}},
        params=[_path_param("tablet_id")])},
    "/api/v1/tablet": {"get": _op(
        "This paired tablet (by its cookie): {tablet, person (who is signed in, or null), people: [{username, "
        "role, locked}] who have a PIN, csrf_token}", "a paired tablet's cookie",
        {"200": {"description": "the tablet"}, "401": {"description": "code not_paired or unpaired"}})},
    "/api/v1/tablet/signin": {"post": _op(
        "Sign a person in on this tablet with {username, pin}: a session bound to the tablet's register. 5 wrong "
        "PINs in a row lock the person for 15 minutes (403 code locked); 10 wrong PINs on one tablet in 5 minutes "
        "make it wait (429)", "a paired tablet's cookie",
        {"200": {"description": "{user, role, register_id, csrf_token}"}, "429": {"description": "too many tries"}})},
    "/api/v1/tablet/signout": {"post": _op("Sign the person out of this tablet (the tablet stays paired)",
                                           "a paired tablet's cookie", {"200": {"description": "{ok}"}})},
    "/api/v1/people": {
        "get": _op("People and their PIN state: [{username, role, has_pin, failures, locked_until, pin_set_at}]",
                   "manager, owner", {"200": {"description": "{people}"}}),
        "post": _op("Add a person who signs in at the till with a PIN only: {username, role, pin (4-8 digits; 6-8 for managers and owners)}",
                    "owner", {"201": {"description": "{people}"}})},
    "/api/v1/people/{username}/pin": {"post": _op(
        "Set or reset a person's PIN {pin} (4-8 digits, 6-8 for managers and owners; stored only as a scrypt hash); lifts a lock", "owner",
        {"200": {"description": "{people}"}, "404": {"description": "no such person"}},
        params=[_path_param("username")])},
    "/api/v1/people/{username}/unlock": {"post": _op(
        "Lift a PIN lock", "manager, owner", {"200": {"description": "{people}"}}, params=[_path_param("username")])},
    "/api/v1/pin-attempts": {"get": _op("The PIN audit: the last 100 tries [{at, place, username, purpose, ok, "
                                        "reason}] (never the PIN), and refused: tries turned away before any PIN was checked "
                                        "(locked person, tablet told to wait), counted in memory since the hub started",
                                        "manager, owner", {"200": {"description": "{attempts, refused}"}})},
    "/api/v1/registers/{register_id}/approvals": {"post": _op(
        "A manager approves an action on this register: {action, approver, pin, details} -> {token, expires_at, "
        "approver}: single use, valid 60 s, only for this action with exactly these details",
        "cashier and up (the approver must be a manager or owner)",
        {"201": {"description": "the approval token"}, "429": {"description": "too many tries"}},
        params=[_path_param("register_id")])},
    "/api/v1/registers/{register_id}/shifts": {"post": _op(
        "Open a shift with the float counted into the drawer {float_minor}. A paired tablet's cashier sells only "
        "in an open shift (409 code no_shift)", "cashier and up",
        {"201": {"description": "the shift"}, "409": {"description": "code shift_open"}},
        params=[_path_param("register_id")])},
    "/api/v1/registers/{register_id}/cash-movements": {"post": _op(
        "Pay cash into or out of the drawer of the register's open shift: {id (the register's, for retries), kind "
        "(paid_in or paid_out), amount_minor, reason, approval?}. Opens the drawer, is sent as cash.moved and "
        "counted in the Z report's expected cash. A cashier's paid out needs a manager's approval token "
        "(action paid_out, details {amount_minor}); the same id again answers the first (200)",
        "cashier and up", {"201": {"description": "the movement"}, "200": {"description": "the same id again"},
                           "403": {"description": "code approval_required or approval_invalid"},
                           "409": {"description": "code no_shift or idempotency_conflict"}},
        params=[_path_param("register_id")])},
    "/api/v1/registers/{register_id}/shift": {"get": _op(
        "The register's open shift and its X report so far: {shift, report}, both null when none is open",
        "cashier and up, integration", {"200": {"description": "{shift, report}"}},
        params=[_path_param("register_id")])},
    "/api/v1/shifts/{shift_id}/close": {"post": _op(
        "Close a shift with the cash count {counted_minor, denominations?: [{value_minor, count}]}: the Z report "
        "(totals by tender, tax rate, returns, voids, discounts, expected cash and over/short), kept, sent as "
        "shift.closed and printed on the register's receipt printer (print_job)", "cashier and up",
        {"200": {"description": "the Z report"}, "409": {"description": "code shift_closed"}},
        params=[_path_param("shift_id")])},
    "/api/v1/shifts/{shift_id}/report": {"get": _op(
        "A closed shift's Z report as kept, or an open shift's X report", "cashier and up, integration",
        {"200": {"description": "the report"}, "404": {"description": "no such shift"}},
        params=[_path_param("shift_id")])},
    "/api/v1/shifts/{shift_id}/print": {"post": _op(
        "Print the shift's report again on the register's receipt printer", "cashier and up",
        {"202": {"description": "the print job"}, "409": {"description": "code no_printer"}},
        params=[_path_param("shift_id")])},
})
_OFFLINE_SALE = ("{sale_id, number, receipt_code, register_id, register_name, tablet: {id, user_agent} or null, cashier, "
                 "currency, recorded_at (when the cashier sold it, the tablet's clock), received_at (when it reached "
                 "the hub), catalog_version (of the snapshot it was priced from), charged_total_minor (what was "
                 "paid), today_total_minor (the sale at the hub's prices on arrival), difference_minor (charged - "
                 "today), price_differences: [{line_no, sku, name, qty, unit, charged_unit_price_minor, "
                 "charged_total_minor, today_unit_price_minor, today_total_minor}], oversold: [{sku, name}] (taken "
                 "below zero stock: on GET /api/v1/stock/exceptions), voided, reviewed: null or {at, by, note}, sent_by (whose "
                 "session sent it; cashier is who sold it), approvals_missing: [{action, details, reason: no_approval, "
                 "seller_unverified or seller_unknown}] (what a manager would have approved had the hub been there)}")
_Q = [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}, "description": d} for n, d in (
    ("differences", "1: only sales charged at other prices than the hub's, or with approvals missing"),
    ("reviewed", "1: only reviewed ones; 0: only those not yet reviewed"),
    ("since", "RFC 3339: reached the hub at or after"), ("until", "RFC 3339: reached the hub before"),
    ("register", "only this register's"), ("cursor", "next_cursor of the page before"),
    ("limit", "1-200, default 50"))]
OPENAPI["paths"].update({  # the owner's review of offline sales (hub.offline_review, hub.offline_review_api)
    "/api/v1/offline-sales": {"get": _op(
        "Sales registers made without the hub, newest arrival first: {sales: [" + _OFFLINE_SALE + "], next_cursor, "
        "summary: {offline_sales, with_differences (prices or approvals), unreviewed (with differences, not reviewed), "
        "oversold}} (summary "
        "counts all, whatever the filters)", "manager, owner, integration",
        {"200": {"description": "a page of offline sales"}}, params=_Q)},
    "/api/v1/offline-sales/{sale_id}": {"get": _op(
        "One offline sale: " + _OFFLINE_SALE, "manager, owner, integration",
        {"200": {"description": "the sale"}, "404": {"description": "no offline sale with this id"}},
        params=[_path_param("sale_id")])},
    "/api/v1/offline-sales/{sale_id}/review": {"post": _op(
        "Mark an offline sale reviewed, with an optional {note} (at most 200 characters): recorded with who and when "
        "and sent as offline_sale.reviewed. Again later answers the first review and records nothing",
        "owner", {"200": {"description": "the sale, with reviewed"}, "404": {"description": "no offline sale"}},
        params=[_path_param("sale_id")])},
})
OPENAPI["paths"]["/api/v1/registers/{register_id}/shifts"]["get"] = _op(
    "The register's latest closed shifts, newest first, as their kept Z reports: {reports} (?limit=1-100, default "
    "10). Each report's late_offline_sales and cash.voids_minor show what reached or left the drawer from earlier "
    "shifts", "cashier and up, integration", {"200": {"description": "{reports}"}},
    params=[_path_param("register_id"), {"name": "limit", "in": "query", "required": False,
                                         "schema": {"type": "integer", "minimum": 1, "maximum": 100}}])
OPENAPI["info"]["description"] = _CARD_GUARD
_SV = ("{code, kind (gift_card or store_credit), balance_minor, currency, created_at, created_by, note, movements: "
       "the latest 20 [{id, kind (issue, top_up, redeem, refund, void), amount_minor, balance_minor, actor, sale_id, "
       "return_id, note, created_at}]}")
OPENAPI["paths"].update({
    "/api/v1/stored-value": {"post": _op(
        "Issue a gift card or store credit: {kind, amount_minor, code? (the code on the card; made up when absent), "
        "note?}", "manager, owner",
        {"201": {"description": _SV}, "409": {"description": "code already_issued"}})},
    "/api/v1/stored-value/{code}": {"get": _op(
        "A gift card's or store credit's balance and latest movements (redeem it as a sale tender)",
        "cashier and up, integration", {"200": {"description": _SV}, "404": {"description": "no such code"}},
        params=[_path_param("code")])},
    "/api/v1/stored-value/{code}/top-ups": {"post": _op(
        "Add to a gift card or store credit: {id (client UUID: a retry counts once), amount_minor, note?}",
        "manager, owner", {"201": {"description": _SV}, "404": {"description": "no such code"},
                           "409": {"description": "the same id with other details"}},
        params=[_path_param("code")])},
})

# -- the cart: discounts, price overrides, taxes, parked and voided carts (hub.cart, hub.parked) -------
_DISCOUNT = {"type": "object", "description": "{percent_bp, reason} or {amount_minor, reason}; reason from "
             "store.discount_reasons. Above store.discount_approval_bp / _minor a cashier needs a manager's approval",
             "properties": {"percent_bp": {"type": "integer", "minimum": 1, "maximum": 10000},
                            "amount_minor": {"type": "integer", "minimum": 1}, "reason": {"type": "string"}}}
_SALE = OPENAPI["components"]["schemas"]["SaleRequest"]["properties"]
_SALE["lines"]["items"]["properties"].update({
    "discount": _DISCOUNT,
    "price_override": {"type": "object", "description": "sell at this unit price instead (a manager, or a cashier "
                       "with approval price_override); recorded with the price it replaced, who and why",
                       "properties": {"unit_price_minor": {"type": "integer", "minimum": 0}, "reason": {"type": "string"}}}})
_SALE["cart_discount"] = {**_DISCOUNT, "description": "off the whole cart, spread over the lines by amount"}
_SALE["approvals"] = {"type": "object", "description": "tokens from POST /registers/{id}/approvals for the "
                      "approvals_needed a quote named: {discount, price_override}",
                      "properties": {"discount": {"type": "string"}, "price_override": {"type": "string"}}}
OPENAPI["paths"]["/api/v1/sales/quote"]["post"]["summary"] += (
    "; body {lines, tier, cart_discount}; answers the lines with their discounts, taxes (per rate), "
    "discount_minor and approvals_needed [{action, details}] for the caller's role")
_REGISTER = [_path_param("register_id")]
OPENAPI["paths"].update({
    "/api/v1/registers/{register_id}/parked": {
        "get": _op("Carts parked at any register and not yet resumed, oldest first: {parked: [{id, register_id, "
                   "label, line_count, parked_by, parked_at}]}", "cashier and up",
                   {"200": {"description": "the parked carts"}}, params=_REGISTER),
        "post": _op("Park a cart {id (UUID), cart: {lines, ...}, label}; kept across hub restarts; the same id "
                    "again answers 200", "cashier and up",
                    {"201": {"description": "parked"}, "200": {"description": "parked before with this id"},
                     "409": {"description": "the same id with other lines"}}, params=_REGISTER)},
    "/api/v1/registers/{register_id}/parked/{cart_id}/resume": {"post": _op(
        "Resume a parked cart here: answers it with its cart and takes it off the list", "cashier and up",
        {"200": {"description": "the cart"}, "404": {"description": "unknown"},
         "409": {"description": "resumed already (who, where, when)"}},
        params=[*_REGISTER, _path_param("cart_id")])},
    "/api/v1/registers/{register_id}/cart-voids": {"post": _op(
        "Record a cart voided before payment {id, lines, total_minor, reason} as a cart.voided event",
        "cashier and up", {"201": {"description": "recorded (the same id again: the first record)"}},
        params=_REGISTER)},
})
