"""The hub's Flask app: REST API v1, Server-Sent Events, and the pages from web/."""

from __future__ import annotations

import json
import logging
import queue
import secrets
from collections.abc import Iterator
from datetime import timedelta
from importlib import resources
from urllib.parse import quote

from flask import Flask, Response, g, redirect, request, session
from werkzeug.exceptions import HTTPException

from hub.cart_api import cart_blueprint
from hub.counts_api import counts_blueprint
from hub.devices_api import devices_blueprint
from hub.discovery_api import discovery_blueprint
from hub.errors import BackroomError, NotFound, ValidationError
from hub.http import _body, _json, is_pin_session, requires, sign_in_check
from hub.inbound_api import inbound_blueprint
from hub.items_api import items_blueprint
from hub.live import CLOSE, HEARTBEAT_S, sse_stream
from hub.offline_review_api import offline_review_blueprint
from hub.openapi import OPENAPI
from hub.pairing import COOKIE as TABLET_COOKIE
from hub.print_api import print_blueprint
from hub.registers_api import registers_blueprint
from hub.returns_api import returns_blueprint
from hub.service import HubService
from hub.snapshot_api import snapshot_blueprint
from hub.stock_api import stock_blueprint
from hub.sync_api import sync_blueprint
from hub.tenders_api import init_app as card_guard
from hub.tenders_api import stored_value_blueprint
from hub.weighing_api import weighing_blueprint

log = logging.getLogger(__name__)

STATUS_PUSH_S = 2.0
PAGES = {"status": "status.html", "register": "register.html", "login": "login.html", "items": "items.html",
         "stock": "stock.html", "count": "count.html", "pair": "pair.html"}
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
                ".json": "application/json", ".webmanifest": "application/manifest+json", ".png": "image/png"}


def _web_file(name: str) -> bytes:
    path = resources.files("backroom_web").joinpath(name)
    if "/" in name or name.startswith(".") or not path.is_file():
        raise NotFound(f"no such file {name}")
    return path.read_bytes()


