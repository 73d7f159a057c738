"""The hub's print queue end to end: the hub, a real mosquitto, the devices agent and a
simulated network printer. Jobs wait for offline printers, retry after paper out, print once.
Then the API: reprint, follow and cancel jobs."""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from devices import agent
from devices.printer import host
from devices.printer.simulator import NetworkPrinterSimulator
from hub import print_queue
from hub.demo_catalog import load_demo_catalog
from hub.mosquitto import Broker
from hub.service import HubService
from tests.conftest import USERS, hub_config
from tests.helpers import wait_until

PRINTER = "till-printer"
CASH_SALE = {"register_id": "till-1", "lines": [{"sku": "G-SOAP", "qty": 1}],
             "tenders": [{"kind": "cash", "amount_minor": 500}]}  # fmt: skip


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host, "CHECK_INTERVAL_S", 0.05)
    monkeypatch.setattr(agent, "SUPERVISE_INTERVAL_S", 0.05)
    monkeypatch.setattr(print_queue, "PUMP_INTERVAL_S", 0.05)
    monkeypatch.setattr(print_queue, "RETRY_BASE_S", 0.05)


@pytest.fixture
def printer(tmp_path: Path) -> Iterator[NetworkPrinterSimulator]:
    with NetworkPrinterSimulator(tmp_path / "paper", offline=True) as sim:
        yield sim


@pytest.fixture
def shop(
    tmp_path: Path, broker: Broker, printer: NetworkPrinterSimulator, fast: None
) -> Iterator[HubService]:
    """A hub with the demo catalog, and an agent hosting the simulated printer (offline at first)."""
    svc = HubService(hub_config(tmp_path / "data", broker))
    load_demo_catalog(svc.store)
    svc.registry.start(broker.host, broker.port, "hub", USERS["hub"])
    svc.print_queue.start()
    stop = threading.Event()
    settings = {"hub_id": svc.hub_id, "mqtt_host": broker.host, "mqtt_port": broker.port,
                "mqtt_username": "devices", "mqtt_password": USERS["devices"], "scanners": False,
                "printers": [{"host": "127.0.0.1", "port": printer.port, "id": PRINTER}]}  # fmt: skip
    devices = threading.Thread(target=agent.main, args=(settings, stop))
    devices.start()
    wait_until(
        lambda: any(d["id"] == PRINTER for d in svc.registry.devices()), "the printer announced"
    )
    try:
        yield svc
    finally:
        stop.set()
        devices.join()
        svc.stop()


def status_of(svc: HubService, job_id: str) -> str:
    job = svc.print_queue.job(job_id)
    assert job is not None, f"no print job {job_id}"
    return str(job["status"])


def online(svc: HubService) -> bool:
    return any(d["id"] == PRINTER and d["online"] for d in svc.registry.devices())


def sell(svc: HubService) -> dict[str, Any]:
    sale, created = svc.complete_sale({"id": str(uuid.uuid4()), **CASH_SALE}, "user:ann")
    assert created and sale["receipt"]["device_id"] == PRINTER
    return sale


def job_events(svc: HubService) -> queue.Queue[tuple[str, str]]:
    return svc.channels.subscribe("register:till-1").queue


def test_a_sale_made_while_the_printer_is_off_prints_once_it_is_back(
    shop: HubService, printer: NetworkPrinterSimulator
) -> None:
    assert not online(shop)
    sale = sell(shop)  # the sale does not wait for the printer
    job_id = sale["receipt"]["job_id"]
    job = shop.print_queue.job(job_id)
    assert job is not None and (job["status"], job["attempts"]) == ("queued", 0)
    printer.offline = False
    wait_until(lambda: status_of(shop, job_id) == "printed", "the receipt printed")
    [paper] = printer.wait_for(1)
    assert sale["receipt_code"] in paper.text and paper.drawer_kicked
    # The hub never heard the result (say it restarted) and sends the job again: it does not print twice.
    with shop.db.write() as conn:
        conn.execute(
            "UPDATE print_jobs SET status = 'sent', next_attempt_at = NULL WHERE job_id = ?",
            (job_id,),
        )
    shop.print_queue.pump()
    wait_until(lambda: status_of(shop, job_id) == "printed", "answered again")
    assert (shop.print_queue.job(job_id) or {}).get("attempts") == 2
    assert len(printer.receipts()) == 1 and printer.drawer_kicks == 1


