"""In-process fan-out of live events (scans, weights, job results) to open SSE streams."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

QUEUE_SIZE = 256
CLOSE = ("", "")  # sentinel: the stream ends
HEARTBEAT_S = 15.0


class Subscription:
    def __init__(self, channels: Channels, key: str) -> None:
        self._channels = channels
        self.key = key
        self.queue: queue.Queue[tuple[str, str]] = queue.Queue(QUEUE_SIZE)

    def put(self, item: tuple[str, str]) -> None:
        while True:
            try:
                self.queue.put_nowait(item)
                return
            except queue.Full:
                # A stalled browser must not hold memory: drop its oldest event.
                with contextlib.suppress(queue.Empty):
                    self.queue.get_nowait()

    def close(self) -> None:
        self._channels._remove(self)


class Channels:
    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = {}
        self._lock = threading.Lock()

    def subscribe(self, key: str) -> Subscription:
        sub = Subscription(self, key)
        with self._lock:
            self._subs.setdefault(key, set()).add(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.key)
            if subs:
                subs.discard(sub)
                if not subs:
                    del self._subs[sub.key]

    def publish(self, key: str, event: str, data: dict[str, Any]) -> int:
        """Send event to every stream open on key; returns how many got it."""
        text = json.dumps(data, separators=(",", ":"))
        with self._lock:
            subs = list(self._subs.get(key, ()))
        for sub in subs:
            sub.put((event, text))
        return len(subs)

    def publish_prefix(self, prefix: str, event: str, data: dict[str, Any]) -> int:
        """Send event to every stream open on a key starting with prefix (e.g. every register)."""
        with self._lock:
            keys = [key for key in self._subs if key.startswith(prefix)]
        return sum(self.publish(key, event, data) for key in keys)

    def close(self, key: str) -> int:
        """End every stream open on key (its register was unpaired, its person signed out)."""
        with self._lock:
            subs = list(self._subs.get(key, ()))
        for sub in subs:
            sub.put(CLOSE)
        return len(subs)

    def close_all(self) -> None:
        """End every open stream (at shutdown), so no worker waits out a heartbeat."""
        with self._lock:
            subs = [sub for group in self._subs.values() for sub in group]
        for sub in subs:
            sub.put(CLOSE)


def sse_stream(sub: Subscription, heartbeat_s: float = HEARTBEAT_S,
               still_allowed: Callable[[], bool] | None = None) -> Iterator[bytes]:
    """The text/event-stream body: an opening comment so headers leave at once, then events.
    still_allowed is asked at least every heartbeat_s; the stream ends when it says no."""
    try:
        yield b": connected\n\n"
        next_check = time.monotonic() + heartbeat_s
        while True:
            item: tuple[str, str] | None
            try:
                item = sub.queue.get(timeout=heartbeat_s)
            except queue.Empty:
                item = None
            if item == CLOSE:
                return
            if still_allowed is not None and time.monotonic() >= next_check:
                if not still_allowed():  # unpaired, signed out or disabled since the stream opened
                    return
                next_check = time.monotonic() + heartbeat_s
            if item is None:
                # a named event, not a comment: EventSource hides comments from the page, and the
                # register needs to notice a link that went silent
                yield b"event: ping\ndata: {}\n\n"
                continue
            yield f"event: {item[0]}\ndata: {item[1]}\n\n".encode()
    finally:
        sub.close()
