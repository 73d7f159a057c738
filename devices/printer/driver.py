"""An ESC/POS receipt printer over any transport (devices/printer/transports.py): print a
receipt, kick the cash drawer, print a test page, read its status.

Each call opens its own connection and closes it, so a printer switched off between jobs, or a
USB cable pulled and put back, costs nothing but that one job.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from devices.bus import PrinterStatus, PrintReceipt, ReceiptLine
from devices.printer import receipt, status
from devices.printer.transports import Connection, NetworkTransport, PrinterError, Transport

__all__ = ["NetworkReceiptPrinter", "PrinterError", "ReceiptPrinter"]

log = logging.getLogger(__name__)

STATUS_TIMEOUT = 0.5  # seconds to wait for a DLE EOT reply; some cheap printers never send one
DRAWER_PINS = (2, 5)


class ReceiptPrinter:
    """One ESC/POS receipt printer; transport says how it is reached."""

    def __init__(
        self,
        transport: Transport,
        *,
        width: int = receipt.DEFAULT_WIDTH,
        drawer_pin: int = receipt.DRAWER_PIN,
        status_queries: bool = True,
    ) -> None:
        self.transport, self.width, self.drawer_pin = transport, width, drawer_pin
        # None until learnt: a printer that never answers DLE EOT is not asked again
        self._answers_status: bool | None = None if status_queries else False

    @property
    def address(self) -> str:
        return self.transport.description

    def print_receipt(self, job: PrintReceipt) -> None:
        """Print job, kicking the drawer if it asks to; raise PrinterError if it fails."""
        # python-escpos loads at the first receipt (see receipt.render)
        from escpos.exceptions import Error as EscposError

        try:
            data = receipt.render(job, self.width, drawer_pin=self.drawer_pin)
        except (ValueError, EscposError) as exc:
            raise PrinterError(f"receipt {job.job_id} cannot be printed: {exc}") from exc
        self._job(data, f"receipt {job.job_id}")
        log.info("printed receipt %s on %s (%d bytes)", job.job_id, self.address, len(data))

    def kick_drawer(self, pin: int | None = None) -> None:
        """Open the cash drawer on the printer's kick connector (ESC p m t1 t2)."""
        pin = self.drawer_pin if pin is None else pin
        if pin not in DRAWER_PINS:
            raise PrinterError(
                f"drawer pin {pin} does not exist: use 2 or 5 (most drawers hang on 2)"
            )
        self._job(receipt.drawer_kick(pin), "the drawer kick")

    def print_test_page(self, device_id: str, now: datetime | None = None) -> None:
        """A short page naming the device, its connection and the time, to find a printer by."""
        now = now or datetime.now(UTC)
        page = PrintReceipt(
            job_id=f"test-{device_id}",
            header=["TEST PAGE"],
            lines=[
                ReceiptLine("Device", device_id),
                ReceiptLine("Connection", self.address),
                ReceiptLine("Time", now.strftime("%Y-%m-%d %H:%M:%S %Z")),
                ReceiptLine("Columns", str(self.width)),
                ReceiptLine("1234567890" * (self.width // 10) + "1234567890"[: self.width % 10]),
            ],
            totals=[],
            footer=["This printer works."],
        )
        self._job(receipt.render(page, self.width), "the test page")

    def is_online(self) -> bool:
        """True if the printer is reachable and, if it answers DLE EOT 1, says online."""
        current = self.status()
        return current is not None and current.online

    def status(self) -> PrinterStatus | None:
        """What the printer says about itself; None if it cannot be reached at all."""
        try:
            conn = self.transport.open()
        except PrinterError as exc:
            log.debug("%s", exc)
            return None
        try:
            return self._status(conn, full=True)
        except OSError as exc:
            log.debug("printer %s dropped the status query: %s", self.address, exc)
            return None
        finally:
            conn.close()

    def _job(self, data: bytes, what: str) -> None:
        conn = self.transport.open()
        try:
            self._check_ready(conn)
            try:
                conn.write(data)
            except TimeoutError as exc:
                raise PrinterError(
                    f"printer {self.address} stopped taking data for {what}: check its paper "
                    "and cover, then print it again"
                ) from exc
            except OSError as exc:
                raise PrinterError(
                    f"printer {self.address} broke the connection while printing {what}: it may "
                    f"be incomplete; check the printer and print it again ({exc})"
                ) from exc
        finally:
            conn.close()

    def _check_ready(self, conn: Connection) -> None:
        try:
            current = self._status(conn, full=False)
        except OSError as exc:
            raise PrinterError(
                f"printer {self.address} dropped the connection when asked for its status: "
                f"check it is not busy with another job ({exc})"
            ) from exc
        if current is not None and (why := status.problem(current)):
            raise PrinterError(f"printer {self.address} cannot print: {why}")

    def _status(self, conn: Connection, *, full: bool) -> PrinterStatus | None:
        """Ask DLE EOT 1, then (if offline, or for a full status) 2, 3 and 4."""
        printer = self._query(conn, status.PRINTER, retry=full)
        if printer is None:
            return None if not full else status.decode(None)
        if not full and not printer & status.OFFLINE:
            return status.decode(printer)
        cause = self._query(conn, status.OFFLINE_CAUSE)
        error = self._query(conn, status.ERROR_CAUSE) if cause and cause & status.ERROR else None
        paper = self._query(conn, status.ROLL_PAPER)
        return status.decode(printer, cause, error, paper)

    def _query(self, conn: Connection, n: int, *, retry: bool = False) -> int | None:
        """Send DLE EOT n; the reply byte, or None for a printer that never answers."""
        if self._answers_status is False and not retry:
            return None
        conn.write(status.REQUESTS[n])
        reply = conn.read(STATUS_TIMEOUT)
        if not reply:
            if self._answers_status is not False:
                log.info("printer %s does not answer status queries; printing blind", self.address)
            self._answers_status = False
            return None
        self._answers_status = True
        return status.valid(reply[-1])


class NetworkReceiptPrinter(ReceiptPrinter):
    """A receipt printer on TCP port 9100 ("JetDirect")."""

    def __init__(self, host: str, port: int = 9100, timeout: float = 5.0, **options: int) -> None:
        super().__init__(NetworkTransport(host, port, timeout), **options)  # type: ignore[arg-type]
        self.host, self.port, self.timeout = host, port, timeout

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"
