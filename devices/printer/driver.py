"""Network receipt printer: ESC/POS over a raw TCP connection (port 9100, "JetDirect").

The connection is python-escpos's Network printer; everything it or the socket raises is
turned into a PrinterError that says what went wrong and what to check.
"""

from __future__ import annotations

import errno
import logging
import socket
import time

from escpos.constants import RT_STATUS_ONLINE
from escpos.exceptions import Error as EscposError
from escpos.printer import Network

from devices.bus import PrintReceipt
from devices.printer import receipt

log = logging.getLogger(__name__)

STATUS_TIMEOUT = 0.5  # seconds to wait for a DLE EOT reply; some cheap printers never send one
DRAIN_TIMEOUT = 2.0  # seconds to wait for the printer to close after the job, before we do

# DLE EOT 1 (printer status) bit 3: offline. DLE EOT 2 (offline cause) bits, Epson reference.
_OFFLINE = 0x08
_RT_STATUS_OFFLINE_CAUSE = b"\x10\x04\x02"
_CAUSES = (
    (0x04, "its cover is open: close the cover"),
    (0x20, "it is out of paper: load a new roll"),
    (0x40, "it reports an error (paper jam, cutter or overheating): "
           "open and close the cover, or switch it off and on"),
    (0x08, "its paper feed button is being pressed"),
)  # fmt: skip


class PrinterError(Exception):
    """A receipt could not be printed; the message says why and what to check."""


class NetworkReceiptPrinter:
    """An ESC/POS receipt printer reached over TCP. Each call opens its own connection."""

    def __init__(self, host: str, port: int = 9100, timeout: float = 5.0) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"printer port {port} is not a TCP port: use 1-65535 (usually 9100)")
        self.host = host
        self.port = port
        self.timeout = timeout
        self._answers_status: bool | None = None  # learnt on the first status query

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def print_receipt(self, job: PrintReceipt) -> None:
        """Print job, kicking the drawer if it asks to; raise PrinterError if it fails."""
        try:
            data = receipt.render(job)
        except (ValueError, EscposError) as exc:
            raise PrinterError(f"receipt {job.job_id} cannot be printed: {exc}") from exc
        printer = self._connect()
        try:
            self._check_ready(printer)
            self._send(printer, data, job.job_id)
        finally:
            printer.close()
        log.info("printed receipt %s on %s (%d bytes)", job.job_id, self.address, len(data))

    def is_online(self) -> bool:
        """True if the printer takes a connection and, if it answers DLE EOT 1, says online."""
        try:
            printer = self._connect()
        except PrinterError as exc:
            log.debug("%s", exc)
            return False
        try:
            status = self._query(printer, RT_STATUS_ONLINE, retry=True)
        except OSError as exc:
            log.debug("printer %s dropped the status query: %s", self.address, exc)
            return False
        finally:
            printer.close()
        return status is None or not status & _OFFLINE

    def _connect(self) -> Network:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise PrinterError(self._connect_message(exc)) from exc
        printer = Network(self.host, self.port, timeout=self.timeout)
        # Connected here rather than by Network.open(), which in 3.1 leaves its socket
        # unclosed when the connection fails and only tries IPv4.
        printer.device = sock
        return printer

    def _connect_message(self, exc: OSError) -> str:
        where = f"printer {self.address}"
        if isinstance(exc, TimeoutError):
            return (
                f"{where} did not answer within {self.timeout:g} s: check it is switched on, "
                f"its network cable is plugged in and {self.host} is still its address"
            )
        if isinstance(exc, ConnectionRefusedError):
            return (
                f"{where} refused the connection: check the port in its network settings "
                "(raw printing is usually 9100) and that no other program holds the printer"
            )
        if isinstance(exc, socket.gaierror):
            return f"{where}: the name {self.host!r} is not known: check it, or use the IP address"
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return (
                f"{where} cannot be reached from this hub: check both are on the same "
                "network and the address is right"
            )
        return f"{where} could not be reached: {exc}"

    def _check_ready(self, printer: Network) -> None:
        try:
            status = self._query(printer, RT_STATUS_ONLINE)
            if status is None or not status & _OFFLINE:
                return
            cause = self._query(printer, _RT_STATUS_OFFLINE_CAUSE) or 0
        except OSError as exc:
            raise PrinterError(
                f"printer {self.address} dropped the connection when asked for its status: "
                f"check it is not busy with another job ({exc})"
            ) from exc
        reason = next((text for bit, text in _CAUSES if cause & bit), "it says it is offline")
        raise PrinterError(f"printer {self.address} cannot print: {reason}")

    def _query(self, printer: Network, request: bytes, *, retry: bool = False) -> int | None:
        """Send a DLE EOT request; the reply byte, or None for a printer that never answers."""
        if self._answers_status is False and not retry:
            return None
        sock = printer.device
        assert isinstance(sock, socket.socket)
        sock.settimeout(STATUS_TIMEOUT)
        try:
            reply = printer.query_status(request)
        except TimeoutError:
            log.info("printer %s does not answer status queries; printing blind", self.address)
            self._answers_status = False
            return None
        finally:
            sock.settimeout(self.timeout)
        self._answers_status = True
        if not reply:
            raise ConnectionResetError("connection closed instead of a status reply")
        return reply[-1]

    def _send(self, printer: Network, data: bytes, job_id: str) -> None:
        sock = printer.device
        assert isinstance(sock, socket.socket)
        broken = (
            f"printer {self.address} broke the connection while printing receipt {job_id}: "
            "it may be incomplete; check the printer and print it again"
        )
        try:
            printer._raw(data)
            sock.shutdown(socket.SHUT_WR)
        except TimeoutError as exc:
            raise PrinterError(
                f"printer {self.address} stopped taking data for receipt {job_id} for "
                f"{self.timeout:g} s: check its paper and cover, then print it again"
            ) from exc
        except OSError as exc:
            raise PrinterError(f"{broken} ({exc})") from exc
        # Wait for the printer to close its side: closing with unread bytes in our buffer
        # would reset the connection, which can cut the end of the receipt off.
        deadline = time.monotonic() + DRAIN_TIMEOUT
        try:
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                if not sock.recv(256):
                    return
        except TimeoutError:
            log.debug("printer %s kept the connection open after the job", self.address)
        except OSError as exc:
            raise PrinterError(f"{broken} ({exc})") from exc
