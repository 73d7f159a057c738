"""REST routes for the hub on the network: found printers, the port-9100 scan, the network
printers the owner adds, and per-device MQTT credentials. Owner only: each one changes what may
print or talk on the shop's bus."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from hub.http import _body, _json, requires
from hub.service import HubService


def discovery_blueprint(svc: HubService) -> Blueprint:
    bp = Blueprint("discovery", __name__, url_prefix="/api/v1")
    disc = svc.discovery

    @bp.get("/discovery/printers")
    @requires("owner")
    def found() -> Response:
        return _json(disc.found())

    @bp.post("/discovery/scan")
    @requires("owner")
    def start_scan() -> Response:
        body = _body() if request.get_data() else {}
        return _json(disc.start_scan(body, g.actor), 202)

    @bp.get("/discovery/scan")
    @requires("owner")
    def scan_progress() -> Response:
        return _json(disc.scan.progress())

    @bp.delete("/discovery/scan")
    @requires("owner")
    def cancel_scan() -> Response:
        disc.scan.cancel()
        return _json(disc.scan.progress())

    @bp.get("/printers")
    @requires("owner")
    def printers() -> Response:
        return _json({"printers": disc.printers.listing()})

    @bp.post("/printers")
    @requires("owner")
    def add_printer() -> Response:
        return _json(disc.printers.add(_body(), g.actor), 201)

    @bp.delete("/printers/<printer_id>")
    @requires("owner")
    def remove_printer(printer_id: str) -> Response:
        disc.printers.remove(printer_id, g.actor)
        return _json({"id": int(printer_id), "removed": True})

    @bp.get("/devices/credentials")
    @requires("owner")
    def credentials() -> Response:
        return _json({"credentials": disc.credentials.listing()})

    @bp.post("/devices/credentials")
    @requires("owner")
    def issue() -> Response:
        body = _body()
        resp = _json(disc.credentials.issue(body.get("device_id") if isinstance(body, dict) else None, g.actor), 201)
        resp.headers["Cache-Control"] = "no-store"  # the password is shown this once
        return resp

    @bp.delete("/devices/credentials/<device_id>")
    @requires("owner")
    def revoke(device_id: str) -> Response:
        return _json(disc.credentials.revoke(device_id, g.actor))

    return bp
