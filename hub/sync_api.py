"""REST routes for cloud sync: the dead-letter list and its replay (docs/sync-protocol.md)."""

from __future__ import annotations

from flask import Blueprint, Response, g

from hub.errors import ValidationError
from hub.http import _body, _json, requires
from hub.service import HubService


def sync_blueprint(svc: HubService) -> Blueprint:
    bp = Blueprint("sync", __name__, url_prefix="/api/v1/sync")

    @bp.get("/dead-letters")
    @requires("manager", "integration")
    def dead_letters() -> Response:
        return _json({"dead_letters": svc.outbox.dead_letters()})

    @bp.post("/dead-letters/replay")
    @requires("owner")
    def replay() -> Response:
        body = _body()
        if not isinstance(body, dict) or (body.get("all") is True) == ("seqs" in body):
            raise ValidationError("send {\"seqs\": [1017, ...]} or {\"all\": true}", field="seqs")
        seqs = None if body.get("all") is True else body["seqs"]
        if seqs is not None and not isinstance(seqs, list):
            raise ValidationError("seqs must be a list of sequence numbers", field="seqs")
        replayed = svc.outbox.replay(seqs, g.actor)
        if svc.forwarder:
            svc.forwarder.notify()
        return _json({"replayed": replayed})

    return bp
