"""Label jobs: each format is read back by a small parser of its own language, as a printer would."""

import re
import unicodedata
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.barcodes import check_digit, parse
from hub.domain.barcodes.encode import internal_code, rcn_label_code
from hub.domain.labels import FORMATS, Label, LabelSize, render, unit_price_text

ESC, GS = 0x1B, 0x1D


@dataclass
class Job:
    """What a printer would do with the bytes: the texts in order, the barcodes, the copies."""

    texts: list[str] = field(default_factory=list)
    barcodes: list[tuple[str, str]] = field(default_factory=list)  # (symbology, data sent)
    copies: int = 0
    size: tuple[int, int] = (0, 0)  # dots for ZPL, mm for TSPL
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # x, y, width, height in dots


# -- ZPL ----------------------------------------------------------------------------------------

def _unhex(data: str) -> str:
    raw = bytearray()
    i = 0
    while i < len(data):
        if data[i] == "_":
            raw.append(int(data[i + 1:i + 3], 16))
            i += 3
        else:
            raw.append(ord(data[i]))
            i += 1
    return raw.decode("utf-8")


def read_zpl(data: bytes) -> Job:
    text = data.decode("ascii")  # every other byte must have gone through ^FH
    assert "~" not in text, "a ~ starts a ZPL control command anywhere in the stream"
    head, *commands = text.split("^")
    assert head == ""
    names = [c[:1] if c[:1] == "A" else c[:2] for c in commands]
    assert names[0] == "XA" and names[-1] == "XZ" and names.count("XA") == names.count("XZ") == 1
    job, hexed, symbol, fd = Job(), False, "", None
    origin, height, module = (0, 0), 0, 0
    for cmd, name in zip(commands, names, strict=True):
        args = cmd[len(name):].rstrip("\n")
        if name == "PW":
            job.size = (int(args), job.size[1])
        elif name == "LL":
            job.size = (job.size[0], int(args))
        elif name == "FO":
            x, y = args.split(",")
            origin = (int(x), int(y))
        elif name == "A":
            height = int(args.split(",")[1])
        elif name == "FH":
            assert args == "_"
            hexed = True
        elif name == "BY":
            module = int(args)
        elif name in ("BE", "BC"):
            symbol, height = name, int(args.split(",")[1])
        elif name == "FD":
            fd = args
        elif name == "FS":
            assert fd is not None
            if symbol:
                job.barcodes.append(({"BE": "ean13", "BC": "code128"}[symbol], fd))
                modules = 95 if symbol == "BE" else 11 * (len(fd) - 2 + 2) + 13
                job.boxes.append((*origin, modules * module, height + 24))  # 24: the digits under it
            else:
                job.texts.append(_unhex(fd) if hexed else fd)
                job.boxes.append((*origin, 0, height))
            hexed, symbol, fd = False, "", None
        elif name == "PQ":
            job.copies = int(args)
        else:
            assert name in ("XA", "XZ", "CI", "LH"), name
    return job


# -- TSPL ---------------------------------------------------------------------------------------

def _tspl_args(rest: str) -> list[str]:
    """Comma-separated arguments; "strings" with \\["] for a quote. Fails on a broken string."""
    args: list[str] = []
    i = 0
    while i <= len(rest):
        if rest[i:i + 1] == '"':
            i, value = i + 1, ""
            while rest[i] != '"':
                if rest.startswith('\\["]', i):
                    value, i = value + '"', i + 4
                else:
                    value, i = value + rest[i], i + 1
            i += 1
        else:
            end = rest.find(",", i)
            end = len(rest) if end < 0 else end
            value, i = rest[i:end], end
        args.append(value)
        assert i == len(rest) or rest[i] == ",", f"junk after an argument in {rest!r}"
        i += 1
    return args


_TSPL_FONTS = {"2": (12, 20), "3": (16, 24), "4": (24, 32), "5": (32, 48)}


