"""The network printer driver against the simulator on a loopback port, and the decoder."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from devices.bus import PrintReceipt, ReceiptLine
from devices.printer import driver
from devices.printer.driver import NetworkReceiptPrinter, PrinterError
from devices.printer.receipt import render
from devices.printer.simulator import EscPosDecoder, NetworkPrinterSimulator, decode

ESC, GS, DLE = b"\x1b", b"\x1d", b"\x10"
SALE = PrintReceipt(
    job_id="sale-7",
    header=["Corner Shop"],
    lines=[ReceiptLine("Milk 1L", "1.99"), ReceiptLine("Apples 1.2 kg", "3.58")],
    totals=[ReceiptLine("TOTAL", "5.57")],
    footer=["Thank you!"],
    barcode="S-000123",
    open_drawer=True,
)


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[NetworkPrinterSimulator]:
    with NetworkPrinterSimulator(tmp_path / "paper") as sim:
        yield sim


@pytest.fixture
def printer(simulator: NetworkPrinterSimulator) -> NetworkReceiptPrinter:
    return NetworkReceiptPrinter("127.0.0.1", simulator.port, timeout=2.0)


def test_driver_prints_a_sale_on_the_simulator(
    simulator: NetworkPrinterSimulator, printer: NetworkReceiptPrinter
) -> None:
    printer.print_receipt(SALE)
    [receipt] = simulator.wait_for(1)
    for text in ("Corner Shop", "Milk 1L", "1.99", "Apples 1.2 kg", "3.58", "TOTAL", "5.57"):
        assert text in receipt.text
    assert "TOTAL                                 5.57" in receipt.text.splitlines()
    assert receipt.barcodes == [("CODE128", "S-000123")]
    assert receipt.cut and receipt.drawer_kicked
    assert receipt.warnings == []
    assert receipt.raw.endswith(GS + b"V\x00")


def test_each_receipt_is_saved_as_text_and_png(
    simulator: NetworkPrinterSimulator, printer: NetworkReceiptPrinter
) -> None:
    printer.print_receipt(SALE)
    printer.print_receipt(SALE)
    first, second = simulator.wait_for(2)
    paper = simulator.out_dir
    assert (paper / "receipt-0001.txt").read_text(encoding="utf-8") == first.text + "\n"
    assert (paper / "receipt-0002.txt").read_text(encoding="utf-8") == second.text + "\n"
    assert "[CODE128: S-000123]" in first.text
    with Image.open(paper / "receipt-0001.png") as png:
        assert png.format == "PNG"
        width, height = png.size
        assert width > 0 and height > 0
        assert png.getextrema() == (0, 255), "black text on white paper"


def test_simulator_answers_status_so_the_printer_is_online(printer: NetworkReceiptPrinter) -> None:
    assert printer.is_online()
    assert printer.is_online()


def test_out_of_paper_is_reported_and_nothing_prints(
    simulator: NetworkPrinterSimulator, printer: NetworkReceiptPrinter
) -> None:
    simulator.paper_out = True
    assert not printer.is_online()
    with pytest.raises(PrinterError, match="out of paper: load a new roll"):
        printer.print_receipt(SALE)
    simulator.paper_out = False
    printer.print_receipt(SALE)
    assert len(simulator.wait_for(1)) == 1


def test_offline_printer_gives_a_readable_error(tmp_path: Path) -> None:
    with NetworkPrinterSimulator(tmp_path, offline=True) as sim:
        printer = NetworkReceiptPrinter("127.0.0.1", sim.port)
        assert not printer.is_online()
        with pytest.raises(PrinterError) as caught:
            printer.print_receipt(SALE)
        assert str(caught.value).startswith(f"printer 127.0.0.1:{sim.port} refused the connection")
        assert "9100" in str(caught.value)
        sim.offline = False
        printer.print_receipt(SALE)
        assert len(sim.wait_for(1)) == 1
        sim.offline = True
        assert not printer.is_online()


def test_printer_that_does_not_answer_times_out_with_advice() -> None:
    # A full accept queue makes Linux drop the SYN, as a switched-off printer would.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        held: list[socket.socket] = []
        try:
            while True:
                assert len(held) < 16, "the accept queue never filled"
                conn = socket.socket()
                conn.settimeout(0.2)
                try:
                    conn.connect(("127.0.0.1", port))
                except TimeoutError:
                    conn.close()
                    break
                held.append(conn)
            printer = NetworkReceiptPrinter("127.0.0.1", port, timeout=0.2)
            with pytest.raises(
                PrinterError, match=rf"127.0.0.1:{port} did not answer within 0.2 s"
            ):
                printer.print_receipt(SALE)
            assert not printer.is_online()
        finally:
            for conn in held:
                conn.close()


class SilentPrinter:
    """A port-9100 printer that never answers status queries: it only swallows bytes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.jobs: list[bytes] = []
        self.thread = threading.Thread(target=self._serve)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                chunks = list(iter(lambda c=conn: c.recv(4096), b""))
            self.jobs.append(b"".join(chunks))

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.thread.join()
        self.listener.close()


