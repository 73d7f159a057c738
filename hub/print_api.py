"""REST routes for print jobs: reprint a sale's receipt, follow and cancel jobs (hub.print_queue)."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from hub.errors import NotFound, ValidationError
from hub.http import _body, _json, requires
from hub.service import HubService


def print_blueprint(svc: HubService) -> Blueprint:
    bp = Blueprint("print_jobs", __name__, url_prefix="/api/v1")
    queue = svc.print_queue

    @bp.post("/sales/<sale_id>/receipt")
    @requires("cashier")
    def reprint(sale_id: str) -> Response:
        body = _body() if request.get_data() else {}
        if not isinstance(body, dict) or set(body) - {"device_id"}:
            raise ValidationError(
                "send {} or {device_id}: the printer to print the copy on", field="device_id"
            )
        device_id = body.get("device_id")
        if device_id is not None and (not isinstance(device_id, str) or not device_id):
            raise ValidationError("device_id must be a printer's device id", field="device_id")
        return _json(queue.reprint(sale_id, device_id, g.actor), 202)

    @bp.get("/print-jobs")
    @requires("manager", "integration")
    def jobs() -> Response:
        limit = request.args.get("limit", "50")
        if not limit.isdigit():
            raise ValidationError("limit must be a whole number (at most 500)", field="limit")
        return _json(
            {
                "jobs": queue.jobs(
                    request.args.get("device_id"), request.args.get("status"), int(limit)
                )
            }
        )

    @bp.get("/print-jobs/<job_id>")
    @requires("cashier", "integration")
    def job(job_id: str) -> Response:
        found = queue.job(job_id)
        if found is None:
            raise NotFound(f"no print job {job_id!r}", field="job_id")
        return _json(found)

    @bp.post("/print-jobs/<job_id>/cancel")
    @requires("manager")
    def cancel(job_id: str) -> Response:
        return _json(queue.cancel(job_id, g.actor))

    return bp
