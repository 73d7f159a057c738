"""A label printer on a TCP port (raw 9100) or a pty, for tests and the demo.

It speaks what the printer it plays speaks: ZPL, TSPL or Brother QL raster. It answers status
queries (~HS, <ESC>!?, ESC i S) with the faults a test switches on (`paper_out`, `head_open`,
`paused`), and "prints" each complete label it receives, decoded: `labels` (ZPL, TSPL) with
their text fields and barcodes, `ql_pages` (Brother QL) with their media and raster lines.
While a fault is on, labels are received but not printed, as a real printer would hold them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
from collections.abc import Callable
from types import TracebackType

from devices.label import brother, status
from devices.label.connection import write_all
from devices.label.decoder import DecodedLabel, decode_tspl, decode_zpl
from devices.pty_port import open_pty

__all__ = ["DecodedLabel", "LabelPrinterSimulator", "PtyLabelPrinter"]

log = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 30.0
_QUERIES = {"zpl": b"~HS", "tspl": status.TSPL_QUERY, "brother_ql": b"\x1biS"}


class _Printer:
    """What every variant shares: the language, the faults, and what was printed."""

    def __init__(self, language: str, dpi: int) -> None:
        if language not in _QUERIES:
            raise ValueError(f"the simulator speaks {', '.join(_QUERIES)}, not {language!r}")
        self.language, self.dpi = language, dpi
        self.paper_out = self.head_open = self.paused = False
        self.labels: list[DecodedLabel] = []
        self.ql_pages: list[brother.QlPage] = []
        self.status_queries = 0
        self.received = bytearray()  # every byte, for tests
        self._changed = threading.Condition()

    def _reply(self) -> bytes:
        faults = {"paper_out": self.paper_out, "head_open": self.head_open}
        if self.language == "zpl":
            return status.zpl_reply(paused=self.paused, **faults)
        if self.language == "tspl":
            return status.tspl_reply(paused=self.paused, **faults)
        return status.ql_reply(**faults)

    def _session(self, send: Callable[[bytes], None]) -> _Session:
        return _Session(self, send)

    def _printed(self, labels: list[DecodedLabel], pages: list[brother.QlPage]) -> None:
        with self._changed:
            if self.paper_out or self.head_open or self.paused:
                log.info(
                    "simulated label printer held %d labels: a fault is on",
                    len(labels) + len(pages),
                )
            else:
                self.labels += labels
                self.ql_pages += pages
            self._changed.notify_all()

    def wait_printed(self, count: int, timeout: float) -> bool:
        """Wait until count labels (or Brother pages) in all have been printed."""
        with self._changed:
            return self._changed.wait_for(
                lambda: len(self.labels) + len(self.ql_pages) >= count, timeout
            )


class _Session:
    """One connection's bytes: answers its status queries, prints each label once complete.

    The answers go out before the labels in the same chunk print, as a printer answers a query
    at once: a test that sees the labels printed and then asks again never reads the old answer.
    """

    def __init__(self, printer: _Printer, send: Callable[[bytes], None]) -> None:
        self.printer, self.send = printer, send
        self.data, self.scanned, self.done = bytearray(), 0, 0

    def feed(self, chunk: bytes) -> None:
        p = self.printer
        p.received += chunk
        self.data += chunk
        query = _QUERIES[p.language]
        replies = b""
        while (found := self.data.find(query, self.scanned)) >= 0:
            p.status_queries += 1
            replies += p._reply()
            self.scanned = found + len(query)
        self.scanned = max(self.scanned, len(self.data) - len(query) + 1)
        if replies:
            self.send(replies)
        self._print_complete()

    def _print_complete(self) -> None:
        p, data = self.printer, bytes(self.data)
        if p.language == "brother_ql":
            end = max(data.rfind(b"\x1a"), data.rfind(b"\x0c"))
            try:
                pages = brother.decode(data[: end + 1]).pages if end >= 0 else []
            except ValueError as exc:  # a real printer would stop; say why in the log
                log.warning("simulated QL printer: %s", exc)
                pages = []
            new_pages, new_labels = pages[self.done :], []
        else:
            decoded = (
                decode_zpl(data.replace(b"~HS", b""))
                if p.language == "zpl"
                else decode_tspl(data, p.dpi)
            )
            new_labels, new_pages = decoded[self.done :], []
        if new_labels or new_pages:
            self.done += len(new_labels) + len(new_pages)
            p._printed(new_labels, new_pages)


class LabelPrinterSimulator(_Printer):
    """A raw TCP label printer. start() binds; each connection is served in its own thread."""

    def __init__(
        self, language: str, host: str = "127.0.0.1", port: int = 0, dpi: int = 203
    ) -> None:
        super().__init__(language, dpi)
        self.host, self.port = host, port
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def start(self) -> LabelPrinterSimulator:
        listener = socket.create_server((self.host, self.port))
        listener.settimeout(0.2)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._stopping.clear()
        thread = threading.Thread(target=self._serve, name=f"label-sim-{self.port}", daemon=True)
        self._threads = [thread]
        thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in list(self._threads):
            thread.join()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self) -> LabelPrinterSimulator:
        return self.start()

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

    def _serve(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn, _addr = self._listener.accept()
            except TimeoutError:
                continue
            self._threads = [t for t in self._threads if t.is_alive()]
            thread = threading.Thread(target=self._connection, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _connection(self, conn: socket.socket) -> None:
        def send(replies: bytes) -> None:
            with contextlib.suppress(OSError):
                conn.sendall(replies)

        session, idle = self._session(send), 0.0
        with conn:
            conn.settimeout(0.2)
            while not self._stopping.is_set() and idle < IDLE_TIMEOUT_S:
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    idle += 0.2
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                idle = 0.0
                session.feed(chunk)


class PtyLabelPrinter(_Printer):
    """A label printer behind a device file: the master side of a pty. start() returns the path."""

    def __init__(self, language: str, dpi: int = 203) -> None:
        super().__init__(language, dpi)
        self._fds: tuple[int, int] | None = None
        self._wake: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        master, slave, path = open_pty()
        self._fds, self._wake = (master, slave), os.pipe()
        self._thread = threading.Thread(target=self._run, name="label-pty-sim", daemon=True)
        self._thread.start()
        return path

    def stop(self) -> None:
        if self._fds is None or self._wake is None:
            return
        os.write(self._wake[1], b"x")
        if self._thread is not None:
            self._thread.join()
        for fd in (*self._fds, *self._wake):
            os.close(fd)
        self._fds = self._wake = None

    def _run(self) -> None:
        assert self._fds is not None and self._wake is not None
        master = self._fds[0]
        session = self._session(lambda replies: write_all(master, replies))
        while True:
            ready, _, _ = select.select([master, self._wake[0]], [], [])
            if self._wake[0] in ready:
                return
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            session.feed(chunk)