def test_printer_without_status_replies_still_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(driver, "STATUS_TIMEOUT", 0.05)
    silent = SilentPrinter()
    try:
        assert NetworkReceiptPrinter("127.0.0.1", silent.port).is_online()
        printer = NetworkReceiptPrinter("127.0.0.1", silent.port)
        printer.print_receipt(SALE)
        printer.print_receipt(SALE)
    finally:
        silent.close()
    query, first, second = silent.jobs
    assert query == DLE + b"\x04\x01"
    assert first.startswith(DLE + b"\x04\x01") and first.endswith(render(SALE))
    assert second == render(SALE), "a printer that never answers is not asked again"
    [receipt] = decode(first)
    assert receipt.barcodes == [("CODE128", "S-000123")]


def test_bad_job_is_refused_before_connecting() -> None:
    # 192.0.2.1 (TEST-NET-1) never answers: a connection attempt would fail differently.
    printer = NetworkReceiptPrinter("192.0.2.1", 9100, timeout=5.0)
    with pytest.raises(PrinterError, match="receipt sale-7 cannot be printed: .*Code 128"):
        printer.print_receipt(PrintReceipt("sale-7", [], [], [], [], barcode="€5"))


def test_wait_for_says_how_many_receipts_came(simulator: NetworkPrinterSimulator) -> None:
    with pytest.raises(TimeoutError, match="printed 0 receipts within 0 s, expected 1"):
        simulator.wait_for(1, timeout=0)


def test_stopped_simulator_refuses_connections(tmp_path: Path) -> None:
    sim = NetworkPrinterSimulator(tmp_path)
    port = sim.start()
    sim.stop()
    sim.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


# --- the decoder on its own -------------------------------------------------------------


def test_status_query_is_answered_and_prints_nothing() -> None:
    asked: list[int] = []
    decoder = EscPosDecoder(on_status=asked.append)
    assert decoder.feed(DLE + b"\x04\x01" + DLE + b"\x04\x04") == []
    assert decoder.close() == []
    assert asked == [1, 4]


def test_raster_image_data_is_skipped_not_obeyed() -> None:
    # 2 bytes x 3 rows of image data that happen to spell "GS V 0" and "ESC p".
    image = GS + b"v0\x00\x02\x00\x03\x00" + GS + b"V\x00" + ESC + b"p\x00"
    [receipt] = decode(b"before\n" + image + b"after\n" + GS + b"V\x01")
    assert receipt.text == "before\n[IMAGE 16x3]\nafter"
    assert receipt.cut and not receipt.drawer_kicked


def test_qr_code_and_function_a_barcode() -> None:
    qr = b"https://shop.example/r/7"
    store = GS + b"(k" + bytes([len(qr) + 3, 0]) + b"1P0" + qr
    show = GS + b"(k\x03\x001Q0"
    ean = GS + b"k\x024006381333931\x00"
    [receipt] = decode(store + show + ean)
    assert receipt.barcodes == [("QR", qr.decode()), ("EAN13", "4006381333931")]
    assert not receipt.cut


def test_realtime_drawer_kick_and_uncut_tail() -> None:
    first, rest = decode(b"one\n" + GS + b"VA\x10" + DLE + b"\x14\x01\x00\x01")
    assert (first.text, first.cut, first.drawer_kicked) == ("one", True, False)
    assert (rest.text, rest.cut, rest.drawer_kicked) == ("", False, True)


def test_unknown_and_truncated_commands_become_warnings() -> None:
    [receipt] = decode(b"ok\n\x00" + ESC + b"\xff" + GS + b"v0\x00\x10\x00")
    assert receipt.text == "ok"
    assert receipt.warnings == [
        "offset 3: unexpected control byte 0x00",
        "offset 4: unknown command ESC 0xff",
        "offset 6: stream ends inside a command (6 bytes dropped)",
    ]


def test_text_wraps_at_the_paper_width_and_double_width_halves_it() -> None:
    [receipt] = decode(b"x" * 50 + b"\n" + GS + b"!\x10" + b"y" * 25 + b"\n", width=42)
    assert receipt.text.splitlines() == ["x" * 42, "x" * 8, "y" * 21, "y" * 4]


# Random bytes seldom form commands, so mix in command heads and their usual arguments.
COMMAND_HEADS = [ESC, GS, DLE, b"\x1c", b"\n", ESC + b"*", ESC + b"&", ESC + b"D", ESC + b"t\x01"]
COMMAND_HEADS += [GS + b"k", GS + b"(k", GS + b"v0", GS + b"V", DLE + b"\x04", DLE + b"\x14"]
streams = st.one_of(
    st.binary(max_size=2000),
    st.lists(st.one_of(st.binary(max_size=6), st.sampled_from(COMMAND_HEADS)), max_size=150).map(
        b"".join
    ),
)


@given(streams)
def test_decode_never_raises(data: bytes) -> None:
    receipts = decode(data)
    joined = b"".join(r.raw for r in receipts)
    assert data.startswith(joined)


@settings(deadline=None)
@given(streams, st.lists(st.integers(1, 600), max_size=8))
def test_decoding_in_pieces_matches_decoding_at_once(data: bytes, cuts: list[int]) -> None:
    decoder = EscPosDecoder()
    pieces, start = [], 0
    for at in sorted(cuts):
        pieces.append(data[start:at])
        start = max(start, at)
    pieces.append(data[start:])
    receipts = [r for piece in pieces for r in decoder.feed(piece)] + decoder.close()
    assert receipts == decode(data)
