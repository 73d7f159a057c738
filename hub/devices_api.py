"""REST routes for managing devices from the status page: rename, bind, set an input device's
role, forget, and test actions whose results follow on the status stream (hub.device_admin)."""

from __future__ import annotations

from flask import Blueprint, Response, g

from hub.errors import NotFound
from hub.http import _body, _json, requires
from hub.service import HubService


def devices_blueprint(svc: HubService) -> Blueprint:
    bp = Blueprint("devices", __name__, url_prefix="/api/v1/devices")
    admin = svc.registry.admin

    @bp.patch("/<device_id>")
    @requires("manager")
    def update(device_id: str) -> Response:
        return _json(admin.update(device_id, _body(), g.actor))

    @bp.delete("/<device_id>")
    @requires("owner")
    def forget(device_id: str) -> Response:
        admin.forget(device_id, g.actor)
        return _json({"device_id": device_id, "forgotten": True,
                      "note": "a device that is still connected announces itself again when the hub restarts"})

    @bp.post("/<device_id>/test")
    @requires("manager")
    def test(device_id: str) -> Response:
        return _json(admin.test(device_id, _body(), g.actor), 202)

    @bp.get("/<device_id>/jobs/<job_id>")
    @requires("manager")
    def job(device_id: str, job_id: str) -> Response:
        found = admin.job(job_id)
        if found is None or found["device_id"] != device_id:
            raise NotFound(f"no recent test job {job_id!r} on {device_id!r}; the hub keeps the last few hundred",
                           field="job_id")
        return _json(found)

    return bp
