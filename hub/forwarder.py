"""The outbox forwarder: sends events in seq order to the cloud, retrying with backoff and jitter."""

from __future__ import annotations

import http.client
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from hub.store import Store
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


class SendError(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Forwarder:
    def __init__(self, store: Store, url: str, secret: str, batch_size: int = 500,
                 base_s: float = 1.0, cap_s: float = 300.0, timeout_s: float = 10.0,
                 rand: random.Random | None = None) -> None:
        self.store = store
        self.url = url
        self.secret = secret
        self.batch_size = batch_size
        self.base_s = base_s
        self.cap_s = cap_s
        self.timeout_s = timeout_s
        self.rand = rand or random.Random()
        self.attempt = 0
        self.next_try_at: float | None = None
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
            self._thread.join(timeout=self.timeout_s + 2)

    def notify(self) -> None:
        """Called after a commit that appended events: send soon, unless backing off."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.step()
            except Exception as exc:  # noqa: BLE001 - the thread must outlive any one failure
                log.exception("cloud sync step failed; backing off")
                delay = self._back_off(f"internal error: {exc}", None)
            self._wake.wait(delay)
            self._wake.clear()
            # A wake during backoff doesn't skip the wait: the receiver asked us to slow down.
            while self.next_try_at and not self._stop.is_set() and time.monotonic() < self.next_try_at:
                self._wake.wait(self.next_try_at - time.monotonic())
                self._wake.clear()

    def step(self) -> float:
        """Send what is pending; return how long to wait before the next step."""
        try:
            while True:
                events = self.store.pending_events(self.batch_size)
                if not events:
                    self.attempt, self.next_try_at = 0, None
                    return IDLE_WAIT_S
                # never trust an ack beyond what was sent: it would skip events nobody received
                acked = min(self.send(events), events[-1]["seq"])
                if acked > events[0]["seq"] - 1:
                    self.store.ack_events(acked)
                if acked < events[-1]["seq"]:  # a gap on the receiver's side: back off, don't flood
                    raise SendError(f"receiver acknowledged up to seq {acked} of {events[-1]['seq']}; resending the rest")
                self.attempt, self.next_try_at = 0, None
        except SendError as exc:
            return self._back_off(str(exc), exc.retry_after)

    def _back_off(self, reason: str, retry_after: float | None) -> float:
        delay = full_jitter(self.attempt, self.base_s, self.cap_s, self.rand.random())
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cap_s))
        self.attempt += 1
        self.next_try_at = time.monotonic() + delay
        self.store.record_sync_error(reason)
        log.warning("cloud sync failed (%s); retry %d in %.1f s", reason, self.attempt, delay)
        return delay

    def send(self, events: list[dict[str, Any]]) -> int:
        hub_id = events[0]["hub_id"]
        batch_id = f"{hub_id}:{events[0]['seq']}-{events[-1]['seq']}"
        body = json.dumps({"hub_id": hub_id, "batch_id": batch_id, "events": events}, separators=(",", ":")).encode()
        ts = str(int(time.time()))
        req = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", IDEMPOTENCY_HEADER: batch_id, HUB_HEADER: hub_id,
            TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(self.secret, ts, body),
        })
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                answer = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            with exc:  # the error holds the connection open until closed
                detail = exc.read()[:300].decode("utf-8", "replace")
            raise SendError(f"receiver answered {exc.code}: {detail}",
                            float(retry_after) if retry_after and retry_after.isdigit() else None) from None
        except (urllib.error.URLError, OSError, TimeoutError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise SendError(f"cannot reach {self.url}: {reason}") from None
        except ValueError as exc:
            raise SendError(f"receiver's answer is not JSON: {exc}") from None
        acked = answer.get("acked_seq") if isinstance(answer, dict) else None
        if not isinstance(acked, int):
            raise SendError(f"receiver's answer has no integer acked_seq: {str(answer)[:200]}")
        return acked
