"""`backroom sink`: the reference cloud receiver of docs/sync-protocol.md, as a Flask app.

It checks signatures and the replay window (before decompressing anything), dedupes by
(hub_id, seq), keeps set-aside markers until the real event replaces them, answers acked_seq,
received and missing, serves the events in order to a back office, and feeds item and price
changes to hubs. `Rejects` makes it refuse chosen events, to try the hub's dead-letter path.
"""

from __future__ import annotations

import html
import json
import logging
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from hub.errors import BackroomError, UnprocessableError, ValidationError
from hub.sink_changes import MAX_PAGE, ChangeFeed, RateLimit, check_change
from hub.sink_store import SinkStore
from hub.sync_protocol import (
    HUB_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    signed_target,
    verify,
)

log = logging.getLogger(__name__)

MAX_BODY = 8 * 1024 * 1024  # as sent (maybe gzip)
MAX_DECOMPRESSED = 32 * 1024 * 1024  # a gzip bomb stops here
MAX_EVENTS_PAGE = 10_000
_ENVELOPE_KEYS = (("seq", int), ("id", str), ("type", str), ("occurred_at", str), ("v", int))


@dataclass
class Rejects:
    """Events the sink refuses with 422, as a receiver would refuse an event it cannot take."""

    types: set[str] = field(default_factory=set)
    seqs: set[int] = field(default_factory=set)
    hook: Callable[[dict[str, Any]], str | None] | None = None

    def active(self) -> bool:
        return bool(self.types or self.seqs or self.hook)

    def reason(self, event: dict[str, Any]) -> str | None:
        if event["type"] in self.types:
            return f"this receiver refuses events of type {event['type']} (sink --reject-type)"
        if event["seq"] in self.seqs:
            return f"this receiver refuses seq {event['seq']} (sink --reject-seq)"
        return self.hook(event) if self.hook else None


class Unauthenticated(BackroomError):
    code = "bad_signature"
    status = 401


class TooLarge(BackroomError):
    code = "too_large"
    status = 413


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = body if isinstance(body, str) else json.dumps(body)
    return Response(text, status=status, mimetype="application/json", headers=headers)


def _gunzip(body: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, MAX_DECOMPRESSED)
    except zlib.error as exc:
        raise ValidationError(f"body is not valid gzip: {exc}") from None
    if inflater.unconsumed_tail:
        raise TooLarge(f"the decompressed batch is over {MAX_DECOMPRESSED} bytes; send smaller batches")
    return out


