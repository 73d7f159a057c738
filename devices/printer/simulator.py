"""Simulated receipt printers for tests and the demo: the network one on a TCP port here,
the serial and USB (usblp) ones on a pty in pty_simulator.py.

Each speaks what a real ESC/POS printer speaks: it reads the byte stream, answers DLE EOT
status queries with the Epson status bits of its current faults, and "prints" each cut
receipt as out_dir/receipt-NNNN.txt and .png. Faults a test can switch on: `paper_low`,
`paper_out`, `cover_open`, `cutter_error`, and for the network one `offline` (nothing listens).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from PIL import Image, ImageDraw, ImageFont

from devices.printer import status
from devices.printer.decoder import DecodedReceipt, EscPosDecoder, decode

__all__ = [
    "DecodedReceipt", "EscPosDecoder", "NetworkPrinterSimulator", "SimulatedPrinter", "decode",
    "draw_receipt",
]  # fmt: skip

log = logging.getLogger(__name__)

IDLE_TIMEOUT = 30.0  # seconds a silent connection is kept open, as a real printer would
FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
FONT_SIZE = 16
MARGIN = 12  # pixels of white around the printed lines


class SimulatedPrinter:
    """What every simulated receipt printer shares: its faults, the status bytes they give and
    the paper it prints on. paper_low prints and says near end; paper_out, cover_open and
    cutter_error print nothing and say offline, and why."""

    def __init__(self, out_dir: Path, width: int = 42) -> None:
        self.out_dir = Path(out_dir)
        self.width = width
        self.paper_low = False
        self.paper_out = False
        self.cover_open = False
        self.cutter_error = False
        self.drawer_kicks = 0
        self._receipts: list[DecodedReceipt] = []
        self._changed = threading.Condition()

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def stopped(self) -> bool:
        """Whether a fault stops printing."""
        return self.paper_out or self.cover_open or self.cutter_error

    def receipts(self) -> list[DecodedReceipt]:
        with self._changed:
            return list(self._receipts)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[DecodedReceipt]:
        """Block until count receipts are printed; raise TimeoutError if they don't come."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._receipts) >= count, timeout):
                raise TimeoutError(
                    f"{self.name} printed {len(self._receipts)} "
                    f"receipts within {timeout} s, expected {count}"
                )
            return list(self._receipts)

    def status_byte(self, n: int) -> int:
        """The reply to DLE EOT n in the current fault state (Epson bit tables, status.py)."""
        reply = status.OK
        if n == status.PRINTER and self.stopped:
            reply |= status.OFFLINE
        elif n == status.OFFLINE_CAUSE:
            reply |= status.COVER_OPEN if self.cover_open else 0
            reply |= status.PAPER_END_STOP if self.paper_out else 0
            reply |= status.ERROR if self.cutter_error else 0
        elif n == status.ERROR_CAUSE and self.cutter_error:
            reply |= status.AUTOCUTTER
        elif n == status.ROLL_PAPER:
            reply |= status.NEAR_END if self.paper_low or self.paper_out else 0
            reply |= status.PAPER_END if self.paper_out else 0
        return reply

    def decoder(self, on_status: Callable[[int], None]) -> EscPosDecoder:
        """A decoder for one stream: it answers status queries and counts drawer kicks."""
        return EscPosDecoder(self.width, on_status=on_status, on_drawer=self._kicked)

    def _kicked(self) -> None:
        if not self.stopped:
            with self._changed:
                self.drawer_kicks += 1
                self._changed.notify_all()

    def _print(self, receipts: list[DecodedReceipt]) -> None:
        for receipt in receipts:
            if self.stopped:
                log.warning("%s cannot print (paper out, cover open or error): lost", self.name)
                continue
            if not receipt.text.strip() and not receipt.barcodes and not receipt.cut:
                continue  # a drawer kick alone is no receipt
            for warning in receipt.warnings:
                log.warning("%s: %s", self.name, warning)
            with self._changed:
                number = len(self._receipts) + 1
            stem = self.out_dir / f"receipt-{number:04d}"
            try:
                stem.with_suffix(".txt").write_text(receipt.text + "\n", encoding="utf-8")
                draw_receipt(receipt.text, self.width).save(stem.with_suffix(".png"))
            except OSError as exc:
                log.error("%s: could not save %s: %s", self.name, stem, exc)
            with self._changed:
                self._receipts.append(receipt)
                self._changed.notify_all()


