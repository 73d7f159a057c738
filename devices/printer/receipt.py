"""Receipt layout: a PrintReceipt job in, ESC/POS bytes out. Pure: no sockets, no clock.

The bytes are built with python-escpos's Dummy printer so the command encoding (code pages,
barcode framing, cut) is the library's, and the same job always gives the same bytes.
"""

from __future__ import annotations

import re
import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from escpos.printer import Dummy

from devices.bus import PrintReceipt, ReceiptLine

DEFAULT_WIDTH = 42  # characters per line in font A on 80 mm paper with most 9100 printers
BARCODE_HEIGHT = 64  # dots, about 8 mm at 203 dpi
BARCODE_MODULE = 2  # dots per narrow bar: the smallest python-escpos accepts, fits ~20 chars
DRAWER_PIN = 2  # most drawers hang on pin 2 of the RJ-11 kick connector

# C0/C1 controls and DEL inside job text would reach the printer as commands (an item named
# "\x1bp\x00" would open the drawer), so they print as spaces instead.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Code 128 set B covers ASCII 32..127; GS k takes at most 255 data bytes, "{B" included.
_CODE128_MAX = 250


def render(job: PrintReceipt, width: int = DEFAULT_WIDTH, *, drawer_pin: int = DRAWER_PIN) -> bytes:
    """Return the ESC/POS bytes that print job on a printer `width` characters wide."""
    if width < 16:
        raise ValueError(f"receipt width {width} is too narrow: use at least 16 characters")
    barcode = _code128_payload(job.barcode) if job.barcode else ""
    # python-escpos is imported at the first receipt, not with the agent: it costs about 10 MB
    # of memory (its printer database, Pillow, qrcode) that an agent without a receipt printer,
    # or one that has not printed yet, does not need.
    from escpos.printer import Dummy

    p = Dummy()
    p.hw("INIT")
    if job.open_drawer:
        # Kick first so the drawer opens while the receipt is still printing.
        p.cashdraw(drawer_pin)

    p.set(align="center", bold=True)
    for line in job.header:
        _rows(p, _wrap(line, width))
    p.set(align="left", bold=False)
    if job.header:
        p.textln("-" * width)

    for item in job.lines:
        _rows(p, columns(item, width))
    if job.totals:
        p.textln("-" * width)
        p.set(bold=True)
        for total in job.totals:
            _rows(p, columns(total, width))
        p.set(bold=False)

    if job.footer:
        p.ln()
        p.set(align="center")
        for line in job.footer:
            _rows(p, _wrap(line, width))
        p.set(align="left")

    if barcode:
        p.ln()
        # _hw_barcode is what Escpos.barcode() calls once it has chosen the hardware renderer;
        # barcode() itself also print()s "Using hardware barcode renderer" to stdout (3.1).
        p._hw_barcode(
            barcode,
            "CODE128",
            height=BARCODE_HEIGHT,
            width=BARCODE_MODULE,
            pos="BELOW",
            font="A",
            align_ct=True,
            function_type="B",
        )
        p.set(align="left")
    p.cut()
    return p.output


def columns(line: ReceiptLine, width: int = DEFAULT_WIDTH) -> list[str]:
    """Lay out one text/amount line: text on the left, amount flush right on the last row."""
    rows = _wrap(line.text, width)
    amount = clean(line.amount).strip()
    if not amount:
        return rows
    last = rows[-1].rstrip()
    if len(last) + 1 + len(amount) <= width:
        rows[-1] = last + amount.rjust(width - len(last))
        return rows
    if len(amount) <= width:
        return [*rows, amount.rjust(width)]
    return [*rows, *_wrap(amount, width)]


def clean(text: str) -> str:
    """Replace control characters, which a printer would obey, with spaces."""
    return _CONTROL.sub(" ", text)


def _wrap(text: str, width: int) -> list[str]:
    text = clean(text).rstrip()
    if len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, break_on_hyphens=False) or [""]


def _rows(p: Dummy, rows: list[str]) -> None:
    for row in rows:
        p.textln(row)


def _code128_payload(data: str) -> str:
    if any(not " " <= ch <= "~" for ch in data):
        raise ValueError(
            f"receipt barcode {data!r} cannot be printed as Code 128: "
            "use ASCII letters, digits and punctuation only"
        )
    # ESC/POS reads "{" as the start of a code set switch, so a literal brace is sent as "{{".
    payload = "{B" + data.replace("{", "{{")
    if len(payload) > _CODE128_MAX:
        raise ValueError(
            f"receipt barcode is {len(data)} characters long; "
            f"Code 128 on a receipt printer takes at most {_CODE128_MAX - 2}"
        )
    return payload


def drawer_kick(pin: int) -> bytes:
    """ESC p m t1 t2: pulse the drawer kick connector (m 0 = pin 2, 1 = pin 5), as
    python-escpos's cashdraw(2|5) sends it."""
    from escpos.constants import CD_KICK_2, CD_KICK_5

    return bytes(CD_KICK_2 if pin == 2 else CD_KICK_5)
