"""`backroom sink`: the reference cloud receiver. Checks signatures, dedupes by (hub_id, seq)."""

from __future__ import annotations

import html
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, request

from hub.sync_protocol import HUB_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

log = logging.getLogger(__name__)

MAX_BODY = 8 * 1024 * 1024

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    hub_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,
    occurred_at TEXT NOT NULL, v INTEGER NOT NULL, data TEXT NOT NULL, received_at TEXT NOT NULL,
    PRIMARY KEY (hub_id, seq)
);
CREATE TABLE IF NOT EXISTS hubs (hub_id TEXT PRIMARY KEY, contiguous_seq INTEGER NOT NULL DEFAULT 0);
"""


def _error(status: int, code: str, message: str) -> Response:
    return Response(json.dumps({"error": {"code": code, "message": message, "field": None}}),
                    status=status, mimetype="application/json")


class SeqClash(Exception):
    """A (hub_id, seq) already holds another event: a restored backup or a reused hub id."""

    def __init__(self, seq: int, held: str, sent: str) -> None:
        super().__init__(
            f"seq {seq} already holds event {held}, not {sent}: this hub id was reused or its data "
            "restored from an old backup; give the hub a new id or contact support"
        )


class SinkStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.executescript(SCHEMA)
        self.lock = threading.Lock()

    def ingest(self, hub_id: str, events: list[dict[str, Any]]) -> dict[str, int]:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for e in events:  # the same seq must be the same event, or something is badly wrong
                    held = self.conn.execute("SELECT id FROM events WHERE hub_id = ? AND seq = ?",
                                             (hub_id, e["seq"])).fetchone()
                    if held and held[0] != e["id"]:
                        raise SeqClash(e["seq"], held[0], e["id"])
                before = self.conn.total_changes
                self.conn.executemany(
                    "INSERT OR IGNORE INTO events (hub_id, seq, id, type, occurred_at, v, data, received_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(hub_id, e["seq"], e["id"], e["type"], e["occurred_at"], e["v"], json.dumps(e["data"]), now)
                     for e in events],
                )
                inserted = self.conn.total_changes - before
                self.conn.execute("INSERT OR IGNORE INTO hubs (hub_id) VALUES (?)", (hub_id,))
                seq = self.conn.execute("SELECT contiguous_seq FROM hubs WHERE hub_id = ?", (hub_id,)).fetchone()[0]
                while self.conn.execute("SELECT 1 FROM events WHERE hub_id = ? AND seq = ?", (hub_id, seq + 1)).fetchone():
                    seq += 1
                self.conn.execute("UPDATE hubs SET contiguous_seq = ? WHERE hub_id = ?", (seq, hub_id))
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        return {"accepted": inserted, "duplicates": len(events) - inserted, "acked_seq": seq}

    def hubs(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT h.hub_id, h.contiguous_seq, count(e.seq), max(e.received_at) FROM hubs h "
                "LEFT JOIN events e ON e.hub_id = h.hub_id GROUP BY h.hub_id ORDER BY h.hub_id"
            ).fetchall()
        return [{"hub_id": r[0], "acked_seq": r[1], "events": r[2], "last_received_at": r[3]} for r in rows]

    def events(self, hub_id: str) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT seq, id, type, occurred_at, v, data FROM events WHERE hub_id = ? ORDER BY seq", (hub_id,)
            ).fetchall()
        return [{"seq": r[0], "id": r[1], "type": r[2], "occurred_at": r[3], "v": r[4], "data": json.loads(r[5])}
                for r in rows]


def _check_batch(body: Any, hub_id: str) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        return "body must be a JSON object with an 'events' list"
    if body.get("hub_id") != hub_id:
        return f"body hub_id {body.get('hub_id')!r} does not match the {HUB_HEADER} header {hub_id!r}"
    for i, e in enumerate(body["events"]):
        if not isinstance(e, dict):
            return f"events[{i}] is not an object"
        for key, typ in (("seq", int), ("id", str), ("type", str), ("occurred_at", str), ("v", int)):
            if not isinstance(e.get(key), typ) or isinstance(e.get(key), bool):
                return f"events[{i}].{key} is missing or not a {typ.__name__}"
        if e.get("hub_id") != hub_id:
            return f"events[{i}].hub_id does not match the batch"
    return None


def create_sink_app(data_dir: Path, secret: str) -> Flask:
    app = Flask("backroom-sink")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    store = SinkStore(data_dir / "sink.sqlite3")
    app.extensions["sink_store"] = store

    @app.post("/v1/events")
    def receive() -> Response:
        body = request.get_data()
        hub_id = request.headers.get(HUB_HEADER, "")
        problem = verify(secret, request.headers.get(TIMESTAMP_HEADER, ""), body,
                         request.headers.get(SIGNATURE_HEADER, ""), time.time())
        if problem:
            return _error(401, "bad_signature", problem)
        try:
            batch = json.loads(body)
        except ValueError as exc:
            return _error(400, "invalid", f"body is not JSON: {exc}")
        problem = _check_batch(batch, hub_id)
        if problem:
            return _error(400, "invalid", problem)
        try:
            result = store.ingest(hub_id, batch["events"])
        except SeqClash as exc:
            return _error(409, "seq_clash", str(exc))
        log.info("batch %s from %s: %s", batch.get("batch_id"), hub_id, result)
        return Response(json.dumps(result), mimetype="application/json")

    @app.get("/v1/hubs")
    def hubs() -> Response:
        return Response(json.dumps({"hubs": store.hubs()}), mimetype="application/json")

    @app.get("/v1/hubs/<hub_id>/events")
    def hub_events(hub_id: str) -> Response:
        return Response(json.dumps({"events": store.events(hub_id)}), mimetype="application/json")

    @app.get("/")
    def index() -> str:
        rows = "".join(
            f"<tr><td>{html.escape(h['hub_id'])}</td><td>{h['events']}</td><td>{h['acked_seq']}</td>"
            f"<td>{html.escape(h['last_received_at'] or '')}</td></tr>"
            for h in store.hubs()
        )
        return ("<!doctype html><meta charset=utf-8><title>Backroom sink</title>"
                "<h1>Backroom reference sink</h1><table border=1 cellpadding=4>"
                "<tr><th>hub</th><th>events</th><th>in order up to seq</th><th>last received</th></tr>"
                f"{rows or '<tr><td colspan=4>no hub has sent anything yet</td></tr>'}</table>")

    return app
