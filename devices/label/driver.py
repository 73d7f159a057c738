"""A label printer: status per language, label jobs from the hub, and its test label.

The hub renders every label (hub/domain/labels.py); this driver only checks the printer can
print, turns a Brother QL image into raster lines, and sends the bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from devices.bus import PrinterStatus, PrintLabel
from devices.label import status

# brother (brother-ql-next) and test_page (Pillow) are imported where used: a label printer that
# never prints a Brother raster or a test page should not cost the agent their memory.
from devices.label.connection import Connection, PrinterUnreachable

log = logging.getLogger(__name__)


class LabelPrinterError(Exception):
    """A label could not be printed; the message says why and what to do."""


@dataclass(frozen=True)
class LabelMedia:
    width_mm: int = 50
    height_mm: int = 30
    dpi: int = 203
    model: str = ""  # Brother QL model, e.g. QL-800
    label: str = ""  # Brother QL roll, e.g. 62 or 62x29

    @property
    def size(self) -> str:
        return f"{self.width_mm}x{self.height_mm}mm"


class LabelPrinter:
    """One label printer speaking language over connection."""

    def __init__(self, connection: Connection, language: str, media: LabelMedia) -> None:
        if language == "brother_ql" and not (media.model and media.label):
            raise ValueError(
                "a brother_ql printer needs its model (QL-800) and label roll (62) in the settings"
            )
        self.connection, self.language, self.media = connection, language, media
        self.answers_status: bool | None = None  # learnt on the first query

    def status(self) -> PrinterStatus:
        """What the printer says; online False with the reason when it cannot be reached."""
        request = status.query(self.language)
        try:
            if request is None or self.answers_status is False:
                self.connection.query(b"", lambda _reply: True)  # reachable is all it tells
                return PrinterStatus(True)
            reply = self.connection.query(request, lambda r: status.complete(self.language, r))
        except PrinterUnreachable as exc:
            return PrinterStatus(False, error=str(exc))
        except OSError as exc:
            return PrinterStatus(False, error=f"{self.connection.description} failed: {exc}")
        if not reply:
            log.info(
                "label printer %s does not answer status queries; printing blind",
                self.connection.description,
            )
            self.answers_status = False
            return PrinterStatus(True)
        try:
            found = status.parse(self.language, reply)
        except ValueError as exc:
            log.warning("label printer %s: %s", self.connection.description, exc)
            return PrinterStatus(True)
        self.answers_status = True
        return found

    def check_ready(self) -> PrinterStatus:
        now = self.status()
        reason = (
            "it cannot be reached: " + now.error
            if not now.online
            else "its cover is open (or its print head up): close it"
            if now.cover_open
            else "it is out of paper (labels): load a new roll"
            if now.paper_out
            else now.error
        )
        if reason:
            raise LabelPrinterError(
                f"label printer {self.connection.description} cannot print: {reason}"
            )
        return now

    def print_label(self, job: PrintLabel) -> None:
        if job.language != self.language:
            raise LabelPrinterError(
                f"label job {job.job_id} is {job.language} but the printer at "
                f"{self.connection.description} speaks {self.language}; print it on another printer"
            )
        self.check_ready()
        raw = job.raw()
        if self.language == "brother_ql":
            from devices.label import brother

            try:
                data = brother.raster(raw, self.media.model, self.media.label, job.copies)
            except ValueError as exc:
                raise LabelPrinterError(f"label job {job.job_id}: {exc}") from exc
        else:
            data = raw * job.copies
        self._send(data, f"label job {job.job_id}")
        log.info(
            "printed label job %s on %s (%d bytes)",
            job.job_id,
            self.connection.description,
            len(data),
        )

    def print_test_page(self, dev_id: str) -> None:
        from devices.label import brother, test_page

        self.check_ready()
        media = self.media
        width, height = (
            round(media.width_mm * media.dpi / 25.4),
            round(media.height_mm * media.dpi / 25.4),
        )
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        texts = test_page.lines(
            dev_id, self.language, self.connection.description, media.size, when
        )
        data = test_page.render(self.language, texts, dev_id, width, height, media.dpi)
        if self.language == "brother_ql":
            try:
                data = brother.raster(data, media.model, media.label)
            except ValueError as exc:
                raise LabelPrinterError(f"test label: {exc}") from exc
        self._send(data, "the test label")

    def _send(self, data: bytes, what: str) -> None:
        try:
            self.connection.send(data)
        except PrinterUnreachable as exc:
            raise LabelPrinterError(str(exc)) from exc
        except OSError as exc:
            raise LabelPrinterError(
                f"{self.connection.description} broke off while printing {what} ({exc}): "
                "check the printer, then print it again"
            ) from exc
