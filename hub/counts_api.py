"""REST routes of cycle counts: sessions, counting a line, closing, a manager's decisions, the
daily list, ABC classes and count accuracy. A manager opens and closes a count; a cashier counts."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, g, request

from hub.errors import NotFound, ValidationError
from hub.http import _body, _json, requires
from hub.service import HubService


def _session_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"no count session {raw!r}", field="id")
    return int(raw)


def counts_blueprint(svc: HubService) -> Blueprint:
    bp = Blueprint("counts", __name__, url_prefix="/api/v1")
    counts = svc.counts

    @bp.get("/counts")
    @requires("cashier", "integration")
    def sessions() -> Response:
        return _json({"sessions": counts.sessions(request.args.get("status", ""))})

    @bp.post("/counts")
    @requires("manager", "integration")
    def open_session() -> Response:
        return _json(counts.open_session(_body(), g.actor), 201)

    @bp.get("/counts/daily")
    @requires("cashier", "integration")
    def daily() -> Response:
        raw = request.args.get("date", "")
        try:
            day = date.fromisoformat(raw) if raw else None
        except ValueError:
            raise ValidationError(f"date must be YYYY-MM-DD, got {raw!r}", field="date") from None
        return _json(counts.daily_list(day))

    @bp.post("/counts/classes")
    @requires("manager", "integration")
    def classes() -> Response:
        return _json({"classes": counts.recompute_classes()})

    @bp.get("/counts/accuracy")
    @requires("manager", "integration")
    def accuracy() -> Response:
        days = request.args.get("days", "90")
        if not days.isdigit() or not 1 <= int(days) <= 366:
            raise ValidationError("days must be 1-366", field="days")
        return _json(counts.accuracy_by_class(int(days)))

    @bp.get("/counts/<session_id>")
    @requires("cashier", "integration")
    def session(session_id: str) -> Response:
        return _json(counts.session(_session_id(session_id), g.role))

    @bp.post("/counts/<session_id>/lines")
    @requires("cashier", "integration")
    def count_line(session_id: str) -> Response:
        return _json(counts.count_line(_session_id(session_id), _body(), g.actor, g.role))

    @bp.get("/counts/<session_id>/lines/<sku>/photo")
    @requires("manager", "integration")
    def photo(session_id: str, sku: str) -> Response:
        data, mimetype = counts.photo(_session_id(session_id), sku)
        return Response(data, mimetype=mimetype, headers={"Cache-Control": "private, max-age=3600"})

    @bp.post("/counts/<session_id>/close")
    @requires("manager", "integration")
    def close(session_id: str) -> Response:
        return _json(counts.close(_session_id(session_id), g.actor, g.role))

    @bp.post("/counts/<session_id>/lines/<sku>/<action>")
    @requires("manager", "integration")
    def decide(session_id: str, sku: str, action: str) -> Response:
        body = _body() if request.get_data() else {}
        location = request.args.get("location") or (body.get("location") if isinstance(body, dict) else None) or ""
        if not isinstance(location, str):
            raise ValidationError("location must be a location id", field="location")
        return _json(counts.decide(_session_id(session_id), sku, location, action, g.actor, g.role))

    return bp
