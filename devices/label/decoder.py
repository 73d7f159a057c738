"""Read ZPL and TSPL label streams back: each label's text fields, barcodes and copies.

Pure: bytes in, DecodedLabel out. The simulator uses it to say what a real printer would have
printed; tests use it to check what the hub sent. It understands the commands our renderer
(hub/domain/labels.py) and common label software send, and skips the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ZPL_STATUS_QUERY = b"~HS"
TSPL_STATUS_QUERY = b"\x1b!?"


@dataclass(frozen=True)
class Barcode:
    symbology: str  # ean13 | code128 | the printer's own name for others
    data: str  # as printed: an EAN-13 with the check digit the printer adds


@dataclass
class DecodedLabel:
    language: str
    texts: list[str] = field(default_factory=list)
    barcodes: list[Barcode] = field(default_factory=list)
    copies: int = 1
    width_dots: int = 0
    height_dots: int = 0


def ean13_check(digits12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits12))
    return str((10 - total % 10) % 10)


def _ean13(data: str) -> str:
    return data + ean13_check(data) if len(data) == 12 and data.isdigit() else data


# -- ZPL (ZPL II Programming Guide) -----------------------------------------------------------

_ZPL_COMMAND = re.compile(rb"([\^~])([A-Za-z@][A-Za-z0-9@]?)")
_ZPL_BARCODES = {
    "BE": "ean13",
    "BC": "code128",
    "B3": "code39",
    "BU": "upca",
    "B8": "ean8",
    "BQ": "qr",
}
_CODE128_INVOCATIONS = re.compile(r">[0-9:;<=>]")


def _unhex(raw: bytes, indicator: bytes) -> bytes:
    """^FH field data: indicator + two hex digits is that byte."""
    if not indicator:
        return raw
    return re.sub(
        re.escape(indicator) + rb"([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw
    )


def decode_zpl(data: bytes) -> list[DecodedLabel]:
    """Every complete ^XA ... ^XZ format in data."""
    labels: list[DecodedLabel] = []
    label: DecodedLabel | None = None
    encoding, field_kind, hex_indicator = "cp850", "", b""
    pos = 0
    while (m := _ZPL_COMMAND.search(data, pos)) is not None:
        name = m.group(2).decode().upper()
        if m.group(1) == b"~":  # ~HS and other immediate commands: the simulator answers them
            pos = m.start() + 3
            continue
        name = name if name[:1] != "A" else "A"  # ^A0N,30,30: the font name is the second letter
        start = m.start() + 1 + len(name)
        if name == "FD":
            end = data.find(b"^FS", start)
            if end < 0:
                break
            text = _unhex(data[start:end], hex_indicator).decode(encoding, "replace")
            if label is not None:
                if field_kind:
                    value = _CODE128_INVOCATIONS.sub("", text) if field_kind == "code128" else text
                    label.barcodes.append(
                        Barcode(field_kind, _ean13(value) if field_kind == "ean13" else value)
                    )
                else:
                    label.texts.append(text)
            field_kind, hex_indicator = "", b""
            pos = end + 3
            continue
        nxt = _ZPL_COMMAND.search(data, start)
        args = data[start : nxt.start() if nxt else len(data)].decode("latin-1").strip()
        pos = nxt.start() if nxt else len(data)
        if name == "XA":
            label, field_kind, hex_indicator = DecodedLabel("zpl"), "", b""
        elif name == "XZ" and label is not None:
            labels.append(label)
            label = None
        elif label is None:
            continue
        elif name == "CI":
            encoding = "utf-8" if args.split(",")[0] in ("28", "29", "30") else "cp850"
        elif name == "FH":
            hex_indicator = (args or "_")[:1].encode("latin-1")
        elif name in _ZPL_BARCODES:
            field_kind = _ZPL_BARCODES[name]
        elif name == "PQ" and args.split(",")[0].isdigit():
            label.copies = max(1, int(args.split(",")[0]))
        elif name == "PW" and args.isdigit():
            label.width_dots = int(args)
        elif name == "LL" and args.split(",")[0].isdigit():
            label.height_dots = int(args.split(",")[0])
        elif name == "FS":
            field_kind, hex_indicator = "", b""
    return labels


# -- TSPL (TSPL/TSPL2 Programming Manual) ------------------------------------------------------

_TSPL_ARG = re.compile(r'\s*(?:"((?:\\\["\]|[^"])*)"|([^,]*))\s*(?:,|$)')
_TSPL_BARCODES = {
    "EAN13": "ean13",
    "128": "code128",
    "128M": "code128",
    "39": "code39",
    "EAN8": "ean8",
}


def _tspl_args(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        m = _TSPL_ARG.match(text, pos)
        if m is None or m.end() == pos:
            break
        out.append(
            m.group(1).replace('\\["]', '"') if m.group(1) is not None else m.group(2).strip()
        )
        pos = m.end()
    return out


def _mm_to_dots(arg: str, dpi: int) -> int:
    number = re.match(r"[\d.]+", arg.strip())
    if number is None:
        return 0
    value = float(number.group())
    return round(value * dpi / 25.4) if "mm" in arg else round(value * dpi)  # no unit: inches


def decode_tspl(data: bytes, dpi: int = 203) -> list[DecodedLabel]:
    """Every label a PRINT command prints; status queries (<ESC>!?) are left out."""
    labels: list[DecodedLabel] = []
    current = DecodedLabel("tspl")
    encoding = "cp1252"
    for raw in data.replace(TSPL_STATUS_QUERY, b"").split(b"\n"):
        line = raw.rstrip(b"\r").decode(encoding, "replace").strip()
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "SIZE":
            dims = rest.split(",")
            current.width_dots = _mm_to_dots(dims[0], dpi)
            current.height_dots = _mm_to_dots(dims[1], dpi) if len(dims) > 1 else 0
        elif word == "CODEPAGE":
            encoding = (
                "utf-8"
                if rest.strip().upper() == "UTF-8"
                else f"cp{rest.strip()}"
                if rest.strip().isdigit()
                else encoding
            )
        elif word == "CLS":
            current = DecodedLabel(
                "tspl", width_dots=current.width_dots, height_dots=current.height_dots
            )
        elif word == "TEXT":
            args = _tspl_args(rest)
            if len(args) >= 7:
                current.texts.append(args[6])
        elif word == "BARCODE":
            args = _tspl_args(rest)
            if len(args) >= 9:
                kind = _TSPL_BARCODES.get(args[2].upper(), args[2].lower())
                current.barcodes.append(
                    Barcode(kind, _ean13(args[8]) if kind == "ean13" else args[8])
                )
        elif word == "PRINT":
            counts = [int(a) for a in rest.split(",") if a.strip().isdigit()] or [1]
            sets, each = counts[0], counts[1] if len(counts) > 1 else 1
            labels.append(
                DecodedLabel(
                    "tspl",
                    list(current.texts),
                    list(current.barcodes),
                    max(1, sets * each),
                    current.width_dots,
                    current.height_dots,
                )
            )
    return labels
