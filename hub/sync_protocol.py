"""The cloud sync protocol shared by the forwarder and the reference sink: signing and checking."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Backroom-Signature"
TIMESTAMP_HEADER = "X-Backroom-Timestamp"
HUB_HEADER = "X-Backroom-Hub"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAY_WINDOW_S = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", so a captured body can't be replayed later."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_target(method: str, target: str) -> bytes:
    """What a request without a body signs in place of one: b"GET /v1/hubs/shop-1/changes?cursor=&limit=200"."""
    return f"{method} {target}".encode()


def sign_get(secret: str, timestamp: str, target: str) -> str:
    """The signature of a GET of target (path and query exactly as sent), as section 6 of the spec says."""
    return sign(secret, timestamp, signed_target("GET", target))


def verify(secret: str, timestamp: str, body: bytes, signature: str, now: float) -> str | None:
    """None when the request is genuine and fresh, else what is wrong."""
    try:
        ts = int(timestamp)
    except ValueError:
        return f"{TIMESTAMP_HEADER} must be Unix seconds, got {timestamp!r}"
    if abs(now - ts) > REPLAY_WINDOW_S:
        return f"timestamp {ts} is outside the {REPLAY_WINDOW_S} s replay window; check the hub's clock"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        return "signature does not match the body; check that hub and receiver share the same secret"
    return None


def full_jitter(attempt: int, base_s: float, cap_s: float, rand: float) -> float:
    """AWS "full jitter" backoff: uniform in [0, min(cap, base * 2**attempt)); rand in [0, 1)."""
    return rand * min(cap_s, base_s * (2 ** min(attempt, 32)))
