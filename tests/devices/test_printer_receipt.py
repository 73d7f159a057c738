"""Receipt layout: what render() puts on paper, read back with the simulator's decoder."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.bus import PrintReceipt, ReceiptLine
from devices.printer.receipt import columns, render
from devices.printer.simulator import decode

ESC, GS = b"\x1b", b"\x1d"


def shop_job(**changes: object) -> PrintReceipt:
    fields: dict[str, object] = {
        "job_id": "sale-42",
        "header": ["Corner Shop", "1 Main Street"],
        "lines": [ReceiptLine("Milk 1L", "1.99"), ReceiptLine("Sourdough loaf", "4.20")],
        "totals": [ReceiptLine("TOTAL", "6.19"), ReceiptLine("Card", "6.19")],
        "footer": ["Thank you!"],
        "barcode": "S-000123",
        "open_drawer": True,
    }
    fields.update(changes)
    return PrintReceipt(**fields)  # type: ignore[arg-type]


def test_render_is_deterministic() -> None:
    assert render(shop_job()) == render(shop_job())


def test_render_frames_the_job_with_init_and_cut() -> None:
    data = render(shop_job())
    assert data.startswith(ESC + b"@")
    assert data.endswith(GS + b"V\x00")


def test_receipt_reads_back_as_laid_out() -> None:
    [receipt] = decode(render(shop_job()))
    lines = receipt.text.splitlines()
    assert lines[0].strip() == "Corner Shop"
    assert lines[0].startswith(" " * 10), "header is centered"
    assert "Milk 1L                               1.99" in lines
    assert "TOTAL                                 6.19" in lines
    assert "Thank you!" in receipt.text
    assert receipt.barcodes == [("CODE128", "S-000123")]
    assert receipt.drawer_kicked
    assert receipt.cut
    assert receipt.warnings == []


def test_no_drawer_kick_unless_asked() -> None:
    data = render(shop_job(open_drawer=False))
    assert ESC + b"p" not in data
    assert not decode(data)[0].drawer_kicked


def test_no_barcode_when_the_job_has_none() -> None:
    data = render(shop_job(barcode=""))
    assert GS + b"k" not in data
    assert decode(data)[0].barcodes == []


def test_amount_is_flush_right_at_the_width() -> None:
    assert columns(ReceiptLine("Eggs x6", "3.10"), 20) == ["Eggs x6         3.10"]
    assert columns(ReceiptLine("Note only"), 20) == ["Note only"]


def test_long_text_wraps_and_the_amount_stays_on_the_last_row() -> None:
    rows = columns(ReceiptLine("Organic free range eggs large", "3.10"), 20)
    assert rows == ["Organic free range", "eggs large      3.10"]


def test_amount_gets_its_own_row_when_the_text_fills_the_line() -> None:
    rows = columns(ReceiptLine("x" * 18, "12.50"), 20)
    assert rows == ["x" * 18, "               12.50"]


def test_control_characters_in_job_text_are_not_obeyed() -> None:
    # An item name carrying ESC p (drawer kick) and GS V (cut) must print, not act.
    job = shop_job(
        lines=[ReceiptLine("Bad\x1bp\x00\x19\x19\x1dV\x00name", "1.00")], open_drawer=False
    )
    [receipt] = decode(render(job))
    assert not receipt.drawer_kicked
    assert "Bad p" in receipt.text


def test_brace_in_barcode_survives_code128_escaping() -> None:
    [receipt] = decode(render(shop_job(barcode="R{1}")))
    assert receipt.barcodes == [("CODE128", "R{1}")]


def test_barcode_outside_code128_is_refused() -> None:
    with pytest.raises(ValueError, match="Code 128"):
        render(shop_job(barcode="Ünïcode"))


def test_narrow_paper() -> None:
    [receipt] = decode(render(shop_job(), width=32), width=32)
    assert max(len(line) for line in receipt.text.splitlines()) <= 32
    assert "Milk 1L                     1.99" in receipt.text.splitlines()


def test_non_ascii_text_prints_in_a_code_page_the_printer_has() -> None:
    job = shop_job(lines=[ReceiptLine("Käse 250 g", "2,50 €")])
    [receipt] = decode(render(job))
    assert "Käse 250 g" in receipt.text
    assert "2,50 €" in receipt.text


printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
lines = st.builds(ReceiptLine, printable, st.text(st.sampled_from("0123456789.,-$ "), max_size=12))
jobs = st.builds(
    PrintReceipt,
    job_id=st.just("job"),
    header=st.lists(printable, max_size=3),
    lines=st.lists(lines, max_size=6),
    totals=st.lists(lines, max_size=3),
    footer=st.lists(printable, max_size=3),
    barcode=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
    open_drawer=st.booleans(),
)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@settings(deadline=None)
@given(jobs)
def test_every_line_of_a_job_comes_back_in_order(job: PrintReceipt) -> None:
    [receipt] = decode(render(job))
    assert receipt.cut
    assert receipt.warnings == []
    assert receipt.drawer_kicked == job.open_drawer
    assert receipt.barcodes == ([("CODE128", job.barcode)] if job.barcode else [])
    assert all(len(line) <= 42 for line in receipt.text.splitlines())
    printed, at = squash(receipt.text), 0
    items = [*job.lines, *job.totals]
    for piece in [*job.header, *(p for i in items for p in (i.text, i.amount)), *job.footer]:
        found = printed.find(squash(piece), at)
        assert found >= 0, f"{piece!r} missing from the receipt after position {at}"
        at = found + len(squash(piece))
    for line in [*job.header, *job.footer, *(i.text for i in items)]:
        if len(line.strip()) <= 30:  # short enough never to be wrapped
            assert line.strip() in receipt.text
