"""Shelf labels and item stickers as printer-native bytes (ZPL, TSPL, ESC/POS) or a PNG.

The printer draws the barcode with its own command (ZPL ^BE/^BC, TSPL BARCODE, ESC/POS GS k),
so a label is a few hundred bytes and the bars are as sharp as the print head allows. Text is
made safe for each language here: a name can never end a field or start a command.
"""

from __future__ import annotations

import functools
import io
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import barcode
from PIL import Image, ImageDraw, ImageFont

from hub.domain.barcodes.gtin import check_digit
from hub.domain.money import div_half_up

FORMATS = ("zpl", "tspl", "escpos")
SYMBOLOGIES = ("ean13", "code128")
ESC, GS = b"\x1b", b"\x1d"

MARGIN_MM = 1.5
GAP_MM = 0.5
MIN_BAR_MM = 6.0  # our floor: cut-down EAN-13 bars read poorly on omnidirectional till scanners
MAX_BAR_MM = 15.0
HRI_MM = 3.0  # the digits printed under the bars
# Code 128 data: printable ASCII without ^ ~ > (ZPL command and invocation characters, ZPL II
# Programming Guide ^BC "Code 128 Subsets"), " and \ (TSPL string syntax). A code, not prose.
CODE128_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) - set('^~>"\\')
_FALLBACK = {"€": "EUR", "‘": "'", "’": "'", "‚": ",", "“": '"', "”": '"', "„": '"',
             "–": "-", "—": "-", "−": "-", "…": "..."}


@dataclass(frozen=True)
class LabelSize:
    width_mm: int = 50
    height_mm: int = 30
    dpi: int = 203


DEFAULT_SIZE = LabelSize()


@dataclass(frozen=True)
class Label:
    """What goes on one label, already decided by the hub."""

    title: str  # item name
    price_text: str  # "£2.49" or "2,49 €": the caller formats money
    unit_price_text: str  # "£4.98 per kg" or ""
    barcode: str  # the digits (EAN-13: all 13) or Code 128 data
    symbology: str  # ean13 | code128
    lines: tuple[str, ...] = ()  # small extra lines: SKU, "Packed 2026-11-27", "Net 0.512 kg"


def unit_price_text(unit: str, price_minor: int, net_content: int, net_unit: str,
                    fmt_money: Callable[[int], str]) -> str:
    """The price per kg or per litre a shelf label must show (EU 98/6/EC, UK Price Marking Order)."""
    per = {"g": "kg", "ml": "l"}
    if unit in per:  # weighed and measured goods are priced per kg / per litre already
        return f"{fmt_money(price_minor)} per {per[unit]}"
    if unit == "each" and net_unit in per and net_content > 0:
        return f"{fmt_money(div_half_up(price_minor * 1000, net_content))} per {per[net_unit]}"
    return ""


# -- text ---------------------------------------------------------------------------------------

def _plain(text: str) -> str:
    """Control characters and line separators end a command line or start a command: spaces."""
    return "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)


def _legacy(text: str, codec: str) -> str:
    """text with what codec cannot carry spelled another way (€ as EUR, ő as o) or as '?'."""
    out = []
    for c in text:
        try:
            c.encode(codec)
            out.append(c)
        except UnicodeEncodeError:
            alt = _FALLBACK.get(c) or "".join(d for d in unicodedata.normalize("NFKD", c)
                                              if d.isprintable() and _fits(d, codec))
            out.append(alt or "?")
    return "".join(out)


def _fits(c: str, codec: str) -> bool:
    try:
        c.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def _zpl_field(text: str) -> str:
    """^FH_ field data: ^ ~ _ and everything not plain ASCII as _XX bytes of UTF-8 (^CI28)."""
    return "".join(c if c.isascii() and c.isprintable() and c not in "^~_"
                   else "".join(f"_{b:02X}" for b in c.encode()) for c in text)


def _tspl_string(text: str) -> str:
    # TSPL/TSPL2 Programming Manual, TEXT: a double quote inside the string is written \["].
    # A backslash could start such an escape (or, cut short, sit before the closing quote): '/'.
    return text.replace("\\", "/").replace('"', '\\["]')


