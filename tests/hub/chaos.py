"""A chaos proxy: a real TCP/HTTP proxy between a hub and a receiver that misbehaves on purpose.

Each request gets one fate, drawn from a seeded random policy: passed through, dropped before the
receiver sees it, dropped after the receiver committed it (the answer is lost), answered 500 or
429 with Retry-After by the proxy itself, delayed, or reset (TCP RST). Only HTTP/1.1 with
Content-Length bodies, which is what the forwarder and the sink speak.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import BinaryIO

FATES = ("pass", "drop_request", "drop_response", "error_500", "slow_down_429", "latency", "reset")


def read_message(stream: BinaryIO) -> bytes | None:
    """One HTTP message (head and Content-Length body) as bytes; None at a clean end of stream."""
    head = b""
    while True:
        line = stream.readline(65537)
        if not line:
            if head:
                raise ConnectionError("stream ended inside a message head")
            return None
        head += line
        if line in (b"\r\n", b"\n"):
            break
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = stream.read(length) if length else b""
    if len(body) < length:
        raise ConnectionError("stream ended inside a message body")
    return head + body


def _answer(status: str, extra: str = "") -> bytes:
    body = b'{"error": {"code": "chaos", "message": "the chaos proxy says so", "field": null}}'
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
            .encode() + body)


class ChaosProxy:
    """Listens on 127.0.0.1:port and forwards to 127.0.0.1:upstream_port, misbehaving by `weights`."""

    def __init__(self, upstream_port: int, seed: int, weights: dict[str, float], latency_s: float = 0.02,
                 retry_after: str = "1") -> None:
        unknown = set(weights) - set(FATES)
        assert not unknown, f"unknown fates {unknown}"
        self.upstream_port = upstream_port
        self.rand = random.Random(seed)
        self.fates = list(weights)
        self.weights = [weights[f] for f in self.fates]
        self.latency_s, self.retry_after = latency_s, retry_after
        self.counts: Counter[str] = Counter()
        self.forwarded = 0
        # called with the count of answers the receiver gave, after it committed, before the hub hears
        self.before_answer: Callable[[int], None] | None = None
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.clients: set[socket.socket] = set()
        self.threads: list[threading.Thread] = []
        self.stopping = threading.Event()
        self.acceptor = threading.Thread(target=self._accept, name="chaos-accept", daemon=True)

    def start(self) -> ChaosProxy:
        self.acceptor.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        self.listener.close()
        with self.lock:
            clients = list(self.clients)
        for c in clients:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        self.acceptor.join(5)
        for t in self.threads:
            t.join(5)

    def _fate(self) -> str:
        with self.lock:
            fate = self.rand.choices(self.fates, self.weights)[0]
            self.counts[fate] += 1
            return fate

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.clients.add(client)
            t = threading.Thread(target=self._serve, args=(client,), name="chaos-conn", daemon=True)
            self.threads = [x for x in self.threads if x.is_alive()] + [t]
            t.start()

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        up_stream: BinaryIO | None = None
        stream = client.makefile("rb")
        try:
            while not self.stopping.is_set():
                request = read_message(stream)
                if request is None:
                    return
                fate = self._fate()
                if fate == "drop_request":
                    return
                if fate == "reset":
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if fate == "error_500":
                    client.sendall(_answer("500 Internal Server Error"))
                    continue
                if fate == "slow_down_429":
                    client.sendall(_answer("429 Too Many Requests", f"Retry-After: {self.retry_after}\r\n"))
                    continue
                if fate == "latency":
                    time.sleep(self.rand.random() * self.latency_s)
                if upstream is None:
                    upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
                    up_stream = upstream.makefile("rb")
                upstream.sendall(request)
                assert up_stream is not None
                response = read_message(up_stream)
                if response is None:
                    return
                with self.lock:
                    self.forwarded += 1
                    n = self.forwarded
                if self.before_answer:
                    self.before_answer(n)
                if fate == "drop_response":  # the receiver has committed; the hub never hears of it
                    return
                client.sendall(response)
        except (OSError, ConnectionError):
            return
        finally:
            stream.close()
            if up_stream is not None:
                up_stream.close()
            if upstream is not None:
                upstream.close()
            with self.lock:
                self.clients.discard(client)
            client.close()
