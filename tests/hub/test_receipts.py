"""Receipts: a real sale rendered by the printer driver, printed on the simulator, decoded and
read back line by line; the amounts on a receipt always add up."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.printer.driver import NetworkReceiptPrinter
from devices.printer.simulator import NetworkPrinterSimulator
from hub.demo_catalog import load_demo_catalog
from hub.receipts import ReceiptSettings, local_time, receipt_job
from hub.service import HubService
from tests.conftest import hub_config

SOLD_AT = datetime(2026, 7, 1, 12, 30, 5, tzinfo=UTC)  # 13:30 in London (BST)
STORE: dict[str, object] = {"name": "Corner Shop", "address": ["1 High Street", "Springfield"], "tax_id": "GB123456789",
         "timezone": "Europe/London"}  # fmt: skip


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubService]:
    config = hub_config(
        tmp_path / "data", store=STORE, receipt={"footer": ["Returns within 30 days", "Thank you!"]}
    )
    svc = HubService(config, clock=lambda: SOLD_AT)
    load_demo_catalog(svc.store)
    yield svc
    svc.stop()


@pytest.fixture
def printer(tmp_path: Path) -> Iterator[NetworkPrinterSimulator]:
    with NetworkPrinterSimulator(tmp_path / "paper") as sim:
        yield sim


def mixed_sale(hub: HubService) -> dict[str, Any]:
    """Three soaps on a 3-for-5.00 break (20% tax), 1.234 kg of bananas weighed by hand (7%),
    a mug with gift wrap, paid with two cash tenders and given change."""
    sale, created = hub.complete_sale({
        "id": str(uuid.uuid4()), "register_id": "till-1",
        "lines": [{"sku": "G-SOAP", "qty": 3}, {"sku": "P4011", "qty": 1234},
                  {"sku": "G-MUG", "qty": 1, "modifiers": ["wrap"]}],
        "tenders": [{"kind": "cash", "amount_minor": 1000}, {"kind": "cash", "amount_minor": 2000}],
    }, "user:ann")  # fmt: skip
    assert created
    return sale


def test_a_sale_prints_its_whole_receipt(hub: HubService, printer: NetworkPrinterSimulator) -> None:
    sale = mixed_sale(hub)
    job = receipt_job("r-1", sale, ReceiptSettings.from_config(hub.config))
    NetworkReceiptPrinter("127.0.0.1", printer.port).print_receipt(job)
    [paper] = printer.wait_for(1)
    assert [line.rstrip() for line in paper.text.splitlines()] == [
        "               Corner Shop",
        "              1 High Street",
        "               Springfield",
        "            Tax ID GB123456789",
        "",
        "        Receipt S00000001  Sale 1",
        "    2026-07-01 13:30 BST  Till till-1",
        "------------------------------------------",
        "3 x Olive oil soap                    6.00",
        "  @ 2.00 each",
        "  Saving                             -1.00",
        "Bananas                               2.46",
        "  1.234 kg @ 1.99/kg",
        "  manual weight",
        "Stoneware mug                         8.00",
        "  + wrap",
        "------------------------------------------",
        "TOTAL                            15.46 EUR",
        "Cash                                 10.00",
        "Cash                                 20.00",
        "Change                               14.54",
        "",
        "Tax included          net     tax    gross",
        "   7.00%             2.30    0.16     2.46",
        "  20.00%            10.84    2.16    13.00",
        "",
        "          Returns within 30 days",
        "                Thank you!",
        "",
        "           [CODE128: S00000001]",
    ]
    assert paper.barcodes == [("CODE128", "S00000001")]
    assert paper.drawer_kicked and paper.cut, "a cash sale opens the drawer"


def test_a_reprint_is_marked_and_keeps_the_drawer_shut(hub: HubService) -> None:
    sale = mixed_sale(hub)
    copy = receipt_job("r-2", sale, ReceiptSettings.from_config(hub.config),
                       copy_at=datetime(2026, 7, 2, 8, 0, tzinfo=UTC))  # fmt: skip
    assert "*** COPY - REPRINT ***" in copy.header
    assert "printed 2026-07-02 09:00 BST" in copy.header
    assert not copy.open_drawer and copy.barcode == sale["receipt_code"]


def test_without_a_timezone_times_are_utc_and_say_so() -> None:
    assert local_time("2026-01-15T23:59:00.000Z", "") == "2026-01-15 23:59 UTC"
    assert local_time("2026-01-15T23:59:00.000Z", "Europe/Berlin") == "2026-01-16 00:59 CET"


lines = st.lists(
    st.fixed_dictionaries({
        "unit": st.sampled_from(["each", "g"]), "qty": st.integers(1, 5000), "net": st.integers(0, 100_000),
        "rate": st.sampled_from([0, 700, 1900, 2000]), "saving": st.integers(0, 500),
    }), min_size=1, max_size=6,
)  # fmt: skip


def sale_of(raw: list[dict[str, int | str]], include: bool) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for n, r in enumerate(raw, 1):
        net, rate = int(r["net"]), int(r["rate"])
        tax = (net * rate + 5000) // 10000
        gross = net + tax if not include else net
        tax = tax if not include else (gross * rate + (10000 + rate) // 2) // (10000 + rate)
        out.append({"line_no": n, "name": f"Item {n}", "unit": r["unit"], "qty": r["qty"], "unit_price_minor": 199,
                    "total_minor": gross, "tax_rate_bp": rate, "tax_minor": tax, "modifiers": [],
                    "saving_minor": r["saving"], "weight_source": "scale"})  # fmt: skip
    total = sum(ln["total_minor"] for ln in out)
    return {"id": "s", "number": 1, "register_id": "till-1", "currency": "EUR", "lines": out,
            "tenders": [{"kind": "cash", "amount_minor": total + 7, "reference": ""}], "total_minor": total,
            "tax_minor": sum(ln["tax_minor"] for ln in out), "change_minor": 7,
            "created_at": "2026-01-01T10:00:00.000Z", "receipt_code": "S00000001"}  # fmt: skip


def cents(text: str) -> int:
    return round(float(text.split()[0]) * 100)


@given(lines, st.booleans())
def test_the_amounts_on_a_receipt_add_up(raw: list[dict[str, int | str]], include: bool) -> None:
    sale = sale_of(raw, include)
    job = receipt_job("j", sale, ReceiptSettings("Shop", prices_include_tax=include))
    printed = sum(cents(ln.amount) for ln in job.lines if ln.amount)
    totals = {t.text: t.amount for t in job.totals if t.amount}
    assert cents(totals["TOTAL"]) == sale["total_minor"]
    if include:
        assert printed == sale["total_minor"]
    else:
        assert printed == cents(totals["Subtotal"])
        assert cents(totals["Subtotal"]) + cents(totals["Tax"]) == sale["total_minor"]
    summary = [t.amount.split() for t in job.totals if t.text.strip().endswith("%")]
    assert sum(cents(gross) for _net, _tax, gross in summary) == sale["total_minor"]
    assert sum(cents(tax) for _net, tax, _gross in summary) == sale["tax_minor"]
    assert not any("manual weight" in ln.text for ln in job.lines)
