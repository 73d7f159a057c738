"""REST routes for the inbound half of cloud sync: pull now, and the log of changes taken
from the back office (docs/sync-protocol.md section 6, hub.inbound)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from hub.errors import Conflict, ValidationError
from hub.http import _json, requires
from hub.inbound import inbound_log
from hub.service import HubService

MAX_LOG = 1000


def inbound_blueprint(svc: HubService) -> Blueprint:
    bp = Blueprint("inbound", __name__, url_prefix="/api/v1/sync")

    @bp.post("/pull")
    @requires("manager")
    def pull_now() -> Response:
        if svc.change_feed is None:
            raise Conflict("pulling changes from the back office is off: set cloud.changes_url to its feed "
                                "(docs/back-office.md)", field="cloud.changes_url")
        svc.change_feed.pull_now()
        return _json({"pulling": True}, 202)

    @bp.get("/inbound")
    @requires("manager", "integration")
    def inbound() -> Response:
        limit = request.args.get("limit", "100")
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_LOG:
            raise ValidationError(f"limit must be 1..{MAX_LOG}, got {limit!r}", field="limit")
        outcome = request.args.get("outcome") or None
        return _json({"changes": inbound_log(svc.db, outcome, int(limit))})

    return bp