def read_tspl(data: bytes) -> Job:
    lines = data.decode("cp1252").split("\r\n")
    assert lines[-1] == ""
    job = Job()
    names = [line.split(" ", 1)[0] for line in lines[:-1]]
    assert names[:4] == ["SIZE", "GAP", "CODEPAGE", "CLS"] and names[-1] == "PRINT"
    for line, name in zip(lines[:-1], names, strict=True):
        rest = line[len(name) + 1:]
        assert "\r" not in rest and "\n" not in rest
        if name == "SIZE":
            w, h = re.fullmatch(r"(\d+) mm,(\d+) mm", rest).groups()  # type: ignore[union-attr]
            job.size = (int(w), int(h))
        elif name == "TEXT":
            x, y, font, rotation, xm, ym, content = _tspl_args(rest)
            assert (rotation, xm, ym) == ("0", "1", "1")
            job.texts.append(content)
            w, h = _TSPL_FONTS[font]
            job.boxes.append((int(x), int(y), w * len(content), h))
        elif name == "BARCODE":
            x, y, kind, height, _, _, narrow, wide, content = _tspl_args(rest)
            assert narrow == wide
            job.barcodes.append(({"EAN13": "ean13", "128": "code128"}[kind], content))
            modules = 95 if kind == "EAN13" else 11 * (len(content) + 2) + 13
            job.boxes.append((int(x), int(y), modules * int(narrow), int(height) + 24))
        elif name == "PRINT":
            sets, copies = _tspl_args(rest)
            assert sets == "1"
            job.copies = int(copies)
        else:
            assert name in ("GAP", "CODEPAGE", "CLS"), name
    return job


# -- ESC/POS ------------------------------------------------------------------------------------

_ONE_ARG = {(ESC, ord(c)) for c in "taEd"} | {(GS, ord(c)) for c in "!hwHV"}


def read_escpos(data: bytes) -> Job:
    """Walks the bytes as a printer does; any control byte that is not a known command fails."""
    jobs: list[Job] = []
    job, line = Job(), bytearray()
    assert data[:5] == bytes([ESC, ord("@"), ESC, ord("t"), 0])  # reset, then code page PC437
    i = 2
    while i < len(data):
        b = data[i]
        if (b, data[i + 1] if i + 1 < len(data) else -1) in _ONE_ARG:
            if b == GS and data[i + 1] == ord("V"):
                jobs.append(job)
                job = Job()
            i += 3
        elif b == GS and data[i + 1] == ord("k"):
            m, n = data[i + 2], data[i + 3]
            payload = data[i + 4:i + 4 + n].decode("ascii")
            assert m in (67, 73) and len(payload) == n
            job.barcodes.append(("ean13", payload) if m == 67 else ("code128", payload))
            i += 4 + n
        elif b == 0x0A:
            job.texts.append(line.decode("cp437"))
            line = bytearray()
            i += 1
        else:
            assert b >= 0x20, f"control byte {b:#04x} at {i} in {data!r}"
            line.append(b)
            i += 1
    assert not line and job == Job(), "bytes after the last cut"
    assert all(j == jobs[0] for j in jobs)
    first = jobs[0]
    return Job(first.texts, first.barcodes, len(jobs))


READ = {"zpl": read_zpl, "tspl": read_tspl, "escpos": read_escpos}
LIMIT = {"zpl": 25, "tspl": 23, "escpos": 33}  # title characters across a 50 mm label at 203 dpi


def _code128_data(fmt: str, sent: str) -> str:
    return {"zpl": sent.removeprefix(">:"), "escpos": sent.removeprefix("{B").replace("{{", "{")}.get(fmt, sent)