# -- layout -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Font:
    name: str  # the printer's own font name
    width: int  # dots per character; an estimate for ZPL's proportional font 0
    height: int


@dataclass(frozen=True)
class _Text:
    x: int
    y: int
    font: _Font
    text: str


@dataclass(frozen=True)
class _Bars:
    x: int
    y: int
    module: int
    height: int


def _check(label: Label, fmt: str, size: LabelSize, copies: int) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"label format {fmt!r} is not one of {', '.join(FORMATS)}")
    if copies < 1:
        raise ValueError(f"copies {copies} must be 1 or more")
    if min(size.width_mm, size.height_mm, size.dpi) <= 0:
        raise ValueError(f"label size {size} must be positive")
    code = label.barcode
    if label.symbology == "ean13":
        if len(code) != 13 or not code.isascii() or not code.isdigit() or check_digit(code[:12]) != int(code[12]):
            raise ValueError(f"EAN-13 {code!r} must be 13 digits ending in its check digit")
    elif label.symbology == "code128":
        if not 1 <= len(code) <= 48 or not set(code) <= CODE128_CHARS:
            raise ValueError(f"Code 128 data {code!r} must be 1-48 printable ASCII characters without ^ ~ > \" \\")
    else:
        raise ValueError(f"symbology {label.symbology!r} is not one of {', '.join(SYMBOLOGIES)}")


def _modules(label: Label) -> tuple[int, int]:
    """Modules of the symbol with its quiet zones, and of the left quiet zone (ISO/IEC 15420, 15417)."""
    if label.symbology == "ean13":
        return 11 + 95 + 7, 11
    return 10 + 11 * (len(label.barcode) + 2) + 13 + 10, 10  # start, data (subset B), check, stop


def _dots(mm: float, dpi: int) -> int:
    return round(mm * dpi / 25.4)


def _price_font(text: str, room: int, fonts: tuple[_Font, ...]) -> _Font:
    """The largest font the whole price fits in: a name may be cut, a price never."""
    for font in fonts:
        if len(text) * font.width <= room:
            return font
    raise ValueError(f"price {text!r} does not fit across the label even in small print; shorten it")


