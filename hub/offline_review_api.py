"""Routes of the offline-sales review (hub.offline_review): managers and owners read the list, an
owner marks a sale reviewed."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from hub.errors import ValidationError
from hub.http import _body, _json, requires
from hub.offline_review import MAX_PAGE, OfflineReview
from hub.service import HubService


def _flag(name: str) -> bool | None:
    raw = request.args.get(name, "").lower()
    if raw in ("", "any"):
        return None
    if raw in ("1", "true", "yes"):
        return True
    if raw in ("0", "false", "no"):
        return False
    raise ValidationError(f"{name} must be 1 or 0 (got {raw!r})", field=name)


def offline_review_blueprint(svc: HubService) -> Blueprint:
    bp = Blueprint("offline_review", __name__, url_prefix="/api/v1")
    review = OfflineReview(svc.db, svc.clock)

    @bp.get("/offline-sales")
    @requires("manager", "integration")
    def offline_sales() -> Response:
        limit = request.args.get("limit", "50")
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_PAGE:
            raise ValidationError(f"limit must be a whole number from 1 to {MAX_PAGE} (got {limit!r})", field="limit")
        return _json(review.list(differences=bool(_flag("differences")), reviewed=_flag("reviewed"),
                                 since=request.args.get("since", ""), until=request.args.get("until", ""),
                                 register=request.args.get("register", ""), cursor=request.args.get("cursor", ""),
                                 limit=int(limit)))

    @bp.get("/offline-sales/<sale_id>")
    @requires("manager", "integration")
    def offline_sale(sale_id: str) -> Response:
        return _json(review.sale(sale_id))

    @bp.post("/offline-sales/<sale_id>/review")
    @requires("owner")
    def mark_reviewed(sale_id: str) -> Response:
        body = _body() if request.get_data() else {}
        return _json(review.mark_reviewed(sale_id, body, g.actor))

    return bp