def check_batch(batch: Any, hub_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The batch's events and set-aside markers, or ValidationError naming the first fault."""
    if not isinstance(batch, dict) or not isinstance(batch.get("events", []), list):
        raise ValidationError("body must be a JSON object with an 'events' list", field="events")
    if batch.get("hub_id") != hub_id:
        raise ValidationError(f"body hub_id {batch.get('hub_id')!r} does not match the {HUB_HEADER} header "
                              f"{hub_id!r}", field="hub_id")
    events, markers = batch.get("events", []), batch.get("set_aside") or []
    if not isinstance(markers, list):
        raise ValidationError("set_aside must be a list of markers", field="set_aside")
    for i, e in enumerate(events):
        if not isinstance(e, dict):
            raise ValidationError(f"events[{i}] is not an object", field=f"events[{i}]")
        for key, typ in _ENVELOPE_KEYS:
            value = e.get(key)
            if not isinstance(value, typ) or isinstance(value, bool):
                raise ValidationError(f"events[{i}].{key} is missing or not a {typ.__name__}",
                                      field=f"events[{i}].{key}")
        if e["seq"] < 1 or e.get("hub_id") != hub_id or "data" not in e:
            raise ValidationError(f"events[{i}] needs seq >= 1, data, and hub_id {hub_id!r}", field=f"events[{i}]")
    for i, m in enumerate(markers):
        if not (isinstance(m, dict) and isinstance(m.get("seq"), int) and not isinstance(m["seq"], bool)
                and m["seq"] >= 1 and isinstance(m.get("reason"), str) and isinstance(m.get("id"), str)
                and m["id"] and isinstance(m.get("type", ""), str)):
            raise ValidationError(f"set_aside[{i}] needs an integer seq >= 1, the event's id and a reason",
                                  field=f"set_aside[{i}]")
    return events, markers


def create_sink_app(data_dir: Path, secret: str, *, rejects: Rejects | None = None, changes_per_minute: float = 0,
                    changes_burst: int | None = None, durable: bool = True,
                    clock: Callable[[], float] = time.time) -> Flask:
    app = Flask("backroom-sink")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    store = SinkStore(data_dir / "sink.sqlite3", durable=durable)
    feed = ChangeFeed(data_dir / "sink.sqlite3")
    burst = changes_burst if changes_burst is not None else max(1, min(5, int(changes_per_minute)))
    limit = RateLimit(changes_per_minute, burst)
    rejects = rejects or Rejects()
    app.extensions.update(sink_store=store, sink_changes=feed, sink_rejects=rejects, sink_rate_limit=limit)

    def authenticate(message: bytes) -> str:
        hub_id = request.headers.get(HUB_HEADER, "")
        if not hub_id:
            raise Unauthenticated(f"the {HUB_HEADER} header is missing; send the hub id with every request")
        problem = verify(secret, request.headers.get(TIMESTAMP_HEADER, ""), message,
                         request.headers.get(SIGNATURE_HEADER, ""), clock())
        if problem:
            raise Unauthenticated(problem)
        return hub_id

    @app.errorhandler(BackroomError)
    def refused(exc: BackroomError) -> Response:
        return _json(exc.to_dict(), exc.status)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return _json({"error": {"code": (exc.name or "error").lower().replace(" ", "_"),
                                "message": exc.description, "field": None}}, exc.code or 500)

    @app.post("/v1/events")
    def receive() -> Response:
        raw = request.get_data()
        hub_id = authenticate(raw)  # before gunzip or JSON: an unsigned body costs us nothing
        if request.headers.get("Content-Encoding", "identity").lower() == "gzip":
            raw = _gunzip(raw)
        try:
            batch = json.loads(raw)
        except ValueError as exc:
            raise ValidationError(f"body is not JSON: {exc}") from None
        events, markers = check_batch(batch, hub_id)
        if rejects.active():
            refused = [{"seq": e["seq"], "code": "refused", "message": why}
                       for e in events if (why := rejects.reason(e))]
            if refused:
                fault = UnprocessableError(f"{len(refused)} event(s) refused, first seq {refused[0]['seq']}: "
                                           f"{refused[0]['message']}", field="events")
                return _json({**fault.to_dict(), "rejected": refused}, 422)
        result = store.ingest(hub_id, events, markers)
        log.debug("batch %s from %s: %s", batch.get("batch_id"), hub_id, result)
        return _json(result.to_dict())

    @app.get("/v1/hubs")
    def hubs() -> Response:
        return _json({"hubs": store.hubs()})

    @app.get("/v1/hubs/<hub_id>/events")
    def ordered_events(hub_id: str) -> Response:
        after = request.args.get("after", "0")
        count = request.args.get("limit", "1000")
        if not (after.isdigit() and count.isdigit() and 0 < int(count) <= MAX_EVENTS_PAGE):
            raise ValidationError(f"after must be a seq (>= 0) and limit 1..{MAX_EVENTS_PAGE}", field="after")
        events, acked, last = store.ordered_json(hub_id, int(after), int(count))
        return _json(f'{{"hub_id":{json.dumps(hub_id)},"acked_seq":{acked},"next_after":{last},'
                     f'"has_more":{"true" if last < acked else "false"},"events":{events}}}')

    @app.get("/v1/hubs/<hub_id>/set-aside")
    def set_aside(hub_id: str) -> Response:
        return _json({"set_aside": store.markers(hub_id, 1000)})

    @app.get("/v1/hubs/<hub_id>/changes")
    def changes(hub_id: str) -> Response:
        target = request.path + (f"?{request.query_string.decode()}" if request.query_string else "")
        if authenticate(signed_target("GET", target)) != hub_id:
            raise Unauthenticated(f"the {HUB_HEADER} header does not name hub {hub_id}")
        wait = limit.retry_after(hub_id)
        if wait:
            return _json({"error": {"code": "rate_limited", "message": f"too many requests for hub {hub_id}; "
                                    f"retry after {math.ceil(wait)} s", "field": None}}, 429,
                         {"Retry-After": str(math.ceil(wait))})
        count = request.args.get("limit", "200")
        if not count.isdigit() or not 0 < int(count) <= MAX_PAGE:
            raise ValidationError(f"limit must be 1..{MAX_PAGE}, got {count!r}", field="limit")
        # signed like a batch, so a hub pulling over plain http (or behind a TLS-terminating proxy)
        # can tell the back office's answer from one forged on the way (sync-protocol.md section 6)
        body, ts = json.dumps(feed.page(hub_id, request.args.get("cursor", ""), int(count))).encode(), str(int(clock()))
        return Response(body, mimetype="application/json",
                        headers={TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(secret, ts, body)})

    @app.post("/v1/hubs/<hub_id>/changes")
    def add_changes(hub_id: str) -> Response:
        raw = request.get_data()
        authenticate(raw)
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ValidationError(f"body is not JSON: {exc}") from None
        items = body.get("changes") if isinstance(body, dict) and "changes" in body else [body]
        if not isinstance(items, list):
            raise ValidationError("changes must be a list of change objects", field="changes")
        checked = [check_change(c, f"changes[{i}]") for i, c in enumerate(items)]
        return _json({"added": feed.add(hub_id, checked), "ids": [c["id"] for c in checked]}, 201)

    @app.get("/")
    def index() -> str:
        return render_index(store.hubs(), {h["hub_id"]: store.markers(h["hub_id"], 20) for h in store.hubs()})

    return app


def close_sink(app: Flask) -> None:
    """Close the sink's database connections (after its server has stopped)."""
    app.extensions["sink_store"].close()
    app.extensions["sink_changes"].close()


def _ranges(ranges: list[tuple[int, int]]) -> str:
    return ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in ranges[:20]) + (" …" if len(ranges) > 20 else "")


def render_index(hubs: list[dict[str, Any]], markers: dict[str, list[dict[str, Any]]]) -> str:
    """The sink's page: one row per hub; everything a hub sent is escaped."""
    e = html.escape
    rows = []
    for h in hubs:
        marks = "<br>".join(f"{m['seq']} {e(m['type'])}: {e(m['reason'])} {e(m['detail'])}"
                            for m in markers.get(h["hub_id"], []))
        rows.append(f"<tr><td>{e(h['hub_id'])}</td><td>{h['events']}</td><td>{h['acked_seq']}</td>"
                    f"<td>{e(_ranges(h['missing'])) or 'none'}</td><td>{h['set_aside']}<br>{marks}</td>"
                    f"<td>{e(h['last_received_at'] or '')}</td></tr>")
    empty = "<tr><td colspan=6>no hub has sent anything yet</td></tr>"
    return ("<!doctype html><meta charset=utf-8><title>Backroom sink</title>"
            "<h1>Backroom reference sink</h1><table border=1 cellpadding=4>"
            "<tr><th>hub</th><th>events</th><th>in order up to seq</th><th>gaps</th><th>set aside</th>"
            f"<th>last received</th></tr>{''.join(rows) or empty}</table>")
