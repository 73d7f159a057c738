"""What every API route shares: the JSON answer, the JSON body, and the role check."""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Callable
from typing import Any

from flask import Response, g, request, session

from hub.auth import allows
from hub.errors import Forbidden, Unauthorized, ValidationError
from hub.pairing import COOKIE
from hub.service import HubService


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status=status, mimetype="application/json")


def requires(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A bearer token or a signed-in session with one of roles (or a higher person's role)."""
    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            svc: HubService = g.svc
            header = request.headers.get("Authorization", "")
            if header:
                scheme, _, token = header.partition(" ")
                if scheme.lower() != "bearer" or not token:
                    raise Unauthorized("Authorization must be 'Bearer <token>'")
                role, token_id = svc.auth.token_role(token.strip())
                g.actor = f"token:{token_id[:8]}"
            elif "user" in session:
                # the role is read again on each request: a disabled or demoted person loses it at once
                current = svc.auth.current_role(session["user"])
                signed_out = not is_pin_session() and not svc.auth.session_live(session.get("sid"), session["user"])
                if current is None or signed_out:  # disabled, or this sign-in was signed out (anywhere)
                    session.clear()
                    raise Unauthorized("your sign-in is no longer valid; sign in again")
                role = current
                g.actor = f"user:{session['user']}"
                if request.method not in ("GET", "HEAD", "OPTIONS"):
                    sent = request.headers.get("X-CSRF-Token", "")
                    if not hmac.compare_digest(sent, session.get("csrf", "")):
                        raise Forbidden("missing or wrong X-CSRF-Token header; reload the page", code="csrf")
            else:
                raise Unauthorized("sign in, or send 'Authorization: Bearer <token>'")
            if not header and is_pin_session():
                # four to eight digits are for register work: the till's own routes, at most as a manager
                if not allows("cashier", roles):
                    raise Forbidden("you signed in with a PIN, which is for register work; sign in with your "
                                    "password for this", code="password_required")
                role = "manager" if role == "owner" else role
            if not allows(role, roles):
                raise Forbidden(f"role {role} may not do this; it needs {' or '.join(roles)}")
            g.role = role
            return view(*args, **kwargs)

        return inner

    return wrap


def is_pin_session() -> bool:
    """Whether the signed-in person came in by a PIN on a tablet (not by their password)."""
    return bool(session.get("pin") or session.get("tablet"))


def sign_in_check() -> Callable[[], bool]:
    """A check, usable after the request has ended (by an open stream), that the caller's sign-in
    still holds: the token is not revoked; the person is not disabled; a PIN session's tablet is
    still paired and nobody signed out on it."""
    svc: HubService = g.svc
    header = request.headers.get("Authorization", "")
    if header:
        token = header.partition(" ")[2].strip()

        def token_live() -> bool:
            try:
                svc.auth.token_role(token)
            except Unauthorized:
                return False
            return True

        return token_live
    user, tablet_id, pin_session = session.get("user"), session.get("tablet"), session.get("pin_session")
    tablet_token, sid = request.cookies.get(COOKIE), session.get("sid")

    def session_live() -> bool:
        if user is None or svc.auth.current_role(user) is None:
            return False
        if tablet_id is None:
            return svc.auth.session_live(sid, user)  # a password sign-in: until /logout or a new password
        tablet = svc.pairing.tablet_for_token(tablet_token)
        return tablet is not None and tablet["id"] == tablet_id and tablet["session_id"] == pin_session

    return session_live


def _body() -> Any:
    if not request.is_json:
        raise ValidationError("send a JSON body with Content-Type: application/json")
    try:
        return json.loads(request.get_data())
    except ValueError as exc:
        raise ValidationError(f"the body is not valid JSON: {exc}") from None
