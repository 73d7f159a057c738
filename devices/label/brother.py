"""Brother QL: a label image as the printer's raster stream, and that stream read back.

The hub renders the label as a PNG at the label's dpi (hub/domain/label_raster.py); here it is
fitted to the roll's printable dots and turned into raster commands by brother-ql-next (the
original brother_ql breaks with Pillow 10 and later). decode() reads a stream's structure the
way the printer does (Brother QL Raster Command Reference): invalidate, initialize, status
request, media information, raster lines, print.
"""

from __future__ import annotations

import io
import logging
import struct
from dataclasses import dataclass, field

from PIL import Image

log = logging.getLogger(__name__)


def raster(png: bytes, model: str, label: str, copies: int = 1) -> bytes:
    """The raster stream that prints png copies times on a model (QL-800) with label (62, 62x29).

    ValueError names the model or label when brother-ql-next does not know it.
    """
    from brother_ql.conversion import convert
    from brother_ql.exceptions import BrotherQLError
    from brother_ql.labels import FormFactor, LabelsManager
    from brother_ql.raster import BrotherQLRaster

    try:
        qlr = BrotherQLRaster(model)
    except BrotherQLError:
        raise ValueError(
            f"Brother model {model!r} is not known to brother-ql-next; use one like QL-800"
        ) from None
    try:
        spec = LabelsManager()[label]
    except KeyError:
        raise ValueError(
            f"Brother label {label!r} is not known; use a roll name like 62 or 62x29"
        ) from None
    try:
        image = Image.open(io.BytesIO(png))
        image.load()
    except (OSError, ValueError) as exc:
        raise ValueError(f"the label image cannot be read: {exc}") from exc
    width, height = spec.dots_printable
    if spec.form_factor == FormFactor.ENDLESS:
        if image.width != width:  # a continuous roll: as wide as the roll, as long as it needs
            image = image.resize((width, max(1, round(image.height * width / image.width))))
    else:
        if (image.width > image.height) != (width > height):  # 90 x 29 label on a 29 mm roll
            image = image.rotate(90, expand=True)
        if image.size != (width, height):
            image = image.resize((width, height))
    try:
        convert(qlr, [image.convert("L")] * copies, label, cut=True, rotate=0)
    except BrotherQLError as exc:
        raise ValueError(f"the label cannot be rastered for {model} on {label}: {exc}") from exc
    return bytes(qlr.data)


@dataclass
class QlPage:
    media_type: str = ""  # continuous | die_cut
    width_mm: int = 0
    length_mm: int = 0
    raster_count: int = 0  # lines the media command announced
    lines: int = 0  # raster lines that came
    row_bytes: int = 0
    last: bool = False


@dataclass
class QlJob:
    invalidate_bytes: int = 0
    initialized: bool = False
    status_requests: int = 0
    pages: list[QlPage] = field(default_factory=list)  # printed pages only


# ESC i <letter>: argument length (Raster Command Reference, "Command list")
_ESC_I = {b"a": 1, b"!": 1, b"M": 1, b"A": 1, b"K": 1, b"d": 2, b"z": 10}


def decode(data: bytes) -> QlJob:
    """The structure of a raster stream; ValueError at the first byte that is not a command."""
    job, page, pos = QlJob(), QlPage(), 0
    while pos < len(data):
        byte = data[pos : pos + 1]
        if byte == b"\x00":
            end = pos
            while end < len(data) and data[end] == 0:
                end += 1
            job.invalidate_bytes += end - pos
            pos = end
        elif data.startswith(b"\x1b@", pos):
            job.initialized, pos = True, pos + 2
        elif data.startswith(b"\x1biS", pos):
            job.status_requests, pos = job.status_requests + 1, pos + 3
        elif data.startswith(b"\x1biUw\x01", pos):
            pos += 5 + 127
        elif data.startswith(b"\x1biUJ", pos):
            pos += 4 + 14
        elif data.startswith(b"\x1bi", pos) and data[pos + 2 : pos + 3] in _ESC_I:
            letter = data[pos + 2 : pos + 3]
            args = data[pos + 3 : pos + 3 + _ESC_I[letter]]
            if len(args) < _ESC_I[letter]:
                raise ValueError(f"ESC i {letter.decode()} at byte {pos} is cut short")
            if letter == b"z":
                page.media_type = {0x0A: "continuous", 0x0B: "die_cut"}.get(
                    args[1], f"0x{args[1]:02x}"
                )
                page.width_mm, page.length_mm = args[2], args[3]
                page.raster_count = struct.unpack("<L", args[4:8])[0]
            pos += 3 + len(args)
        elif byte == b"M":
            pos += 2
        elif byte in (b"g", b"w"):
            if pos + 3 > len(data):
                raise ValueError(f"raster line at byte {pos} is cut short")
            length = data[pos + 2]
            page.lines, page.row_bytes = page.lines + 1, max(page.row_bytes, length)
            pos += 3 + length
        elif byte == b"Z":
            page.lines, pos = page.lines + 1, pos + 1
        elif byte in (b"\x0c", b"\x1a"):
            page.last = byte == b"\x1a"
            job.pages.append(page)
            page = QlPage(page.media_type, page.width_mm, page.length_mm, page.raster_count)
            pos += 1
        else:
            raise ValueError(f"byte {pos} (0x{data[pos]:02x}) is not a Brother QL raster command")
    return job