class NetworkPrinterSimulator(SimulatedPrinter):
    """A raw TCP receipt printer. start() binds and serves one connection at a time."""

    def __init__(
        self,
        out_dir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        width: int = 42,
        offline: bool = False,
        paper_out: bool = False,
    ) -> None:
        super().__init__(out_dir, width)
        self.host = host
        self.paper_out = paper_out
        self._port = port
        self._offline = offline
        self._lock = threading.Lock()  # guards _conn and _stopping across the server thread
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._conn: socket.socket | None = None
        self._stopping = False

    @property
    def name(self) -> str:
        return f"printer simulator on port {self._port}"

    @property
    def port(self) -> int:
        return self._port

    @property
    def offline(self) -> bool:
        return self._offline

    @offline.setter
    def offline(self, value: bool) -> None:
        if value == self._offline:
            return
        self._offline = value
        if self._listener is None:
            return
        if value:
            # Keep the port bound but not listening, so connecting is refused, not hijacked.
            self._halt()
            self._listener = self._bind(self._port)
        else:
            self._serve()

    def start(self) -> int:
        """Bind the port, start serving unless offline, and return the port number."""
        if self._listener is not None:
            raise RuntimeError(f"printer simulator on port {self._port} is already started")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._listener = self._bind(self._port)
        self._port = self._listener.getsockname()[1]
        if not self._offline:
            self._serve()
        return self._port

    def stop(self) -> None:
        """Stop serving and release the port; the receipts printed so far are kept."""
        if self._listener is None:
            return
        self._halt()
        self._listener.close()
        self._listener = None

    def __enter__(self) -> NetworkPrinterSimulator:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- server -------------------------------------------------------------------------

    def _bind(self, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, port))
        except OSError:
            sock.close()
            raise
        return sock

    def _serve(self) -> None:
        assert self._listener is not None
        self._listener.listen()
        with self._lock:
            self._stopping = False
        self._thread = threading.Thread(
            target=self._accept_loop,
            args=(self._listener,),
            name=f"printer-simulator:{self._port}",
            daemon=True,
        )
        self._thread.start()

    def _halt(self) -> None:
        """Stop accepting, end the connection being served, and wait for the thread."""
        assert self._listener is not None
        with self._lock:
            self._stopping = True
            conn = self._conn
        for sock in (self._listener, conn):
            if sock is not None:
                # Wakes a blocked accept() or recv() on Linux; a socket that is not
                # listening or connected has nothing to wake.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._listener.close()

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, peer = listener.accept()
            except OSError:
                return  # the listener was shut down by stop() or by going offline
            with conn:
                with self._lock:
                    if self._stopping:
                        return
                    self._conn = conn
                log.debug("printer simulator %s: connection from %s", self._port, peer)
                try:
                    self._handle(conn)
                finally:
                    with self._lock:
                        self._conn = None

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(IDLE_TIMEOUT)
        decoder = self.decoder(lambda n: self._reply(conn, n))
        while True:
            try:
                data = conn.recv(4096)
            except OSError as exc:  # idle timeout, reset by peer
                log.debug("%s: connection ended: %s", self.name, exc)
                break
            if not data:
                break
            self._print(decoder.feed(data))
        self._print(decoder.close())

    def _reply(self, conn: socket.socket, n: int) -> None:
        try:
            conn.sendall(bytes([self.status_byte(n)]))
        except OSError as exc:
            log.debug("%s: status reply not sent: %s", self.name, exc)


def draw_receipt(text: str, width: int = 42) -> Image.Image:
    """The receipt's lines in black on a white strip `width` characters wide."""
    font = _font()
    lines = text.splitlines() or [""]
    line_height = int(font.getbbox("Mgy|")[3]) + 4
    text_width = max(font.getlength("M" * width), *(font.getlength(line) for line in lines))
    size = (int(text_width) + 2 * MARGIN, line_height * len(lines) + 2 * MARGIN)
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((MARGIN, MARGIN + i * line_height), line, fill=0, font=font)
    return image


@functools.cache
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if FONT_PATH.exists():
        return ImageFont.truetype(str(FONT_PATH), FONT_SIZE)
    return ImageFont.load_default()