def create_app(svc: HubService) -> Flask:
    app = Flask("backroom", static_folder=None)
    app.config.update(
        SECRET_KEY=svc.secret_key, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="backroom_session", PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )

    @app.before_request
    def bind() -> None:
        g.svc = svc

    @app.errorhandler(BackroomError)
    def backroom_error(exc: BackroomError) -> Response:
        return _json(exc.to_dict(), exc.status)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        return _json({"error": {"code": code, "message": exc.description, "field": None}}, exc.code or 500)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _json({"error": {"code": "internal", "message": "the hub hit an unexpected error; it is in the hub's log",
                                "field": None}}, 500)

    app.register_blueprint(items_blueprint(svc))
    app.register_blueprint(stock_blueprint(svc))
    app.register_blueprint(counts_blueprint(svc))
    app.register_blueprint(returns_blueprint(svc))
    app.register_blueprint(discovery_blueprint(svc))
    app.register_blueprint(weighing_blueprint(svc))
    app.register_blueprint(print_blueprint(svc))
    app.register_blueprint(devices_blueprint(svc))
    app.register_blueprint(registers_blueprint(svc))
    app.register_blueprint(cart_blueprint(svc))
    app.register_blueprint(snapshot_blueprint(svc))
    app.register_blueprint(sync_blueprint(svc))
    app.register_blueprint(inbound_blueprint(svc))
    app.register_blueprint(stored_value_blueprint(svc.stored_value))
    app.register_blueprint(offline_review_blueprint(svc))
    card_guard(app)  # after bind(): a JSON body with a card number in it is refused before any view

    @app.get("/healthz")
    def healthz() -> Response:
        return _json({"ok": True, "hub": svc.hub_id, "mqtt": svc.registry.connected})

    # -- people --------------------------------------------------------------------------------
    @app.get("/login")
    def login_page() -> Response:
        if TABLET_COOKIE in request.cookies and request.args.get("next", "").startswith("/register"):
            return redirect("/register")  # type: ignore[return-value]  # a tablet signs in by PIN, or pairs again
        return Response(_web_file(PAGES["login"]), mimetype="text/html")

    @app.post("/login")
    def login() -> Response:
        data = request.get_json(silent=True) if request.is_json else request.form
        if not isinstance(data, dict) and not hasattr(data, "get"):
            raise ValidationError("send username and password")
        username, password = str(data.get("username", "")), str(data.get("password", ""))
        role = svc.auth.login(username, password)
        session.clear()
        sid = svc.auth.start_session(username, app.permanent_session_lifetime)  # /logout can end it everywhere
        session.update(user=username, csrf=secrets.token_urlsafe(24), sid=sid)
        session.permanent = True
        return _json({"user": username, "role": role})

    @app.post("/logout")
    def logout() -> Response:
        if isinstance(session.get("sid"), str):
            svc.auth.end_session(session["sid"])  # every copy of this cookie, and its open streams, end too
        session.clear()
        return _json({"ok": True})

    @app.get("/api/v1/session")
    @requires("cashier", "device", "integration")
    def whoami() -> Response:
        store = svc.config["store"]
        return _json({"user": session.get("user"), "role": g.role, "csrf_token": session.get("csrf"),
                      "store": {"name": store["name"], "currency": store["currency"],
                                "prices_include_tax": store["prices_include_tax"],
                                # how scale labels read: the register keeps them to read labels offline
                                **{k: store[k] for k in ("rcn_region", "rcn_pattern", "rcn_check_price_digit")}}})

    # -- pages ---------------------------------------------------------------------------------
    def page(name: str) -> Response:
        if name == "register" and TABLET_COOKIE in request.cookies and "user" not in session:
            return Response(_web_file(PAGES[name]), mimetype="text/html")  # a paired tablet: PIN sign-in there
        if ("user" not in session or svc.auth.current_role(session["user"]) is None
                or not (is_pin_session() or svc.auth.session_live(session.get("sid"), session["user"]))
                or (name != "register" and is_pin_session())):  # back office needs the password
            wanted = request.full_path.rstrip("?")  # keep ?view=... through the sign-in
            return redirect(f"/login?next={quote(wanted, safe='/')}")  # type: ignore[return-value]
        return Response(_web_file(PAGES[name]), mimetype="text/html")

    app.add_url_rule("/", "index", lambda: redirect("/status"))
    app.add_url_rule("/status", "status_page", lambda: page("status"))
    app.add_url_rule("/register/<register_id>", "register_page", lambda register_id: page("register"))
    app.add_url_rule("/items", "items_page", lambda: page("items"))
    app.add_url_rule("/items/<sku>", "item_page", lambda sku: page("items"))
    app.add_url_rule("/stock", "stock_page", lambda: page("stock"))
    app.add_url_rule("/stock/<sku>", "stock_item_page", lambda sku: page("stock"))
    app.add_url_rule("/count/<int:session_id>", "count_page", lambda session_id: page("count"))

    @app.get("/static/<name>")
    def static_file(name: str) -> Response:
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        return Response(_web_file(name), mimetype=STATIC_TYPES.get(suffix, "application/octet-stream"))

    # -- API -----------------------------------------------------------------------------------
    @app.get("/api/v1/openapi.json")
    @requires("cashier", "device", "integration")
    def openapi() -> Response:
        return _json(OPENAPI)

    @app.get("/api/v1/status")
    @requires("manager", "integration")
    def status() -> Response:
        return _json(svc.status())

    @app.get("/api/v1/status/stream")
    @requires("manager")
    def status_stream() -> Response:
        sub = svc.channels.subscribe("status")
        still_signed_in = sign_in_check()

        def body() -> Iterator[bytes]:
            max_age = STATUS_PUSH_S / 2
            try:
                while still_signed_in():  # a disabled person or a revoked token stops seeing it
                    yield f"event: status\ndata: {json.dumps(svc.status_snapshot(max_age))}\n\n".encode()
                    try:  # a device change is pushed at once and fresh; otherwise every STATUS_PUSH_S
                        item = sub.queue.get(timeout=STATUS_PUSH_S)
                        if item == CLOSE:
                            return
                        if item[0] == "device_job":  # a test action's result, passed on as it is
                            yield f"event: device_job\ndata: {item[1]}\n\n".encode()
                        max_age = 0.0
                    except queue.Empty:
                        max_age = STATUS_PUSH_S / 2
            finally:
                sub.close()

        return Response(body(), mimetype="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/api/v1/lookup")
    @requires("cashier", "integration")
    def lookup() -> Response:
        code = request.args.get("code", "")
        if not code:
            raise ValidationError("give the scanned text as ?code=", field="code")
        return _json(svc.store.lookup(code))

    @app.get("/api/v1/stock/<sku>")
    @requires("cashier", "integration")
    def stock(sku: str) -> Response:
        levels = svc.store.stock(sku)
        if g.role in ("cashier", "device"):  # a blind count stays blind: no peeking at the till
            blind = {r[0] for r in svc.db.conn.execute(
                "SELECT location FROM count_sessions WHERE blind = 1 AND status IN ('open', 'review')")}
            for level in levels:
                if level["location"] in blind:
                    level.update(on_hand=None, available=None, hidden="a blind count is running here")
        return _json({"sku": sku, "locations": levels})

    @app.post("/api/v1/sales")
    @requires("cashier", "integration")
    def create_sale() -> Response:
        body = _body()
        if g.get("register"):  # a paired tablet's cashier: at that register, in an open shift
            svc.shifts.check_tablet_sale(body, g.register)
        response, created = svc.complete_sale(body, g.actor, g.role, tablet=bool(g.get("tablet")))
        resp = _json(response, 201 if created else 200)
        if not created:
            resp.headers["Idempotent-Replayed"] = "true"
        return resp

    @app.post("/api/v1/sales/quote")
    @requires("cashier", "integration")
    def quote_sale() -> Response:
        return _json(svc.quote(_body(), g.role))

    @app.get("/api/v1/registers/<register_id>/events")
    @requires("cashier")
    def register_events(register_id: str) -> Response:
        if not svc.store.register_exists(register_id):
            raise NotFound(f"register {register_id!r} does not exist", field="register_id")
        sub = svc.channels.subscribe(f"register:{register_id}")
        for weight in svc.registry.weights_for(register_id):  # the scale only speaks on change
            sub.put(("weight", json.dumps(weight)))
        cloud = svc.cloud_state()  # the cloud link changes rarely: the page needs the current one
        if cloud:
            sub.put(("cloud", json.dumps(cloud)))
        return Response(sse_stream(sub, HEARTBEAT_S, sign_in_check()), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/api/v1/devices")
    @requires("manager", "integration")
    def devices() -> Response:
        return _json({"devices": svc.registry.devices()})

    @app.post("/api/v1/devices/<device_id>/simulate-scan")
    @requires("manager")
    def simulate_scan(device_id: str) -> Response:
        body = _body()
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, str) or not data or len(data) > 256:
            raise ValidationError("data must be the text to scan (1-256 characters)", field="data")
        return _json({"job_id": svc.registry.simulate_scan(device_id, data)}, 202)

    return app
