"""Routes for tablets as registers: pairing (hub.pairing), PIN sign-in and people (hub.people),
manager approvals (hub.approvals) and shifts with their Z reports (hub.shifts).

A paired tablet holds its token in the backroom_tablet cookie (HTTP-only, SameSite=Strict). A
person signed in with a PIN gets the ordinary session, marked as a PIN session with its tablet:
`requires` lets it do only register work (routes open to cashiers), at most as a manager; this
module ends it the moment the tablet is unpaired and keeps it to its own register."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, Response, g, redirect, request, session

from hub.errors import Forbidden, Unauthorized, ValidationError
from hub.http import _body, _json, requires
from hub.pairing import COOKIE, COOKIE_MAX_AGE_S, pairing_urls, qr_svg
from hub.service import HubService


def registers_blueprint(svc: HubService) -> Blueprint:
    bp = Blueprint("registers", __name__)
    pairing, people, shifts = svc.pairing, svc.people, svc.shifts

    @bp.before_app_request
    def tablet_session() -> None:
        """A PIN session lives only as long as its tablet stays paired, and only at its register."""
        if "tablet" not in session:
            return
        tablet = pairing.tablet_for_token(request.cookies.get(COOKIE))
        # a signed-out session's cookie can come back on the answer to a request that was under way
        if tablet is None or tablet["id"] != session["tablet"] or tablet["session_id"] != session.get("pin_session"):
            session.clear()
            return
        g.tablet, g.register = tablet, tablet["register_id"]
        wanted = (request.view_args or {}).get("register_id")
        if wanted is not None and wanted != g.register and request.path.startswith("/api/"):
            raise Forbidden(f"this tablet is register {g.register}, not {wanted}", field="register_id",
                            code="other_register")

    def place(register_id: str) -> str:
        tablet = g.get("tablet")
        return f"tablet:{tablet['id']}" if tablet else f"register:{register_id}"

    def own_shift(shift_id: str) -> dict[str, Any]:
        shift = shifts.shift(shift_id)
        if g.get("register") and shift["register_id"] != g.register:
            raise Forbidden(f"shift {shift_id} belongs to register {shift['register_id']}", code="other_register")
        return shift

    # -- pairing ----------------------------------------------------------------------------------
    @bp.get("/pair")
    def pair_page() -> Response:
        from hub.web import PAGES, _web_file

        return Response(_web_file(PAGES["pair"]), mimetype="text/html")

    @bp.get("/register")
    def my_register() -> Response:
        tablet = pairing.tablet_for_token(request.cookies.get(COOKIE))
        return redirect(f"/register/{tablet['register_id']}" if tablet else "/pair")  # type: ignore[return-value]

    @bp.post("/api/v1/pairing/codes")
    @requires("owner")
    def new_code() -> Response:
        code = pairing.new_code(g.actor)
        zc = svc.discovery.zeroconf
        urls = pairing_urls(request.host, request.scheme, getattr(zc, "server", None), svc.discovery.http_port)
        link = f"{urls[0]}?code={code['code']}"
        return _json({**code, "url": link, "urls": urls, "qr_svg": qr_svg(link)}, 201)

    @bp.post("/api/v1/pairing/check")
    def check_code() -> Response:
        body = _body()
        code = body.get("code") if isinstance(body, dict) else None
        return _json({"registers": pairing.check_code(code, request.remote_addr or "")})

    @bp.post("/api/v1/pairing")
    def pair() -> Response:
        body = _body()
        if not isinstance(body, dict) or set(body) - {"code", "register_id", "register_name"}:
            raise ValidationError("send {code, register_id} or {code, register_name}")
        tablet, token = pairing.pair(body.get("code"), body.get("register_id"), body.get("register_name"),
                                     request.headers.get("User-Agent", ""), request.remote_addr or "")
        session.clear()  # whoever was signed in on this browser before
        resp = _json({"tablet": tablet, "register_id": tablet["register_id"],
                      "next": f"/register/{tablet['register_id']}"}, 201)
        resp.set_cookie(COOKIE, token, max_age=COOKIE_MAX_AGE_S, httponly=True, samesite="Strict",
                        secure=request.is_secure, path="/")
        return resp

    @bp.get("/api/v1/tablets")
    @requires("manager")
    def tablets() -> Response:
        return _json({"tablets": pairing.tablets()})

    @bp.post("/api/v1/tablets/<tablet_id>/unpair")
    @requires("owner")
    def unpair(tablet_id: str) -> Response:
        tablet = pairing.unpair(tablet_id, g.actor)
        svc.channels.close(f"register:{tablet['register_id']}")  # its open streams end now, not at a heartbeat
        return _json(tablet)

    # -- the tablet and who is signed in on it --------------------------------------------------------
    def this_tablet() -> dict[str, Any]:
        token = request.cookies.get(COOKIE)
        tablet = pairing.tablet_for_token(token)
        if tablet is None:
            if token:
                raise Unauthorized("this tablet is no longer a register; pair it again at /pair", code="unpaired")
            raise Unauthorized("this browser is not a paired register; pair it at /pair", code="not_paired")
        return {k: v for k, v in tablet.items() if k != "session_id"}

    @bp.get("/api/v1/tablet")
    def tablet() -> Response:
        t = this_tablet()
        person = None
        if "user" in session and session.get("tablet", t["id"]) == t["id"]:  # a PIN or a password session
            role = svc.auth.current_role(session["user"])
            person = {"user": session["user"], "role": role} if role else None
        names = [{"username": p["username"], "role": p["role"], "locked": p["locked_until"] is not None}
                 for p in people.people() if p["has_pin"]]
        return _json({"tablet": t, "person": person, "people": names,
                      "csrf_token": session.get("csrf") if person else None})

    @bp.post("/api/v1/tablet/signin")
    def signin() -> Response:
        t = this_tablet()
        body = _body()
        if not isinstance(body, dict) or not isinstance(body.get("username"), str):
            raise ValidationError("send {username, pin}", field="username")
        role = people.check(body["username"], str(body.get("pin", "")), f"tablet:{t['id']}", "signin")
        session.clear()
        session.update(user=body["username"], pin=True, tablet=t["id"], pin_session=pairing.start_session(t["id"]),
                       csrf=secrets.token_urlsafe(24))
        session.permanent = True
        return _json({"user": body["username"], "role": role, "register_id": t["register_id"],
                      "csrf_token": session["csrf"]})

    @bp.post("/api/v1/tablet/signout")
    def signout() -> Response:
        t = this_tablet()
        pairing.end_session(t["id"])
        svc.channels.close(f"register:{t['register_id']}")
        session.clear()
        return _json({"ok": True})

    # -- people --------------------------------------------------------------------------------------
    @bp.get("/api/v1/people")
    @requires("manager")
    def list_people() -> Response:
        return _json({"people": people.people()})

    @bp.post("/api/v1/people")
    @requires("owner")
    def add_person() -> Response:
        body = _body()
        if not isinstance(body, dict):
            raise ValidationError("send {username, role, pin}")
        people.add_person(body.get("username"), body.get("role"), body.get("pin"), g.actor)  # type: ignore[arg-type]
        return _json({"people": people.people()}, 201)

    @bp.post("/api/v1/people/<username>/pin")
    @requires("owner")
    def set_pin(username: str) -> Response:
        body = _body()
        people.set_pin(username, body.get("pin") if isinstance(body, dict) else None, g.actor)  # type: ignore[arg-type]
        return _json({"people": people.people()})

    @bp.post("/api/v1/people/<username>/unlock")
    @requires("manager")
    def unlock(username: str) -> Response:
        people.unlock(username, g.actor)
        return _json({"people": people.people()})

    @bp.get("/api/v1/pin-attempts")
    @requires("manager")
    def pin_attempts() -> Response:
        refused = [{"place": place, "reason": reason, "count": n} for (place, reason), n in people.refused.items()]
        return _json({"attempts": people.attempts(), "refused": refused})

    # -- manager approval -------------------------------------------------------------------------------
    @bp.post("/api/v1/registers/<register_id>/approvals")
    @requires("cashier")
    def approve(register_id: str) -> Response:
        if not svc.store.register_exists(register_id):
            raise ValidationError(f"register {register_id!r} does not exist", field="register_id")
        return _json(svc.approvals.grant(register_id, _body(), g.actor, place(register_id)), 201)

    # -- shifts ----------------------------------------------------------------------------------------
    @bp.post("/api/v1/registers/<register_id>/shifts")
    @requires("cashier")
    def open_shift(register_id: str) -> Response:
        return _json(shifts.open(register_id, _body(), g.actor), 201)

    @bp.post("/api/v1/registers/<register_id>/cash-movements")
    @requires("cashier")
    def move_cash(register_id: str) -> Response:
        moved, created = svc.cash_drawer.move(register_id, _body(), g.actor, g.role)
        return _json(moved, 201 if created else 200)

    @bp.get("/api/v1/registers/<register_id>/shifts")
    @requires("cashier", "integration")
    def shift_history(register_id: str) -> Response:
        limit = request.args.get("limit", "10")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            raise ValidationError(f"limit must be a whole number from 1 to 100 (got {limit!r})", field="limit")
        return _json({"reports": shifts.history(register_id, int(limit))})

    @bp.get("/api/v1/registers/<register_id>/shift")
    @requires("cashier", "integration")
    def current_shift(register_id: str) -> Response:
        shift = shifts.current(register_id)
        return _json({"shift": shift, "report": shifts.report(shift["id"]) if shift else None})

    @bp.post("/api/v1/shifts/<shift_id>/close")
    @requires("cashier")
    def close_shift(shift_id: str) -> Response:
        own_shift(shift_id)
        return _json(shifts.close(shift_id, _body(), g.actor))

    @bp.get("/api/v1/shifts/<shift_id>/report")
    @requires("cashier", "integration")
    def shift_report(shift_id: str) -> Response:
        own_shift(shift_id)
        return _json(shifts.report(shift_id))

    @bp.post("/api/v1/shifts/<shift_id>/print")
    @requires("cashier")
    def print_report(shift_id: str) -> Response:
        own_shift(shift_id)
        return _json(shifts.print_report(shift_id, g.actor), 202)

    return bp
