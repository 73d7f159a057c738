"""REST routes for weighing at a register: what the register has (its scales), and taking a
legal-for-trade weighing from its scale (hub.weighing)."""

from __future__ import annotations

from flask import Blueprint, Response, g

from hub.http import _body, _json, requires
from hub.service import HubService


def weighing_blueprint(svc: HubService) -> Blueprint:
    bp = Blueprint("weighing", __name__, url_prefix="/api/v1")
    desk = svc.weighing

    @bp.get("/registers/<register_id>")
    @requires("cashier", "integration")
    def register(register_id: str) -> Response:
        return _json(desk.register(register_id))

    @bp.post("/registers/<register_id>/weighings")
    @requires("cashier")
    def take_weighing(register_id: str) -> Response:
        answer, created = desk.take(register_id, _body(), g.actor)
        resp = _json(answer, 201 if created else 200)
        if not created:
            resp.headers["Idempotent-Replayed"] = "true"
        return resp

    return bp