SHELF = Label("Strawberry jam", "£2.49", "£4.98 per kg", "4006381333931", "ean13", ("SKU JAM-500", "Net 500 g"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_carries_the_label(fmt: str) -> None:
    job = READ[fmt](render(SHELF, fmt, copies=3))
    assert job.texts == ["Strawberry jam", "£2.49", "£4.98 per kg", "SKU JAM-500", "Net 500 g"]
    [(symbology, sent)] = job.barcodes
    # The printers take 12 digits and print the check digit they compute: it must be ours.
    assert (symbology, sent) == ("ean13", "400638133393")
    assert str(check_digit(sent)) == SHELF.barcode[12]
    assert job.copies == 3


def test_zpl_and_tspl_keep_everything_on_the_label() -> None:
    size = LabelSize(50, 30, 203)
    zpl = read_zpl(render(SHELF, "zpl", size))
    assert zpl.size == (400, 240)
    tspl = read_tspl(render(SHELF, "tspl", size))
    assert tspl.size == (50, 30)
    _assert_inside(zpl, 400, 240)
    _assert_inside(tspl, 400, 240)


def _assert_inside(job: Job, width: int, height: int) -> None:
    for x, y, w, h in job.boxes:
        assert x >= 0 and y >= 0 and x + w <= width and y + h <= height, (x, y, w, h)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_internal_code_as_code128(fmt: str) -> None:
    code = internal_code("04", 42)
    job = READ[fmt](render(Label("Bread", "£1.20", "", code, "code128"), fmt))
    [(symbology, sent)] = job.barcodes
    assert (symbology, _code128_data(fmt, sent)) == ("code128", code)
    assert job.texts == ["Bread", "£1.20"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_weighed_goods_label_carries_its_price_in_the_barcode(fmt: str) -> None:
    code = rcn_label_code("rcn_price", "01234", 637, "GB")
    label = Label("Cheddar, mature", "£6.37", unit_price_text("g", 1244, 0, "", lambda m: f"£{m / 100:.2f}"),
                  code, "ean13", ("Net 0.512 kg", "Packed 2026-11-27", "Use by 2026-12-04"))
    job = READ[fmt](render(label, fmt, LabelSize(58, 40)))
    _assert_inside(job, 464, 320)  # 58 x 40 mm at 203 dpi; ESC/POS has no boxes
    assert job.texts[2:] == ["£12.44 per kg", "Net 0.512 kg", "Packed 2026-11-27", "Use by 2026-12-04"]
    [(_, sent)] = job.barcodes
    printed = sent + str(check_digit(sent))
    p = parse(printed, "GB")
    assert (printed, p.kind, p.price_minor, p.item_ref) == (code, "rcn_price", 637, "01234")


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_text_is_escaped_not_obeyed(fmt: str) -> None:
    title = 'Crème "brûlée" ^XZ~JA \\["] {B\x1b@\x1dV\x00\r\nPRINT 9'
    job = READ[fmt](render(Label(title, '2,49 €', "", SHELF.barcode, "ean13", ('5" ^FS',)), fmt))
    assert len(job.barcodes) == 1 and job.copies == 1
    want = {"zpl": 'Crème "brûlée" ^XZ~JA \\["', "tspl": 'Crème "brûlée" ^XZ~JA /',
            "escpos": 'Crème "brûlée" ^XZ~JA \\["] {B @ V'}[fmt]
    assert job.texts[0] == want
    assert job.texts[1] == ("2,49 EUR" if fmt == "escpos" else "2,49 €")  # cp437 has no euro sign
    assert job.texts[2] == '5" ^FS'


@pytest.mark.parametrize("fmt", FORMATS)
def test_long_names_are_cut_to_the_label_width(fmt: str) -> None:
    job = READ[fmt](render(Label("Ü" * 120 + "x" * 80, "£1", "", SHELF.barcode, "ean13"), fmt))
    title = job.texts[0]
    assert title == "Ü" * LIMIT[fmt]
    wide = read_escpos(render(Label("x" * 200, "£1", "", SHELF.barcode, "ean13"), "escpos", LabelSize(72, 30)))
    assert wide.texts[0] == "x" * 47  # 72 mm is 575 dots: 47 characters of 12-dot font A


def _as_printed(title: str) -> str:
    return "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in title)


@given(st.text(max_size=250), st.sampled_from(FORMATS), st.integers(1, 3))
def test_no_title_breaks_the_job(title: str, fmt: str, copies: int) -> None:
    job = READ[fmt](render(Label(title, "£1.00", "£2.00 per kg", SHELF.barcode, "ean13"), fmt, copies=copies))
    assert job.barcodes == [("ean13", "400638133393")] and job.copies == copies
    assert job.texts[1:] == ["£1.00", "£2.00 per kg"]
    printed = job.texts[0]
    if fmt == "zpl":  # UTF-8: every character survives, control characters as spaces
        assert printed == _as_printed(title)[:len(printed)]
        assert len(printed) == min(len(title), LIMIT[fmt])
    assert len(printed) <= LIMIT[fmt]


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="\\"), max_size=60),
       st.sampled_from(FORMATS))