def test_paper_out_fails_the_job_and_loading_paper_prints_it_once(
    shop: HubService, printer: NetworkPrinterSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    printer.offline = False
    wait_until(lambda: online(shop), "the printer online")
    monkeypatch.setattr(host, "CHECK_INTERVAL_S", 3600.0)  # the agent does not notice by itself
    events = job_events(shop)
    printer.paper_out = True
    sale = sell(shop)
    event, text = events.get(timeout=10)
    failed = json.loads(text)
    assert event == "job" and failed["job_id"] == sale["receipt"]["job_id"]
    assert (failed["ok"], failed["status"]) == (False, "queued") and "out of paper" in failed[
        "error"
    ]
    wait_until(lambda: not online(shop), "the printer reported offline after the failed job")
    printer.paper_out = False
    monkeypatch.setattr(host, "CHECK_INTERVAL_S", 0.05)
    event, text = events.get(timeout=10)
    assert json.loads(text) | {"error": ""} == failed | {
        "ok": True,
        "status": "printed",
        "error": "",
    }
    [paper] = printer.wait_for(1)
    assert sale["receipt_code"] in paper.text
    job = shop.print_queue.job(sale["receipt"]["job_id"])
    assert job is not None and job["attempts"] == 2 and len(printer.receipts()) == 1


def test_a_reprint_prints_a_marked_copy_without_opening_the_drawer(
    shop: HubService, printer: NetworkPrinterSimulator
) -> None:
    printer.offline = False
    wait_until(lambda: online(shop), "the printer online")
    sale = sell(shop)
    printer.wait_for(1)
    copy = shop.print_queue.reprint(sale["id"], None, "user:ann")
    assert (
        copy["kind"] == "receipt" and copy["sale_id"] == sale["id"] and copy["device_id"] == PRINTER
    )
    first, second = printer.wait_for(2)
    assert "COPY - REPRINT" in second.text and "COPY" not in first.text
    assert sale["receipt_code"] in second.text and second.barcodes == first.barcodes
    assert printer.drawer_kicks == 1
    wait_until(lambda: status_of(shop, copy["job_id"]) == "printed", "the copy printed")


# -- the API, on a hub without a broker: jobs wait -------------------------------------------


def add_printer(svc: HubService, dev: str = PRINTER) -> None:
    with svc.db.write() as conn:
        conn.execute("INSERT INTO devices (id, kind, name, register_id, online, first_seen, last_seen) "
                     "VALUES (?, 'receipt_printer', 'Till', 'till-1', 0, '2026-01-01', '2026-01-01')", (dev,))  # fmt: skip


@pytest.fixture
def api_sale(svc: HubService) -> dict[str, Any]:
    load_demo_catalog(svc.store)
    sale, _ = svc.complete_sale({"id": str(uuid.uuid4()), **CASH_SALE}, "user:ann")
    return sale


def test_reprint_api_queues_a_copy_for_the_registers_printer(
    svc: HubService, client: FlaskClient, h: dict[str, dict[str, str]], api_sale: dict[str, Any]
) -> None:
    url = f"/api/v1/sales/{api_sale['id']}/receipt"
    refused = client.post(url, headers=h["cashier"])
    assert refused.status_code == 409 and refused.json["error"]["code"] == "no_printer"
    add_printer(svc)
    made = client.post(url, headers=h["cashier"])
    assert made.status_code == 202
    job = made.json
    assert job is not None and (job["status"], job["device_id"], job["kind"]) == (
        "queued",
        PRINTER,
        "receipt",
    )
    assert (
        "*** COPY - REPRINT ***" in job["payload"]["header"]
        and job["payload"]["open_drawer"] is False
    )
    assert status_of(svc, job["job_id"]) == "queued"
    assert (
        client.get(f"/api/v1/print-jobs/{job['job_id']}", headers=h["cashier"]).status_code == 200
    )
    listed = client.get(
        f"/api/v1/print-jobs?device_id={PRINTER}&status=queued", headers=h["manager"]
    ).json
    assert [j["job_id"] for j in listed["jobs"]] == [job["job_id"]]
    cancelled = client.post(f"/api/v1/print-jobs/{job['job_id']}/cancel", headers=h["manager"])
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    again = client.post(f"/api/v1/print-jobs/{job['job_id']}/cancel", headers=h["manager"])
    assert again.status_code == 200, "cancelling twice is no error"


def test_reprint_api_says_what_is_wrong(
    svc: HubService, client: FlaskClient, h: dict[str, dict[str, str]], api_sale: dict[str, Any]
) -> None:
    url = f"/api/v1/sales/{api_sale['id']}/receipt"
    assert client.post("/api/v1/sales/nope/receipt", headers=h["cashier"]).status_code == 404
    unknown = client.post(url, headers=h["cashier"], json={"device_id": "printer-gone"})
    assert unknown.status_code == 404 and "printer-gone" in unknown.json["error"]["message"]
    bad = client.post(url, headers=h["cashier"], json={"printer": "x"})
    assert bad.status_code == 400 and bad.json["error"]["field"] == "device_id"
    assert client.post(url, json={}).status_code == 401
    assert client.get("/api/v1/print-jobs", headers=h["cashier"]).status_code == 403
    assert client.get("/api/v1/print-jobs/nope", headers=h["cashier"]).status_code == 404


def test_a_transient_failure_waits_and_a_permanent_one_fails() -> None:
    assert print_queue.is_transient(
        "printer 10.0.0.5:9100 cannot print: it is out of paper: load a new roll"
    )
    assert print_queue.is_transient(
        "printer usb /dev/usb/lp0 cannot print: its cover is open: close the cover"
    )
    assert print_queue.is_transient("printer 10.0.0.5:9100 refused the connection: check the port")
    assert not print_queue.is_transient("print payload field 'lines' must be a list")
    assert not print_queue.is_transient("receipt x cannot be printed: its barcode is not Code 128")
