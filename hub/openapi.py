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
                                "lines": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["sku", "qty"],
                                          "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1,
                                                         "description": "base units: pieces, grams or millilitres"}}}},
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
        "/api/v1/session": {"get": _op("Who is calling, and the CSRF token for a session", "any", {"200": {"description": "session"}})},
    },
}
