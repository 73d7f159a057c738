"""The label printer driver against the simulators: TCP port 9100 and a pty device file."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices import bus
from devices.label import brother, connection
from devices.label.connection import DeviceFileConnection, NetworkConnection
from devices.label.decoder import Barcode
from devices.label.driver import LabelMedia, LabelPrinter, LabelPrinterError
from devices.label.simulator import LabelPrinterSimulator, PtyLabelPrinter
from hub.domain import labels
from tests.devices.conftest import WAIT_S

LABEL = labels.Label("Oat milk", "£1.85", "£1.85 per l", "5012345678900", "ean13", ("SKU OAT-1",))


def job(language: str, data: bytes, copies: int = 1, job_id: str = "j1") -> bus.PrintLabel:
    return bus.PrintLabel(job_id, language, base64.b64encode(data).decode(), copies)


@pytest.fixture(params=["zpl", "tspl"])
def sim(request: pytest.FixtureRequest) -> Iterator[LabelPrinterSimulator]:
    with LabelPrinterSimulator(request.param) as printer:
        yield printer


def driver(sim: LabelPrinterSimulator) -> LabelPrinter:
    return LabelPrinter(NetworkConnection("127.0.0.1", sim.port), sim.language, LabelMedia())


def test_a_label_prints_with_its_text_barcode_and_copies(sim: LabelPrinterSimulator) -> None:
    driver(sim).print_label(job(sim.language, labels.render(LABEL, sim.language), copies=2))
    assert sim.wait_printed(2, WAIT_S)
    assert [label.texts for label in sim.labels] == [
        ["Oat milk", "£1.85", "£1.85 per l", "SKU OAT-1"]
    ] * 2
    assert sim.labels[0].barcodes == [Barcode("ean13", "5012345678900")]
    assert sim.status_queries == 1  # asked before printing


@pytest.mark.parametrize("fault", ["paper_out", "head_open"])
def test_a_fault_fails_the_job_and_prints_nothing(sim: LabelPrinterSimulator, fault: str) -> None:
    setattr(sim, fault, True)
    printer = driver(sim)
    now = printer.status()
    assert now.online and (now.paper_out, now.cover_open) == (
        fault == "paper_out",
        fault == "head_open",
    )
    with pytest.raises(
        LabelPrinterError,
        match=r"out of paper \(labels\)" if fault == "paper_out" else "cover is open",
    ):
        printer.print_label(job(sim.language, labels.render(LABEL, sim.language)))
    setattr(sim, fault, False)
    printer.print_label(job(sim.language, labels.render(LABEL, sim.language), job_id="j2"))
    assert sim.wait_printed(1, WAIT_S)
    assert len(sim.labels) == 1


def test_test_page_names_the_device_language_and_size(sim: LabelPrinterSimulator) -> None:
    driver(sim).print_test_page("label-1")
    assert sim.wait_printed(1, WAIT_S)
    [page] = sim.labels
    assert page.texts[:3] == ["Backroom test label", "label-1", f"{sim.language} 50x30mm"]
    assert page.barcodes == [Barcode("code128", "label-1")]


def test_a_job_in_another_language_is_refused(sim: LabelPrinterSimulator) -> None:
    other = "tspl" if sim.language == "zpl" else "zpl"
    with pytest.raises(LabelPrinterError, match=f"speaks {sim.language}"):
        driver(sim).print_label(job(other, labels.render(LABEL, other)))
    assert sim.labels == []


def test_an_unreachable_printer_is_offline_with_the_reason() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once closed
    printer = LabelPrinter(NetworkConnection("127.0.0.1", port), "zpl", LabelMedia())
    now = printer.status()
    assert not now.online and "cannot be reached" in now.error
    with pytest.raises(LabelPrinterError, match="cannot be reached"):
        printer.print_label(job("zpl", b"^XA^XZ"))


def test_a_printer_that_never_answers_status_prints_blind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "STATUS_TIMEOUT_S", 0.2)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        printer = LabelPrinter(
            NetworkConnection("127.0.0.1", silent.getsockname()[1]), "zpl", LabelMedia()
        )
        assert printer.status() == bus.PrinterStatus(True)
        assert printer.answers_status is False


def test_brother_ql_on_a_device_file() -> None:
    sim = PtyLabelPrinter("brother_ql")
    path = sim.start()
    try:
        media = LabelMedia(62, 29, 300, "QL-800", "62x29")
        printer = LabelPrinter(DeviceFileConnection(path), "brother_ql", media)
        assert printer.status() == bus.PrinterStatus(True)
        png = labels.render_png(LABEL, labels.LabelSize(62, 29, 300))
        printer.print_label(job("brother_ql", png, copies=2))
        assert sim.wait_printed(2, WAIT_S)
        assert [(p.media_type, p.width_mm, p.length_mm, p.lines) for p in sim.ql_pages] == [
            ("die_cut", 62, 29, 271)
        ] * 2
        sim.head_open = True
        assert printer.status().cover_open
        with pytest.raises(LabelPrinterError, match="cover"):
            printer.print_test_page("ql-1")
    finally:
        sim.stop()


def test_brother_test_page_is_one_label_of_the_roll() -> None:
    with LabelPrinterSimulator("brother_ql") as sim:
        media = LabelMedia(62, 30, 300, "QL-800", "62")
        LabelPrinter(NetworkConnection("127.0.0.1", sim.port), "brother_ql", media).print_test_page(
            "ql-1"
        )
        assert sim.wait_printed(1, WAIT_S)
        assert sim.ql_pages[0].media_type == "continuous" and sim.ql_pages[0].lines > 0


def test_brother_needs_model_and_roll() -> None:
    with pytest.raises(ValueError, match="model"):
        LabelPrinter(NetworkConnection("127.0.0.1", 9100), "brother_ql", LabelMedia())
    assert brother.decode(b"").pages == []


@pytest.mark.parametrize("fault", ["", "paper_out", "cover_open"])
def test_escpos_label_mode_on_a_receipt_printer(tmp_path: Path, fault: str) -> None:
    """ESC/POS label mode: the receipt printer simulator reads it, and its DLE EOT 2 says the faults."""
    from devices.printer.simulator import NetworkPrinterSimulator

    with NetworkPrinterSimulator(tmp_path) as sim:
        if fault:
            setattr(sim, fault, True)
        printer = LabelPrinter(
            NetworkConnection("127.0.0.1", sim.port), "escpos", LabelMedia(58, 40)
        )
        now = printer.status()
        assert (now.paper_out, now.cover_open) == (fault == "paper_out", fault == "cover_open")
        if fault:
            with pytest.raises(
                LabelPrinterError, match="out of paper" if fault == "paper_out" else "cover is open"
            ):
                printer.print_label(
                    job("escpos", labels.render(LABEL, "escpos", labels.LabelSize(58, 40)))
                )
            return
        printer.print_label(job("escpos", labels.render(LABEL, "escpos", labels.LabelSize(58, 40))))
        [receipt] = sim.wait_for(1, WAIT_S)
        assert "Oat milk" in receipt.text and "SKU OAT-1" in receipt.text
        assert [data for _kind, data in receipt.barcodes] == ["501234567890"]
