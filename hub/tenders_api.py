"""REST routes for paying: gift cards and store credit, and the card-number guard over every JSON body.

The guard runs before every view (init_app): a JSON body with any value that looks like a payment
card number (hub.domain.tenders.find_card_number) is refused with 422 `card_number`, naming the
field, before any route reads it. The value is never logged: the error names only the field.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, g, request

from hub.domain.tenders import refuse_card_numbers
from hub.http import _body, _json, requires
from hub.stored_value import StoredValue


def init_app(app: Flask) -> None:
    """Refuse card numbers in every JSON body the hub accepts (POST, PUT, PATCH, DELETE)."""

    @app.before_request
    def card_guard() -> None:
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.is_json:
            refuse_card_numbers(request.get_json(silent=True))


def stored_value_blueprint(stored: StoredValue) -> Blueprint:
    bp = Blueprint("stored_value", __name__, url_prefix="/api/v1")

    @bp.get("/stored-value/<code>")
    @requires("cashier", "integration")
    def account(code: str) -> Response:
        return _json(stored.account(code))

    @bp.post("/stored-value")
    @requires("manager")
    def issue() -> Response:
        return _json(stored.issue(_body(), g.actor), 201)

    @bp.post("/stored-value/<code>/top-ups")
    @requires("manager")
    def top_up(code: str) -> Response:
        return _json(stored.top_up(code, _body(), g.actor), 201)

    return bp
