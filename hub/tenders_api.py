"""REST routes for paying: gift cards and store credit, and the card-number guard over every JSON body.

The guard runs before every view (init_app): a query string, JSON body, form or CSV file with any
value that looks like a payment card number (hub.domain.tenders.find_card_number) is refused with
422 `card_number`, naming the field (or a CSV file's row and column), before any route reads it.
The value is never logged: the error names only the field.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, g, request
from werkzeug.datastructures import MultiDict

from hub.domain.tenders import CARD_NUMBER_MESSAGE, find_card_number_in_csv, refuse_card_numbers
from hub.errors import UnprocessableError
from hub.http import _body, _json, requires
from hub.stored_value import StoredValue


def init_app(app: Flask) -> None:
    """Refuse card numbers in every query string and every body the hub accepts (JSON, CSV, text, forms)."""

    @app.before_request
    def card_guard() -> None:
        if request.args:  # a search or a lookup: the address lands in logs, so it is checked too
            refuse_card_numbers(_fields(request.args))
        if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
            return
        if request.is_json:
            refuse_card_numbers(request.get_json(silent=True))
        elif request.form:
            refuse_card_numbers(_fields(request.form))
        elif request.mimetype in ("text/csv", "text/plain"):
            field = find_card_number_in_csv(request.get_data().decode("utf-8-sig", errors="replace"))
            if field is not None:
                raise UnprocessableError(CARD_NUMBER_MESSAGE, field=field, code="card_number")


def _fields(values: MultiDict[str, str]) -> dict[str, str | list[str]]:
    """A query string or form as the guard searches it: a field given once is one value."""
    return {k: vs[0] if len(vs) == 1 else vs for k, vs in values.lists()}


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
