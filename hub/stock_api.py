"""REST routes of the stock ledger: adjustments, transfers, dispositions, reservations, move
history, exceptions, and the store's locations and reason codes."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from hub.errors import ValidationError
from hub.http import _body, _json, requires
from hub.service import HubService


def stock_blueprint(svc: HubService) -> Blueprint:
    bp = Blueprint("stock", __name__, url_prefix="/api/v1")
    ledger = svc.ledger

    @bp.get("/stock")
    @requires("manager", "integration")
    def at_location() -> Response:
        location = request.args.get("location", "")
        if not location:
            raise ValidationError("give ?location=, e.g. review", field="location")
        return _json(ledger.levels_at(location))

    @bp.get("/stock/<sku>/moves")
    @requires("manager", "integration")
    def moves(sku: str) -> Response:
        before = request.args.get("before", "0")
        limit = request.args.get("limit", "100")
        balance = request.args.get("balance")
        if not before.isdigit() or not limit.isdigit() or not 1 <= int(limit) <= 500:
            raise ValidationError("before must be a move id and limit 1-500", field="before")
        if balance is not None and not balance.lstrip("-").isdigit():
            raise ValidationError("balance must be the next_balance of the page before", field="balance")
        return _json(ledger.history(sku, request.args.get("location", ""), int(before), int(limit),
                                    int(balance) if balance is not None and before != "0" else None))

    @bp.post("/stock/adjustments")
    @requires("manager", "integration")
    def adjust() -> Response:
        return _json(ledger.adjust(_body(), g.actor), 201)

    @bp.post("/transfers")
    @requires("manager", "integration")
    def transfer() -> Response:
        return _json(ledger.transfer(_body(), g.actor), 201)

    @bp.post("/stock/dispositions")
    @requires("manager", "integration")
    def dispose() -> Response:
        return _json(ledger.dispose(_body(), g.actor), 201)

    @bp.get("/stock/exceptions")
    @requires("manager", "integration")
    def exceptions() -> Response:
        days = request.args.get("days", "30")
        if not days.isdigit() or not 1 <= int(days) <= 366:
            raise ValidationError("days must be 1-366", field="days")
        return _json(ledger.exceptions(int(days)))

    @bp.post("/reservations")
    @requires("cashier", "integration")
    def reserve() -> Response:
        return _json(ledger.reserve(_body(), g.actor), 201)

    @bp.post("/reservations/<res_id>/release")
    @requires("cashier", "integration")
    def release(res_id: str) -> Response:
        body = _body()
        return _json(ledger.release(res_id, body.get("outcome") if isinstance(body, dict) else None, g.actor))

    @bp.get("/reason-codes")
    @requires("cashier", "integration")
    def codes() -> Response:
        return _json(ledger.codes())

    @bp.put("/reason-codes/<kind>/<code>")
    @requires("owner", "integration")
    def put_code(kind: str, code: str) -> Response:
        return _json(ledger.put_code(kind, code, _body(), g.actor))

    @bp.get("/locations")
    @requires("cashier", "integration")
    def locations() -> Response:
        return _json({"locations": ledger.locations()})

    @bp.put("/locations/<loc_id>")
    @requires("owner", "integration")
    def put_location(loc_id: str) -> Response:
        return _json(ledger.put_location(loc_id, _body(), g.actor))

    return bp
