"""ESC/POS real-time status (DLE EOT n) replies in, a bus.PrinterStatus out. Pure: no I/O.

Bit tables from the Epson ESC/POS Command Reference, "DLE EOT n: Transmit real-time status"
(TM-T20/T88 series). Every reply byte has bits 1 and 4 set and bits 0 and 7 clear; a byte that
does not is not a status reply (a printer echoing data, or line noise) and is ignored.
"""

from __future__ import annotations

from devices.bus import PrinterStatus

DLE_EOT = b"\x10\x04"
PRINTER, OFFLINE_CAUSE, ERROR_CAUSE, ROLL_PAPER = 1, 2, 3, 4
REQUESTS = {n: DLE_EOT + bytes([n]) for n in (PRINTER, OFFLINE_CAUSE, ERROR_CAUSE, ROLL_PAPER)}

FIXED_MASK, FIXED_BITS = 0x93, 0x12  # bits 0, 1, 4, 7 are fixed: 0, 1, 1, 0
OK = 0x12  # a reply with every flag clear

# n = 1, printer status
DRAWER_PIN3 = 0x04  # bit 2: drawer kick-out connector pin 3 is high
OFFLINE = 0x08  # bit 3
WAITING_RECOVERY = 0x20  # bit 5: waiting for online recovery
FEED_BUTTON = 0x40  # bit 6: the paper feed button is being pressed
# n = 2, offline cause
COVER_OPEN = 0x04  # bit 2
FEEDING = 0x08  # bit 3: paper is being fed by the feed button
PAPER_END_STOP = 0x20  # bit 5: printing stopped because the paper ended
ERROR = 0x40  # bit 6: an error occurred (cause in n = 3)
# n = 3, error cause
RECOVERABLE = 0x04  # bit 2: recoverable error (e.g. paper jam)
AUTOCUTTER = 0x08  # bit 3: autocutter error
UNRECOVERABLE = 0x20  # bit 5
AUTO_RECOVERABLE = 0x40  # bit 6: e.g. print head too hot; clears by itself
# n = 4, roll paper sensor (each is two bits, both set or both clear)
NEAR_END = 0x0C  # bits 2-3: roll paper near-end sensor: paper nearly out
PAPER_END = 0x60  # bits 5-6: roll paper end sensor: no paper

_ERRORS = (
    (AUTOCUTTER, "the autocutter is stuck: open the cover, clear the cutter, close the cover"),
    (UNRECOVERABLE, "an error it cannot recover from: switch it off and on, then call for service"),
    (AUTO_RECOVERABLE, "the print head is too hot: wait a minute, it resumes by itself"),
    (RECOVERABLE, "a paper jam or a similar error: open and close the cover"),
)


def valid(reply: int | None) -> int | None:
    """reply if it is a real status byte, else None."""
    if reply is None or not 0 <= reply <= 0xFF or reply & FIXED_MASK != FIXED_BITS:
        return None
    return reply


def decode(
    printer: int | None,
    offline_cause: int | None = None,
    error_cause: int | None = None,
    roll_paper: int | None = None,
) -> PrinterStatus:
    """The status the replies to DLE EOT 1-4 describe; None for a reply that did not come."""
    printer, cause = valid(printer), valid(offline_cause)
    error_cause, paper = valid(error_cause), valid(roll_paper)
    online = printer is None or not printer & OFFLINE
    cover_open = cause is not None and bool(cause & COVER_OPEN)
    paper_out = (cause is not None and bool(cause & PAPER_END_STOP)) or (
        paper is not None and paper & PAPER_END == PAPER_END
    )
    paper_low = paper is not None and paper & NEAR_END == NEAR_END
    error = ""
    if cause is not None and cause & ERROR:
        error = next(
            (text for bit, text in _ERRORS if error_cause is not None and error_cause & bit),
            "it reports an error: open and close the cover, or switch it off and on",
        )
    return PrinterStatus(online, cover_open, paper_low or paper_out, paper_out, error)


def problem(status: PrinterStatus) -> str:
    """Why a printer with this status cannot print now, in words; "" if it can."""
    if status.cover_open:
        return "its cover is open: close the cover"
    if status.paper_out:
        return "it is out of paper: load a new roll"
    if status.error:
        return status.error
    if not status.online:
        return "it says it is offline (its paper feed button may be held down)"
    return ""
