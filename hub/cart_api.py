"""Routes for the cart at a register: parked carts (park, list, resume) and carts voided before payment.

Discounts, price overrides and taxes travel in POST /api/v1/sales and /sales/quote (hub.cart,
hub.domain.discounts, hub.domain.tax); this blueprint holds what lives between sales.
"""

from __future__ import annotations

from flask import Blueprint, Response, g

from hub.errors import NotFound
from hub.http import _body, _json, requires
from hub.parked import ParkedCarts
from hub.service import HubService


def cart_blueprint(svc: HubService) -> Blueprint:
    bp = Blueprint("cart", __name__)
    parked = ParkedCarts(svc.db, svc.clock)

    def known(register_id: str) -> None:
        if not svc.store.register_exists(register_id):
            raise NotFound(f"register {register_id!r} does not exist", field="register_id")

    @bp.get("/api/v1/registers/<register_id>/parked")
    @requires("cashier")
    def waiting(register_id: str) -> Response:
        known(register_id)
        return _json({"parked": parked.waiting()})

    @bp.post("/api/v1/registers/<register_id>/parked")
    @requires("cashier")
    def park(register_id: str) -> Response:
        known(register_id)
        cart, created = parked.park(register_id, _body(), g.actor)
        return _json(cart, 201 if created else 200)

    @bp.post("/api/v1/registers/<register_id>/parked/<cart_id>/resume")
    @requires("cashier")
    def resume(register_id: str, cart_id: str) -> Response:
        known(register_id)
        return _json(parked.resume(cart_id, register_id, g.actor))

    @bp.post("/api/v1/registers/<register_id>/cart-voids")
    @requires("cashier")
    def void_cart(register_id: str) -> Response:
        known(register_id)
        return _json(parked.void(register_id, _body(), g.actor), 201)

    return bp
