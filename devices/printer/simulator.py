"""A network receipt printer on a TCP port, for tests and the demo.

It speaks what a raw port-9100 printer speaks: it reads an ESC/POS stream, answers DLE EOT
status queries, and "prints" each cut receipt as out_dir/receipt-NNNN.txt and .png. Faults a
test can switch on: `offline` (nothing listens on the port) and `paper_out` (the status bytes
say paper end and nothing is printed).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import threading
from pathlib import Path
from types import TracebackType

from PIL import Image, ImageDraw, ImageFont

from devices.printer.decoder import DecodedReceipt, EscPosDecoder, decode

__all__ = ["DecodedReceipt", "NetworkPrinterSimulator", "decode", "draw_receipt"]

log = logging.getLogger(__name__)

IDLE_TIMEOUT = 30.0  # seconds a silent connection is kept open, as a real printer would
FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
FONT_SIZE = 16
MARGIN = 12  # pixels of white around the printed lines

# DLE EOT n replies (Epson ESC/POS reference, "DLE EOT"). Bits 1 and 4 are always set.
STATUS_OK = 0x12
PAPER_OUT_STATUS = {
    1: 0x1A,  # printer status: bit 3, offline
    2: 0x32,  # offline cause: bit 5, stopped by paper end
    4: 0x7E,  # roll paper sensor: bits 2-3 near end, bits 5-6 paper end
}


class NetworkPrinterSimulator:
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
        self.out_dir = Path(out_dir)
        self.host = host
        self.width = width
        self.paper_out = paper_out
        self._port = port
        self._offline = offline
        self._receipts: list[DecodedReceipt] = []
        self._changed = threading.Condition()
        self._lock = threading.Lock()  # guards _conn and _stopping across the server thread
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._conn: socket.socket | None = None
        self._stopping = False

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

    def receipts(self) -> list[DecodedReceipt]:
        with self._changed:
            return list(self._receipts)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[DecodedReceipt]:
        """Block until count receipts are printed; raise TimeoutError if they don't come."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._receipts) >= count, timeout):
                raise TimeoutError(
                    f"printer simulator on port {self._port} printed {len(self._receipts)} "
                    f"receipts within {timeout} s, expected {count}"
                )
            return list(self._receipts)

    def status_byte(self, n: int) -> int:
        """The reply to DLE EOT n in the current fault state."""
        return PAPER_OUT_STATUS.get(n, STATUS_OK) if self.paper_out else STATUS_OK

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
        decoder = EscPosDecoder(self.width, on_status=lambda n: self._reply(conn, n))
        while True:
            try:
                data = conn.recv(4096)
            except OSError as exc:  # idle timeout, reset by peer
                log.debug("printer simulator %s: connection ended: %s", self._port, exc)
                break
            if not data:
                break
            self._print(decoder.feed(data))
        self._print(decoder.close())

    def _reply(self, conn: socket.socket, n: int) -> None:
        try:
            conn.sendall(bytes([self.status_byte(n)]))
        except OSError as exc:
            log.debug("printer simulator %s: status reply not sent: %s", self._port, exc)

    def _print(self, receipts: list[DecodedReceipt]) -> None:
        for receipt in receipts:
            if self.paper_out:
                log.warning("printer simulator %s is out of paper: receipt lost", self._port)
                continue
            for warning in receipt.warnings:
                log.warning("printer simulator %s: %s", self._port, warning)
            with self._changed:
                number = len(self._receipts) + 1
            stem = self.out_dir / f"receipt-{number:04d}"
            try:
                stem.with_suffix(".txt").write_text(receipt.text + "\n", encoding="utf-8")
                draw_receipt(receipt.text, self.width).save(stem.with_suffix(".png"))
            except OSError as exc:
                log.error("printer simulator %s: could not save %s: %s", self._port, stem, exc)
            with self._changed:
                self._receipts.append(receipt)
                self._changed.notify_all()


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
