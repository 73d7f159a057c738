"""REST routes for what comes back and what comes in: sales as a register looks them up later,
post-voids, returns and exchanges, purchase orders and receiving."""

from __future__ import annotations

import sqlite3

from flask import Blueprint, Response, g, request

from hub.approvals import require_approval
from hub.auth import allows
from hub.http import _body, _json, requires
from hub.service import HubService


def returns_blueprint(svc: HubService) -> Blueprint:
    bp = Blueprint("returns", __name__, url_prefix="/api/v1")
    desk, receiving = svc.returns, svc.receiving

    def sent() -> None:
        if svc.forwarder:
            svc.forwarder.notify()

    @bp.get("/sales/<sale_id>")
    @requires("cashier", "integration")
    def sale(sale_id: str) -> Response:
        return _json(desk.sale(sale_id))

    @bp.get("/sales/by-receipt/<code>")
    @requires("cashier", "integration")
    def sale_by_receipt(code: str) -> Response:
        return _json(desk.sale_by_receipt(code))

    @bp.post("/sales/<sale_id>/void")
    @requires("cashier")
    def void(sale_id: str) -> Response:
        body = _body()
        token = body.pop("approval", None) if isinstance(body, dict) else None
        approve = None
        if not allows(g.role, ("manager",)):  # a cashier voids with a manager's PIN at the till
            # spent in the void's own transaction: a void that fails leaves the approval unused
            def approve(conn: sqlite3.Connection) -> None:
                require_approval(conn, token, "post_void", {"sale_id": sale_id}, g.actor, now=svc.clock())
        answer = desk.void(sale_id, body, g.actor, approve)
        sent()
        return _json(answer)

    @bp.post("/returns")
    @requires("cashier", "integration")
    def record_return() -> Response:
        answer, created = desk.record(_body(), g.actor, g.role)
        if not created:
            resp = _json(answer, 200)
            resp.headers["Idempotent-Replayed"] = "true"
            return resp
        sent()
        return _json(answer, 201)

    @bp.post("/returns/<return_id>/refund-credit")
    @requires("cashier")
    def refund_credit(return_id: str) -> Response:
        answer = desk.refund_credit(return_id, g.actor)  # an exchange called off: its credit goes back
        sent()
        return _json(answer)

    @bp.post("/purchase-orders")
    @requires("manager", "integration")
    def create_order() -> Response:
        return _json(receiving.create_order(_body(), g.actor), 201)

    @bp.get("/purchase-orders")
    @requires("manager", "integration")
    def orders() -> Response:
        return _json({"purchase_orders": receiving.orders(request.args.get("status", ""))})

    @bp.get("/purchase-orders/<po_id>")
    @requires("manager", "integration")
    def order(po_id: str) -> Response:
        return _json(receiving.order(po_id))

    @bp.post("/receipts")
    @requires("manager", "integration")
    def receive() -> Response:
        answer = receiving.receive(_body(), g.actor)
        replayed = answer.pop("replayed")
        sent()
        resp = _json(answer, 200 if replayed else 201)
        if replayed:
            resp.headers["Idempotent-Replayed"] = "true"
        return resp

    return bp