def test_printable_ascii_titles_arrive_as_written(title: str, fmt: str) -> None:
    printed = READ[fmt](render(Label(title, "£1", "", SHELF.barcode, "ean13"), fmt)).texts[0]
    assert printed == title[:LIMIT[fmt]]


@pytest.mark.parametrize(("label", "fmt", "copies", "message"), [
    (Label("x", "£1", "", "4006381333932", "ean13"), "zpl", 1, "check digit"),
    (Label("x", "£1", "", "400638133393", "ean13"), "zpl", 1, "13 digits"),
    (Label("x", "£1", "", "AB^FS", "code128"), "zpl", 1, "printable ASCII"),
    (Label("x", "£1", "", 'A"B', "code128"), "tspl", 1, "printable ASCII"),
    (Label("x", "£1", "", "4006381333931", "qr"), "zpl", 1, "symbology"),
    (Label("x", "£1", "", "4006381333931", "ean13"), "pdf", 1, "label format"),
    (Label("x", "£1", "", "4006381333931", "ean13"), "tspl", 0, "copies"),
    (Label("x", "£1", "u", "4006381333931", "ean13", ("a", "b", "c", "d", "e")), "zpl", 1, "no room"),
    (Label("x", "£1", "", "A" * 40, "code128"), "escpos", 1, "wider size"),
])
def test_what_cannot_print_is_refused(label: Label, fmt: str, copies: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render(label, fmt, copies=copies)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_long_price_gets_smaller_print_never_cut(fmt: str) -> None:
    for price in ("12.99 GBP per kg", "£1234.56"):
        job = READ[fmt](render(Label("Ham", price, "", SHELF.barcode, "ean13"), fmt))
        assert job.texts[1] == price
    with pytest.raises(ValueError, match="does not fit"):
        render(Label("Ham", "1" * 40, "", SHELF.barcode, "ean13"), fmt)


def test_code128_braces_are_doubled_for_escpos() -> None:
    [(_, sent)] = read_escpos(render(Label("x", "£1", "", "A{1}", "code128"), "escpos")).barcodes
    assert sent == "{BA{{1}"


def test_300_dpi_scales_the_layout() -> None:
    job = read_zpl(render(SHELF, "zpl", LabelSize(50, 30, 300)))
    assert job.size == (591, 354) and job.texts[0] == "Strawberry jam"


def _money(minor: int) -> str:
    return f"£{minor // 100}.{minor % 100:02d}"


@pytest.mark.parametrize(("args", "want"), [
    (("each", 249, 500, "g"), "£4.98 per kg"),  # a 500 g jar at 2.49
    (("each", 100, 330, "ml"), "£3.03 per l"),  # a 330 ml can at 1.00: 3.0303...
    (("g", 1299, 0, ""), "£12.99 per kg"),  # weighed goods are priced per kg already
    (("ml", 450, 0, ""), "£4.50 per l"),
    (("each", 150, 0, "g"), ""),  # no net content known
    (("each", 150, 0, ""), ""),
    (("each", 125, 750, "ml"), "£1.67 per l"),  # 1.6666...: half up
    (("each", 1, 2000, "g"), "£0.01 per kg"),  # 0.005 rounds half up
])
def test_unit_price_text(args: tuple, want: str) -> None:
    assert unit_price_text(*args, _money) == want