def _layout(label: Label, size: LabelSize, title: _Font, prices: tuple[_Font, ...],
            small: _Font) -> tuple[list[_Text], _Bars]:
    """Title across the top; price, with unit price and extra lines beside it; the barcode below."""
    width, height = _dots(size.width_mm, size.dpi), _dots(size.height_mm, size.dpi)
    margin, gap = _dots(MARGIN_MM, size.dpi), max(1, _dots(GAP_MM, size.dpi))
    usable = width - 2 * margin
    texts = [_Text(margin, margin, title, label.title[:usable // title.width])]
    price_y = margin + title.height + gap
    price_text = label.price_text
    price = _price_font(price_text, usable, prices)
    texts.append(_Text(margin, price_y, price, price_text))
    smalls = ([label.unit_price_text] if label.unit_price_text else []) + list(label.lines)
    beside = len(price_text) * price.width + 2 * gap
    if beside > usable // 2:  # a long price: the small lines go under it
        x, top = margin, price_y + price.height + gap
    else:
        x, top = margin + beside, price_y
    for i, line in enumerate(smalls):
        texts.append(_Text(x, top + i * (small.height + gap), small, line[:(width - margin - x) // small.width]))
    y = max(price_y + price.height, top + len(smalls) * (small.height + gap) - gap) + 2 * gap
    total, quiet = _modules(label)
    module = min(width // total, max(1, _dots(0.66, size.dpi)))  # up to 200 % of 0.33 mm
    if module < 1:
        raise ValueError(f"the barcode {label.barcode} needs {total} dots across; the label has {width}")
    bar_height = min(height - margin - _dots(HRI_MM, size.dpi) - y, _dots(MAX_BAR_MM, size.dpi))
    if bar_height < _dots(MIN_BAR_MM, size.dpi):
        raise ValueError(f"a {size.width_mm} x {size.height_mm} mm label has no room for {len(smalls)} small "
                         f"lines and a barcode at least {MIN_BAR_MM:g} mm tall; drop lines or use a taller label")
    bars = _Bars((width - total * module) // 2 + quiet * module, y, module, bar_height)
    return texts, bars


# -- the three languages ------------------------------------------------------------------------

def _zpl(label: Label, size: LabelSize, copies: int) -> bytes:
    """ZPL II Programming Guide: ^CI28 UTF-8, ^FH hex escapes, ^A0 scalable font, ^BE, ^BC, ^PQ."""
    def font(mm: float) -> _Font:
        h = _dots(mm, size.dpi)
        return _Font("0", math.ceil(h * 0.6), h)  # font 0 at width = height: most glyphs are narrower

    texts, bars = _layout(_clean(label, "utf-8"), size, font(3.0), (font(5.0), font(4.0), font(3.0)), font(2.5))
    out = ["^XA", "^CI28", f"^PW{_dots(size.width_mm, size.dpi)}", f"^LL{_dots(size.height_mm, size.dpi)}", "^LH0,0"]
    out += [f"^FO{t.x},{t.y}^A0N,{t.font.height},{t.font.height}^FH_^FD{_zpl_field(t.text)}^FS" for t in texts]
    out.append(f"^BY{bars.module}")
    if label.symbology == "ean13":  # ^BE takes 12 digits and prints the check digit it computes
        out.append(f"^FO{bars.x},{bars.y}^BEN,{bars.height},Y,N^FD{label.barcode[:12]}^FS")
    else:  # >: starts subset B (^BC, Table "Code 128 Invocation Characters")
        out.append(f"^FO{bars.x},{bars.y}^BCN,{bars.height},Y,N,N^FD>:{label.barcode}^FS")
    out += [f"^PQ{copies}", "^XZ"]
    return ("\n".join(out) + "\n").encode("ascii")


# TSPL bitmap fonts at 203 dpi (TSPL/TSPL2 Programming Manual, TEXT): name -> width, height.
_TSPL_FONTS = {"2": (12, 20), "3": (16, 24), "4": (24, 32), "5": (32, 48)}


def _tspl(label: Label, size: LabelSize, copies: int) -> bytes:
    """TSPL/TSPL2 Programming Manual: SIZE, GAP, CODEPAGE, CLS, TEXT, BARCODE, PRINT."""
    def font(name: str) -> _Font:
        w, h = _TSPL_FONTS[name]
        return _Font(name, round(w * size.dpi / 203), round(h * size.dpi / 203))

    texts, bars = _layout(_clean(label, "cp1252"), size, font("3"), (font("5"), font("4"), font("3")), font("2"))
    out = [f"SIZE {size.width_mm} mm,{size.height_mm} mm", "GAP 2 mm,0 mm", "CODEPAGE 1252", "CLS"]
    out += [f'TEXT {t.x},{t.y},"{t.font.name}",0,1,1,"{_tspl_string(t.text)}"' for t in texts]
    # BARCODE x,y,"type",height,human readable,rotation,narrow,wide,"code": EAN13 takes 12 digits
    # and adds the check digit; "128" switches subsets by itself.
    kind, data = ("EAN13", label.barcode[:12]) if label.symbology == "ean13" else ("128", label.barcode)
    out.append(f'BARCODE {bars.x},{bars.y},"{kind}",{bars.height},1,0,{bars.module},{bars.module},"{data}"')
    out.append(f"PRINT 1,{copies}")
    return ("\r\n".join(out) + "\r\n").encode("cp1252")


def _escpos(label: Label, size: LabelSize, copies: int) -> bytes:
    """Epson ESC/POS Command Reference: ESC @, ESC t 0 (PC437), ESC E, GS !, GS h/w/H, GS k, GS V."""
    clean = _clean(label, "cp437")
    width = _dots(size.width_mm, size.dpi)
    chars = width // 12  # font A is 12 x 24 dots; GS ! 0x11 doubles both
    total, _ = _modules(label)
    module = min(width // total, 6)
    if module < 2:  # GS w takes 2-6; a symbol wider than the line is not printed at all
        raise ValueError(f"the barcode {label.barcode} needs {2 * total} dots across; a {size.width_mm} mm line "
                         f"has {width}: use a wider size")
    if label.symbology == "ean13":  # m = 67, n = 12: the printer adds the check digit
        symbol = GS + b"k" + bytes([67, 12]) + label.barcode[:12].encode()
    else:  # m = 73: data starts with the code set, {B; a literal { is {{
        data = b"{B" + label.barcode.replace("{", "{{").encode()
        symbol = GS + b"k" + bytes([73, len(data)]) + data

    def line(text: str, limit: int) -> bytes:
        return text[:limit].encode("cp437") + b"\n"

    one = ESC + b"E\x01" + line(clean.title, chars) + ESC + b"E\x00"
    if len(clean.price_text) > chars:
        raise ValueError(f"price {clean.price_text!r} does not fit a {chars}-character line; shorten it")
    big = 2 * len(clean.price_text) <= chars  # double width and height when the whole price fits
    one += GS + (b"!\x11" if big else b"!\x00") + line(clean.price_text, chars) + GS + b"!\x00"
    for text in ([clean.unit_price_text] if clean.unit_price_text else []) + list(clean.lines):
        one += line(text, chars)
    one += GS + b"h" + bytes([min(255, _dots(10, size.dpi))]) + GS + b"w" + bytes([module]) + GS + b"H\x02"
    one += symbol + ESC + b"d\x04" + GS + b"V\x00"  # feed past the cutter, then cut
    return ESC + b"@" + ESC + b"t\x00" + ESC + b"a\x01" + one * copies


def _clean(label: Label, codec: str) -> Label:
    def text(s: str) -> str:
        return _legacy(_plain(s), codec)

    return Label(text(label.title), text(label.price_text), text(label.unit_price_text), label.barcode,
                 label.symbology, tuple(text(s) for s in label.lines))


@functools.cache
def _png_font(height: int) -> ImageFont.FreeTypeFont | None:
    """DejaVu Sans (Debian's fonts-dejavu-core) for names in any script; None without it, and
    the text is written in ASCII with Pillow's own font."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", height)
    except OSError:
        return None


def render_png(label: Label, size: LabelSize = DEFAULT_SIZE) -> bytes:
    """The label as a 1-bit PNG at size's dpi, for printers that take an image (Brother QL raster).

    Same layout as the printer languages; the bars are drawn here, module by module, from
    python-barcode's pattern (EAN-13 with its check digit, Code 128).
    """
    _check(label, "zpl", size, 1)
    clean = _clean(label, "utf-8" if _png_font(10) is not None else "ascii")

    def font(mm: float) -> _Font:
        h = _dots(mm, size.dpi)
        return _Font("", math.ceil(h * 0.6), h)

    texts, bars = _layout(clean, size, font(3.0), (font(5.0), font(4.0), font(3.0)), font(2.5))
    width, height = _dots(size.width_mm, size.dpi), _dots(size.height_mm, size.dpi)
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    for t in texts:
        draw.text((t.x, t.y), t.text, fill=0, font=_png_font(t.font.height) or ImageFont.load_default(t.font.height))
    kind = "ean13" if label.symbology == "ean13" else "code128"
    pattern: str = barcode.get(kind, label.barcode[:12] if kind == "ean13" else label.barcode).build()[0]
    for i, module in enumerate(pattern):
        if module == "1":
            x = bars.x + i * bars.module
            draw.rectangle((x, bars.y, x + bars.module - 1, bars.y + bars.height - 1), fill=0)
    hri = _dots(HRI_MM, size.dpi)
    draw.text((bars.x, bars.y + bars.height + 1), label.barcode, fill=0,
              font=ImageFont.load_default(size=max(8, hri - 2)))  # digits: any font has them
    out = io.BytesIO()
    image.save(out, "PNG", dpi=(size.dpi, size.dpi))
    return out.getvalue()


def render(label: Label, fmt: str, size: LabelSize = DEFAULT_SIZE, copies: int = 1) -> bytes:
    """The label as bytes for a printer speaking fmt (zpl, tspl or escpos); ValueError if it cannot be."""
    _check(label, fmt, size, copies)
    return {"zpl": _zpl, "tspl": _tspl, "escpos": _escpos}[fmt](label, size, copies)
