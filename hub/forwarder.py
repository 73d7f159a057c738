"""The outbox forwarder: batches, signs and sends events to the cloud (docs/sync-protocol.md).

One thread. Each failure is classified as the protocol's answer table says: retried with full
jitter backoff (honouring Retry-After), shown as degraded, narrowed down to the refused events,
or the batch halved. After an outage, events recorded since the link came back go first.
"""

from __future__ import annotations

import email.utils
import gzip
import http.client
import json
import logging
import random
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.outbox import Batch, Outbox, parse_ranges
from hub.sync_protocol import (
    HUB_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    full_jitter,
    sign,
)

log = logging.getLogger(__name__)

IDLE_WAIT_S = 30.0
RETRY_AFTER_MAX_S = 3600.0  # a receiver may ask for a pause, not for a day's silence
GZIP_LEVEL = 1  # fast: most of the gain, little of the CPU (a Pi has little)


class SendError(Exception):
    """A batch did not get through; state is what the sync shows meanwhile."""

    def __init__(self, message: str, retry_after: float | None = None, state: str = "offline",
                 halt: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.state = state
        self.halt = halt


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    retry_after: float | None
    text: str

    @property
    def message(self) -> str:
        err = self.body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return f"{err.get('code', '')}: {err['message']}".lstrip(": ")
        return self.text or "no message"

    def rejected(self, seqs: set[int]) -> dict[int, str]:
        """The events the receiver named as at fault (inside "error" or beside it), by seq."""
        err = self.body.get("error")
        named = self.body.get("rejected") or (err.get("rejected") if isinstance(err, dict) else None)
        out: dict[int, str] = {}
        for r in named if isinstance(named, list) else []:
            if isinstance(r, dict) and type(r.get("seq")) is int and r["seq"] in seqs:
                out[r["seq"]] = f"{self.status} {r.get('code', '')} {r.get('message', '')}".strip()
        return out


def retry_after_s(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from now: delay-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class Forwarder:
    def __init__(self, outbox: Outbox, url: str, secret: str, *, batch_events: int = 500,
                 batch_bytes: int = 1_000_000, batch_age_s: float = 2.0, compress: bool = False,
                 base_s: float = 1.0, cap_s: float = 300.0, timeout_s: float = 10.0, max_kbit_s: float = 0,
                 fresh_after_s: float = 60.0, rand: random.Random | None = None,
                 wall: Callable[[], float] = time.time) -> None:
        self.outbox = outbox
        self.url = url
        self.secret = secret
        self.batch_events, self.batch_bytes = batch_events, batch_bytes
        self.batch_age_s = batch_age_s
        self.compress = compress
        self.base_s, self.cap_s, self.timeout_s = base_s, cap_s, timeout_s
        self.fresh_after_s = fresh_after_s
        self.rand = rand or random.Random()
        self.wall = wall
        self.attempt = 0
        self.next_try_at: float | None = None
        self.last_wait: float | None = None  # the last backoff computed
        self.fresh_from: int | None = None  # seqs from here are the fresh lane
        self.sent_high = 0  # the highest seq sent by this process: no ack is believed beyond it
        self._fresh_ok = True
        self._waiting_since: float | None = None
        self._state: tuple[str, str | None] | None = None
        self._rate = max_kbit_s * 125.0  # bytes per second; 0 = no cap
        self._tokens, self._tokens_at, self._paced_until = 0.0, time.monotonic(), 0.0
        parts = urllib.parse.urlsplit(url)
        self._https = parts.scheme == "https"
        self._netloc = parts.netloc
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._conn: http.client.HTTPConnection | None = None
        # instead of the HTTP POST: (headers, body) -> Answer, e.g. hub.bridge.BridgeTransport
        self.transport: Callable[[dict[str, str], bytes], Answer] | None = None
        # called with (state, reason) when the sync state changes (the registers' cloud banner)
        self.on_state: Callable[[str, str | None], None] | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="forwarder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=self.timeout_s + 5)
        self._drop_connection()

    def close(self) -> None:
        """Close the kept-alive connection (stop() does it; for callers that only step())."""
        self._drop_connection()

    def notify(self) -> None:
        """Called after a commit that appended events: send soon, unless backing off."""
        self._wake.set()

    def _run(self) -> None:
        # An acknowledgement lost in a power cut only means a resend, which the receiver dedupes:
        # this thread's commits need not wait for fsync (sales keep synchronous = FULL).
        self.outbox.db.conn.execute("PRAGMA synchronous = NORMAL")
        while not self._stop.is_set():
            try:
                delay = self.step()
            except Exception as exc:  # noqa: BLE001 - the thread must outlive any one failure
                log.exception("cloud sync step failed; backing off")
                delay = self._back_off(SendError(f"internal error: {exc}"))
            self._wake.wait(delay)
            self._wake.clear()
            # A wake during backoff or pacing doesn't skip the wait: the receiver asked us to slow down.
            while not self._stop.is_set() and time.monotonic() < max(self.next_try_at or 0, self._paced_until):
                self._wake.wait(max(self.next_try_at or 0, self._paced_until) - time.monotonic())
                self._wake.clear()
        self._drop_connection()

    def status(self) -> dict[str, Any]:
        wait = max(self.next_try_at or 0, 0) - time.monotonic()
        return {"next_try_in_s": round(wait, 1) if self.next_try_at and wait > 0 else None,
                "batch_events": self.batch_events, "fresh_lane_from": self.fresh_from}

    # -- one step: send until there is nothing to send, or something asks us to wait --------------
    def step(self) -> float:
        """Send what is pending; return how long to wait before the next step."""
        try:
            while not self._stop.is_set():
                wait = self._send_next()
                if wait is not None:
                    return wait
            return 0.0
        except SendError as exc:
            return self._back_off(exc)

    def _send_next(self) -> float | None:
        ob = self.outbox
        limit, size = self.batch_events, self.batch_bytes
        replays = ob.replays(limit, size)
        if replays:
            self._deliver(Batch(replays, ob.markers(), "replay"))
            return self._pace()
        self._check_fresh_mode()
        if self.fresh_from is not None:
            fresh = ob.take(self.fresh_from, None, limit, size)
            if fresh:
                self._deliver(Batch(fresh, ob.markers(), "fresh"))
            backlog = ob.take(0, self.fresh_from, limit, size)
            if backlog:
                self._deliver(Batch(backlog, ob.markers(), "backlog"))
                return self._pace()
            log.info("cloud sync: the backlog is sent; back to one lane")
            self.fresh_from = None
        events, markers = ob.take(0, None, limit, size), ob.markers()
        if not events and not markers:
            self._waiting_since = None
            return IDLE_WAIT_S
        if len(events) < limit and sum(len(e) for _, e in events) < size // 2 and self.batch_age_s > 0:
            now = time.monotonic()  # not full: give it company for up to batch_age_s
            self._waiting_since = self._waiting_since or now
            if now - self._waiting_since < self.batch_age_s:
                return self._waiting_since + self.batch_age_s - now
        self._waiting_since = None
        self._deliver(Batch(events, markers, "backlog"))
        return self._pace()

    def _check_fresh_mode(self) -> None:
        """After an outage, or with a backlog older than fresh_after_s, what comes next goes first."""
        if self.fresh_from is not None or not self._fresh_ok:
            return
        oldest = self.outbox.oldest_pending()
        if oldest is None:
            return
        age = self.wall() - datetime.fromisoformat(oldest.replace("Z", "+00:00")).timestamp()
        if age > self.fresh_after_s:
            self._open_fresh_lane(f"the oldest unsent event is {age:.0f} s old")

    def _open_fresh_lane(self, why: str) -> None:
        if self._fresh_ok and self.outbox.backlog():
            self.fresh_from = self.outbox.last_seq() + 1
            log.info("cloud sync: %s; events from seq %d go ahead of the backlog", why, self.fresh_from)

    # -- sending and the answer table ----------------------------------------------------------------
    def _deliver(self, batch: Batch) -> None:
        answer = self._post(batch)
        if answer.status == 200:
            self._acked(batch, answer)
            return
        self._refused(batch, answer)

    def _acked(self, batch: Batch, answer: Answer) -> int:
        acked = answer.body.get("acked_seq")
        if type(acked) is not int:
            raise SendError(f"receiver's answer has no integer acked_seq: {answer.text[:200]}")
        n = self.outbox.acknowledge(batch, acked, parse_ranges(answer.body.get("received")),
                                    parse_ranges(answer.body.get("missing")), self.sent_high)
        if batch.events and n == 0 and batch.lane != "narrow":
            if batch.lane != "fresh":
                raise SendError(f"receiver acknowledged up to seq {acked} of {batch.seqs[-1]}; resending the rest")
            log.info("cloud sync: the receiver does not report received ranges; fresh-first is off")
            self._fresh_ok, self.fresh_from = False, None
        if self.attempt:  # a failure streak ended: the link is back
            self.attempt, self.next_try_at = 0, None
            self._open_fresh_lane("the cloud link is back")
        self._set_state("online", None)
        return n

    def _refused(self, batch: Batch, answer: Answer) -> None:
        status, detail = answer.status, f"receiver answered {answer.status}: {answer.message}"
        if status in (400, 422):
            self._narrow(batch, answer)
        elif status == 413:
            if len(batch.events) <= 1:
                self.outbox.set_aside(batch.seqs, detail, answer.text)
                return
            self.batch_events = max(1, len(batch.events) // 2)
            self.batch_bytes = max(1024, batch.nbytes // 2)
            log.warning("cloud sync: %s; batches are now at most %d events, %d bytes",
                        detail, self.batch_events, self.batch_bytes)
        elif status == 409:
            raise SendError(detail + "; sending has stopped until a person resolves it", state="degraded", halt=True)
        elif status in (429, 503) or status >= 500:
            raise SendError(detail, retry_after=answer.retry_after)
        else:  # 401, 403, 404 and anything unforeseen: retry, and show it needs attention
            raise SendError(detail, retry_after=answer.retry_after, state="degraded")

    def _narrow(self, batch: Batch, answer: Answer) -> None:
        """Find the refused events: the ones the receiver names, else by halving (spec section 3)."""
        named = answer.rejected(set(batch.seqs))
        if named:
            for seq, why in named.items():
                self.outbox.set_aside([seq], why, answer.text)
            return
        if len(batch.events) <= 1:
            if not batch.events:
                raise SendError(f"receiver refused set-aside markers: {answer.message}", state="degraded")
            self.outbox.set_aside(batch.seqs, f"{answer.status} {answer.message}", answer.text)
            return
        refused: dict[int, tuple[str, str]] = {}
        guessed = 0  # refused on their own with no name given: the guard below counts only these
        half = len(batch.events) // 2
        stack = [batch.events[half:], batch.events[:half]]
        while stack:
            part = Batch(stack.pop(), [], "narrow")
            got = self._post(part)
            if got.status == 200:
                self._acked(part, got)
            elif got.status in (400, 422, 413):
                named = got.rejected(set(part.seqs))
                if named:
                    refused.update({s: (why, got.text) for s, why in named.items()})
                    rest = [e for e in part.events if e[0] not in named]
                    if rest:
                        stack.append(rest)
                elif len(part.events) == 1:
                    refused[part.seqs[0]] = (f"{got.status} {got.message}", got.text)
                    guessed += 1
                else:
                    h = len(part.events) // 2
                    stack += [part.events[h:], part.events[:h]]
            else:
                self._refused(part, got)
        if guessed == len(batch.events) > 2:
            raise SendError(f"receiver refuses each event of the batch on its own too ({answer.message}): "
                            "the fault is not in the events; nothing was set aside", state="degraded")
        for seq, (why, text) in refused.items():
            self.outbox.set_aside([seq], why, text)
        log.warning("cloud sync: %d event(s) refused and set aside as dead letters: %s", len(refused),
                    ", ".join(str(s) for s in sorted(refused)))

    def _post(self, batch: Batch) -> Answer:
        batch_id, raw = self.outbox.body(batch)
        batch.nbytes = len(raw)
        body = gzip.compress(raw, GZIP_LEVEL) if self.compress else raw
        ts = str(int(self.wall()))
        headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: batch_id, HUB_HEADER: self.outbox.hub_id,
                   TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(self.secret, ts, body)}
        if self.compress:
            headers["Content-Encoding"] = "gzip"
        self.sent_high = max([self.sent_high, *batch.seqs, *(m["seq"] for m in batch.markers)])
        if self.transport is not None:
            answer = self.transport(headers, body)
            self._spend(len(body))
            return answer
        try:
            conn = self._connection()
            conn.request("POST", self._path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self._drop_connection()
            raise SendError(f"cannot reach {self.url}: {exc or type(exc).__name__}") from None
        if resp.will_close:
            self._drop_connection()
        self._spend(len(body))
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            if resp.status == 200:
                raise SendError(f"receiver's answer is not a JSON object: {data[:200]!r}")
            parsed = {}
        return Answer(resp.status, parsed, retry_after_s(resp.getheader("Retry-After"), self.wall()),
                      data[:500].decode("utf-8", "replace"))

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:  # kept alive between batches: no handshake per request
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._netloc, timeout=self.timeout_s)
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- waiting ---------------------------------------------------------------------------------
    def _back_off(self, exc: SendError) -> float:
        delay = full_jitter(self.attempt, self.base_s, self.cap_s, self.rand.random())
        if exc.retry_after is not None:  # raises the wait, never lowers it
            delay = max(delay, min(exc.retry_after, RETRY_AFTER_MAX_S))
        if exc.halt:
            delay = max(delay, self.cap_s)
        self.attempt += 1
        self.last_wait = delay
        self.next_try_at = time.monotonic() + delay
        self.outbox.record_error(str(exc))
        self._set_state(exc.state, str(exc))
        log.warning("cloud sync failed (%s); retry %d in %.1f s", exc, self.attempt, delay)
        return delay

    def _set_state(self, state: str, reason: str | None) -> None:
        if (state, reason) != self._state:
            self.outbox.set_state(state, reason)
            self._state = (state, reason)
            if self.on_state:
                self.on_state(state, reason)

    def _spend(self, nbytes: int) -> None:
        """Token bucket on bytes sent (cloud.max_kbit_s): at most one second of credit saved up."""
        if not self._rate:
            return
        now = time.monotonic()
        self._tokens = min(self._rate, self._tokens + (now - self._tokens_at) * self._rate) - nbytes
        self._tokens_at = now
        if self._tokens < 0:
            self._paced_until = now - self._tokens / self._rate

    def _pace(self) -> float | None:
        """How long to wait before the next request under the bandwidth cap; None: go on."""
        wait = self._paced_until - time.monotonic()
        return wait if wait > 0 else None
