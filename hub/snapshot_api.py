"""Routes that keep a register selling without the hub: its catalog snapshot and deltas
(hub.catalog_snapshot), and the service worker that caches the register's app shell."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

from flask import Blueprint, Response, request

from hub import catalog_snapshot
from hub.http import _json, requires
from hub.service import HubService

# What the service worker keeps for a register to open with no hub: its page's scripts, styles
# and icons. Pages are cached as they are visited (they need a signed-in session).
SHELL_SUFFIXES = (".js", ".css", ".svg", ".png", ".json")


def shell_files() -> list[str]:
    root = resources.files("backroom_web")
    return sorted(f"/static/{p.name}" for p in root.iterdir()
                  if p.is_file() and p.name.endswith(SHELL_SUFFIXES) and p.name != "sw.js")


def service_worker() -> bytes:
    """web/sw.js with this deploy's shell list and version (a hash of the shell), so a new deploy
    changes the worker's bytes, and the browser installs it and drops the old cache."""
    root = resources.files("backroom_web")
    files = shell_files()
    digest = hashlib.sha256()
    for name in [*files, "/static/register.html"]:
        digest.update(name.encode())
        digest.update(root.joinpath(name.rsplit("/", 1)[1]).read_bytes())
    source = root.joinpath("sw.js").read_text(encoding="utf-8")
    return (source.replace('"__SHELL_VERSION__"', json.dumps(digest.hexdigest()[:16]))
            .replace('["__SHELL_FILES__"]', json.dumps(files))).encode()


def snapshot_blueprint(svc: HubService) -> Blueprint:
    bp = Blueprint("snapshot", __name__)
    worker: list[bytes] = []  # built once: the web files do not change under a running hub

    @bp.get("/sw.js")
    def sw() -> Response:
        if not worker:
            worker.append(service_worker())
        # no-cache: the browser checks for a new deploy on every register open
        return Response(worker[0], mimetype="text/javascript",
                        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})

    @bp.get("/api/v1/catalog/snapshot")
    @requires("cashier", "integration")
    def snapshot() -> Response:
        return Response(catalog_snapshot.stream_snapshot(svc.db.path, svc.config["store"]), mimetype="application/x-ndjson",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @bp.get("/api/v1/catalog/changes")
    @requires("cashier", "integration")
    def changes() -> Response:
        since = catalog_snapshot.parse_since(request.args.get("since"))
        resp = _json(catalog_snapshot.changes_since(svc.db.conn, since, svc.config["store"]))
        resp.headers["Cache-Control"] = "no-store"
        return resp

    return bp
