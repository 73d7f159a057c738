"""The label decoders and status parsers: what the hub renders comes back field for field."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from devices.label import brother, status
from devices.label.decoder import Barcode, decode_tspl, decode_zpl
from hub.domain import labels
from hub.domain.barcodes.gtin import check_digit

# Short texts keep every field whole on a 50 x 30 mm label (long ones are cut to fit).
_ascii = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=8)
# TSPL strings cannot carry a backslash: the renderer writes it as '/' (hub/domain/labels.py).
_tspl_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters="\\"),
    min_size=1,
    max_size=8,
)
_unicode = st.text(st.characters(blacklist_categories=("C", "Z")), min_size=1, max_size=8)


@st.composite
def _barcodes(draw: st.DrawFn) -> tuple[str, str]:
    if draw(st.booleans()):
        body = draw(st.text("0123456789", min_size=12, max_size=12))
        return body + str(check_digit(body)), "ean13"
    return draw(
        st.text(st.sampled_from(sorted(labels.CODE128_CHARS)), min_size=1, max_size=12)
    ), "code128"


def _label(title: str, code: tuple[str, str], extra: str) -> labels.Label:
    return labels.Label(title, "£1.99", "", code[0], code[1], (extra,))


@settings(max_examples=60, deadline=None)
@given(_unicode, _barcodes(), _ascii, st.integers(1, 5))
def test_zpl_renders_decode_to_the_same_fields(
    title: str, code: tuple[str, str], extra: str, copies: int
) -> None:
    [got] = decode_zpl(labels.render(_label(title, code, extra), "zpl", copies=copies))
    assert got.texts == [title, "£1.99", extra]
    assert got.barcodes == [Barcode(code[1], code[0])]
    assert got.copies == copies
    assert (got.width_dots, got.height_dots) == (400, 240)


@settings(max_examples=60, deadline=None)
@given(_tspl_text, _barcodes(), _tspl_text, st.integers(1, 5))
def test_tspl_renders_decode_to_the_same_fields(
    title: str, code: tuple[str, str], extra: str, copies: int
) -> None:
    [got] = decode_tspl(labels.render(_label(title, code, extra), "tspl", copies=copies))
    assert got.texts == [title, "£1.99", extra]
    assert got.barcodes == [Barcode(code[1], code[0])]
    assert got.copies == copies


@given(st.binary(max_size=400))
def test_decoders_take_any_bytes(data: bytes) -> None:
    decode_zpl(data)
    decode_tspl(data)
    with contextlib.suppress(ValueError):  # a stream that is not raster says where it stops
        brother.decode(data)


def test_zpl_from_other_software() -> None:
    """Hand-written ZPL as label designers send it: ^FH with another indicator, ^BC with FNC1, ~HS between."""
    data = (
        b"~HS^XA^CI28^FO20,20^A0N,30,30^FH#^FDCaf#C3#A9^FS^FO20,60^BY2^BCN,80,Y,N,N^FD>;>80112345678901234^FS"
        b"^PQ2,0,1,Y^XZ^XA^FO1,1^ADN,18,10^FDsecond^FS^XZ"
    )
    first, second = decode_zpl(data)
    assert first.texts == ["Café"] and first.copies == 2
    assert first.barcodes == [Barcode("code128", "0112345678901234")]
    assert second.texts == ["second"] and second.barcodes == []


def test_tspl_print_sets_and_copies_and_quotes() -> None:
    data = b'SIZE 2 ,1\r\nCLS\r\nTEXT 1,1,"3",0,1,1,"say \\["]hi\\["], ok"\r\nBARCODE 1,40,"39",50,1,0,2,4,"AB-1"\r\nPRINT 2,3\r\n'
    [got] = decode_tspl(data)
    assert got.texts == ['say "hi", ok']
    assert got.barcodes == [Barcode("code39", "AB-1")]
    assert got.copies == 6 and got.width_dots == 406  # 2 inches at 203 dpi


@pytest.mark.parametrize("language", ["zpl", "tspl", "brother_ql"])
@pytest.mark.parametrize("fault", ["", "paper_out", "head_open"])
def test_status_replies_parse_back(language: str, fault: str) -> None:
    make = {"zpl": status.zpl_reply, "tspl": status.tspl_reply, "brother_ql": status.ql_reply}[
        language
    ]
    reply = make(**({fault: True} if fault else {}))
    assert status.complete(language, reply)
    got = status.parse(language, reply)
    assert got.online and got.error == ""
    assert (got.paper_out, got.cover_open) == (fault == "paper_out", fault == "head_open")


def test_paused_printers_say_so_and_garbage_is_refused() -> None:
    assert "paused" in status.parse("zpl", status.zpl_reply(paused=True)).error
    assert "paused" in status.parse("tspl", status.tspl_reply(paused=True)).error
    with pytest.raises(ValueError, match="two status strings"):
        status.parse("zpl", b"\x02nonsense\x03")
    with pytest.raises(ValueError, match="80 20 42"):
        status.parse("brother_ql", b"\x00" * 32)
    assert not status.complete("zpl", status.zpl_reply()[:-10])


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height), 255).save(out, "PNG")
    return out.getvalue()


def test_brother_raster_is_decoded_structurally() -> None:
    job = brother.decode(brother.raster(_png(620, 290), "QL-800", "62x29", copies=2))
    assert job.invalidate_bytes >= 200 and job.initialized and job.status_requests == 2
    assert [(p.media_type, p.width_mm, p.length_mm) for p in job.pages] == [("die_cut", 62, 29)] * 2
    assert all(
        p.lines == p.raster_count == 271 and p.row_bytes == 90 for p in job.pages
    )  # QL-800: 720 dots


def test_brother_continuous_roll_is_as_long_as_the_label() -> None:
    label = labels.Label("Tea", "£1.99", "", "5012345678900", "ean13")
    png = labels.render_png(label, labels.LabelSize(62, 30, 300))
    [page] = brother.decode(brother.raster(png, "QL-800", "62")).pages
    assert (page.media_type, page.width_mm, page.length_mm) == ("continuous", 62, 0)
    # 62 mm at 300 dpi is 732 dots, the roll prints 696: the label is scaled to fit, 354 lines to 337
    assert page.lines == page.raster_count == round(354 * 696 / 732)


def test_brother_raster_names_what_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="QL-9999"):
        brother.raster(_png(10, 10), "QL-9999", "62")
    with pytest.raises(ValueError, match="'63'"):
        brother.raster(_png(10, 10), "QL-800", "63")
    with pytest.raises(ValueError, match="not a Brother QL raster command"):
        brother.decode(b"\x1b@hello")
