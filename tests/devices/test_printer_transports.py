"""The receipt printer driver over a serial port and a usblp device file, against the pty
printer simulator: receipts, drawer kicks, test pages, status faults and unplugging."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices.bus import PrinterStatus, PrintReceipt, ReceiptLine
from devices.printer import driver
from devices.printer.driver import PrinterError, ReceiptPrinter
from devices.printer.pty_simulator import PtyPrinterSimulator
from devices.printer.transports import SerialTransport, Transport, UsblpTransport, parse_usb_id
from tests.helpers import wait_until

ESC = b"\x1b"
SALE = PrintReceipt(
    job_id="sale-9",
    header=["Corner Shop"],
    lines=[ReceiptLine("Bread", "2.40")],
    totals=[ReceiptLine("TOTAL", "2.40")],
    footer=["Thanks"],
    barcode="S00000009",
)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[PtyPrinterSimulator]:
    printer = PtyPrinterSimulator(tmp_path / "paper", tmp_path / "printer-link")
    printer.start()
    yield printer
    printer.stop()


@pytest.fixture(params=["serial", "usblp"])
def transport(request: pytest.FixtureRequest, sim: PtyPrinterSimulator) -> Transport:
    if request.param == "serial":
        return SerialTransport(sim.path, 19200, rtscts=False, timeout=2.0)
    return UsblpTransport(sim.path, timeout=2.0)


def test_a_receipt_prints_over_the_port(sim: PtyPrinterSimulator, transport: Transport) -> None:
    ReceiptPrinter(transport).print_receipt(SALE)
    [receipt] = sim.wait_for(1)
    assert "Bread                                 2.40" in receipt.text.splitlines()
    assert receipt.barcodes == [("CODE128", "S00000009")] and receipt.cut
    assert sim.received.startswith(b"\x10\x04\x01"), "asked whether it is ready first"


@pytest.mark.parametrize("pin", [2, 5])
def test_the_drawer_kick_is_esc_p_on_the_pin_asked_for(
    sim: PtyPrinterSimulator, transport: Transport, pin: int
) -> None:
    ReceiptPrinter(transport).kick_drawer(pin)
    # ESC p m t1 t2, m = 0 for pin 2 and 1 for pin 5 (Epson reference, "ESC p")
    wait_until(lambda: sim.drawer_kicks == 1)
    assert ESC + b"p" + bytes([0 if pin == 2 else 1]) in bytes(sim.received)
    assert sim.receipts() == []


def test_an_unknown_drawer_pin_is_refused(transport: Transport) -> None:
    with pytest.raises(PrinterError, match="drawer pin 3 does not exist: use 2 or 5"):
        ReceiptPrinter(transport).kick_drawer(3)


def test_the_test_page_names_device_connection_and_time(
    sim: PtyPrinterSimulator, transport: Transport
) -> None:
    at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    ReceiptPrinter(transport, width=32).print_test_page("printer-till", now=at)
    [page] = sim.wait_for(1)
    lines = page.text.splitlines()
    assert "TEST PAGE" in lines[0]
    assert "Device              printer-till" in lines
    assert "".join(transport.description.split()) in "".join(page.text.split())
    assert "2026-03-01 09:30:00 UTC" in page.text
    assert "12345678901234567890123456789012" in lines


@pytest.mark.parametrize(
    ("fault", "expected", "why"),
    [
        ("paper_low", PrinterStatus(True, paper_low=True), ""),
        ("paper_out", PrinterStatus(False, paper_low=True, paper_out=True), "out of paper"),
        ("cover_open", PrinterStatus(False, cover_open=True), "cover is open"),
        ("cutter_error", None, "autocutter"),
    ],
)
def test_faults_are_read_with_dle_eot_and_stop_the_job(
    sim: PtyPrinterSimulator,
    transport: Transport,
    fault: str,
    expected: PrinterStatus | None,
    why: str,
) -> None:
    printer = ReceiptPrinter(transport)
    assert printer.status() == PrinterStatus(True)
    setattr(sim, fault, True)
    got = printer.status()
    assert got is not None
    if expected is not None:
        assert got == expected
    if why:
        with pytest.raises(PrinterError, match=why):
            printer.print_receipt(SALE)
    setattr(sim, fault, False)
    printer.print_receipt(SALE)
    assert len(sim.wait_for(1)) == 1, "nothing printed while the fault was on"


def test_an_unplugged_printer_says_what_to_check(
    sim: PtyPrinterSimulator, transport: Transport
) -> None:
    printer = ReceiptPrinter(transport)
    sim.stop()
    assert printer.status() is None and not printer.is_online()
    with pytest.raises(PrinterError, match="cannot be opened.*plugged in"):
        printer.print_receipt(SALE)
    sim.start()
    assert printer.is_online()


def test_a_serial_printer_that_never_answers_status_prints_blind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driver, "STATUS_TIMEOUT", 0.05)
    sim = PtyPrinterSimulator(tmp_path)
    monkeypatch.setattr(sim, "_reply", lambda master, n: None)  # a printer without DLE EOT
    path = sim.start()
    try:
        printer = ReceiptPrinter(SerialTransport(path))
        printer.print_receipt(SALE)
        printer.print_receipt(SALE)
        assert len(sim.wait_for(2)) == 2
        assert bytes(sim.received).count(b"\x10\x04\x01") == 1, "not asked again"
    finally:
        sim.stop()


def test_usb_ids_are_read_as_hex_and_a_bad_one_shows_the_form() -> None:
    assert parse_usb_id("04b8:0e28") == (0x04B8, 0x0E28)
    with pytest.raises(ValueError, match='like "04b8:0e28"'):
        parse_usb_id("04b8")
    with pytest.raises(ValueError, match="not a USB id"):
        parse_usb_id("epson:tm")
