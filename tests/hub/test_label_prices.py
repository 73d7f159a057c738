"""Price labels on items sold each: a deli's prepacked wedge carries the price the label scale
printed, and that price is what the customer pays, on the real hub (SQLite file, Flask client).
The hub reads the label again; the register never says the price."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.domain.barcodes.encode import rcn_label_code
from hub.domain.barcodes.gtin import check_digit
from hub.receipts import ReceiptSettings, receipt_job
from hub.service import HubService
from hub.web import create_app
from tests.conftest import hub_config
from tests.helpers import T0, Clock

ZEROED = "201234500000" + str(check_digit("201234500000"))  # GB layout: item 12345, price zeroed
SHELF = 400  # the wedge's shelf price; each label says what its own wedge costs


def label(price_minor: int, item_ref: str = "12345") -> str:
    return rcn_label_code("rcn_price", item_ref, price_minor, "GB")


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[HubService]:
    s = HubService(hub_config(tmp_path / "data", store={"rcn_region": "GB", "currency": "GBP"}), clock=Clock(T0))
    yield s
    s.stop()


@pytest.fixture
def client(svc: HubService) -> FlaskClient:
    return create_app(svc).test_client()


@pytest.fixture
def h(svc: HubService, client: FlaskClient) -> dict[str, dict[str, str]]:
    heads = {role: {"Authorization": f"Bearer {svc.auth.create_token(role)}"} for role in ("owner", "cashier")}
    items = [
        # sold each, with a member price and a break, so a test can see the label overrides both
        {"sku": "BRIE", "name": "Brie wedge", "unit": "each", "price_minor": SHELF, "barcodes": [ZEROED],
         "tiers": {"member": 350}, "breaks": [{"tier": "retail", "qty": 2, "price_minor": 300}]},
        {"sku": "EDAM", "name": "Edam wedge", "unit": "each", "price_minor": 380, "barcodes": ["5000000000012"]},
    ]
    for body in items:
        made = client.post("/api/v1/items", json=body, headers=heads["owner"])
        assert made.status_code == 201, made.json
    return heads


def quote(client: FlaskClient, h: dict, lines: list[dict[str, Any]], **extra: Any) -> Any:
    return client.post("/api/v1/sales/quote", json={"lines": lines, **extra}, headers=h["cashier"])


def sell(client: FlaskClient, h: dict, lines: list[dict[str, Any]], total: int | None = None, **extra: Any) -> Any:
    if total is None:
        total = quote(client, h, lines).json["total_minor"]
    body = {"id": str(uuid.uuid4()), "register_id": "till-1", "lines": lines,
            "tenders": [{"kind": "cash", "amount_minor": total}], **extra}
    return client.post("/api/v1/sales", json=body, headers=h["cashier"])


def test_a_price_label_on_an_each_item_sells_at_the_labels_price(svc: HubService, client: FlaskClient, h: dict) -> None:
    code = label(347)
    found = client.get(f"/api/v1/lookup?code={code}", headers=h["cashier"]).json
    assert (found["item"]["sku"], found["qty"], found["embedded_price_minor"]) == ("BRIE", 1, 347)
    priced = quote(client, h, [{"sku": "BRIE", "qty": 1, "code": code}])
    assert priced.status_code == 200, priced.json
    assert (priced.json["lines"][0]["unit_price_minor"], priced.json["lines"][0]["price_source"]) == (347, "label")
    sale = sell(client, h, [{"sku": "BRIE", "qty": 1, "code": code}])
    assert sale.status_code == 201, sale.json
    line = sale.json["lines"][0]
    assert (line["qty"], line["unit_price_minor"], line["total_minor"], line["price_source"]) == (1, 347, 347, "label")
    assert line["price_override"] is None and sale.json["total_minor"] == 347
    stored = svc.db.conn.execute("SELECT unit_price_minor, price_source FROM sale_lines WHERE sale_id = ?",
                                 (sale.json["id"],)).fetchone()
    assert tuple(stored) == (347, "label")
    event = json.loads(svc.db.conn.execute("SELECT data FROM outbox WHERE type = 'sale.completed'").fetchone()[0])
    assert event["lines"][0]["price_source"] == "label"  # the back office sees a label price, not an override
    printed = [ln.text for ln in receipt_job("j", sale.json, ReceiptSettings("Test Shop")).lines]
    assert "  price from label" in printed
    shelf = sell(client, h, [{"sku": "BRIE", "qty": 1}])
    assert (shelf.json["lines"][0]["unit_price_minor"], shelf.json["lines"][0]["price_source"]) == (SHELF, None)


def test_each_label_is_one_pack_at_its_own_price_whatever_the_tier_or_break(client: FlaskClient, h: dict) -> None:
    lines = [{"sku": "BRIE", "code": label(347)}, {"sku": "BRIE", "code": label(512)}, {"sku": "BRIE", "qty": 2}]
    for tier in ("retail", "member"):  # two at the shelf price take the 2-for-3.00 break in either tier
        priced = quote(client, h, lines, tier=tier)
        assert priced.status_code == 200, priced.json
        assert [ln["total_minor"] for ln in priced.json["lines"]] == [347, 512, 300]
        assert [ln["qty"] for ln in priced.json["lines"]] == [1, 1, 2]
    # a label far below the shelf price is no discount and needs no manager: the label is the price
    assert quote(client, h, [{"sku": "BRIE", "code": label(5)}]).json["approvals_needed"] == []
    assert sell(client, h, [{"sku": "BRIE", "code": label(5)}]).status_code == 201


def test_a_label_line_that_cannot_be_its_price_is_refused_with_what_to_do(client: FlaskClient, h: dict) -> None:
    def refusal(line: dict[str, Any]) -> dict[str, Any]:
        answer = sell(client, h, [line], total=10_000)
        assert answer.status_code == 422, answer.json
        return dict(answer.json["error"])

    two = refusal({"sku": "BRIE", "qty": 2, "code": label(347)})
    assert (two["code"], two["field"]) == ("label_one_pack", "lines[0].qty") and "scan each pack" in two["message"]
    plain = refusal({"sku": "EDAM", "qty": 1, "code": "5000000000012"})
    assert plain["code"] == "label_without_price" and "without code" in plain["message"]
    other = refusal({"sku": "EDAM", "qty": 1, "code": label(347)})
    assert other["code"] == "label_other_item" and "BRIE" in other["message"]
    unreadable = refusal({"sku": "BRIE", "qty": 1, "code": label(347)[:-1] + "0" if label(347)[-1] != "0"
                          else label(347)[:-1] + "1"})
    assert unreadable["code"] == "label_unreadable"
    assert quote(client, h, [{"sku": "BRIE", "qty": 2, "code": label(347)}]).json["error"]["code"] == "label_one_pack"


def test_a_return_of_a_label_priced_line_refunds_what_was_paid(client: FlaskClient, h: dict) -> None:
    sale = sell(client, h, [{"sku": "BRIE", "code": label(347)}]).json
    back = client.post("/api/v1/returns", json={
        "id": str(uuid.uuid4()), "register_id": "till-1", "sale_id": sale["id"],
        "lines": [{"sale_line_no": 1, "qty": 1, "reason": "damaged", "condition": "damaged"}]}, headers=h["owner"])
    assert back.status_code == 201, back.json
    assert sum(r["amount_minor"] for r in back.json["refunds"]) == 347


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 9_999), min_size=1, max_size=5))
def test_a_cart_of_labels_totals_exactly_the_labels(client: FlaskClient, h: dict, prices: list[int]) -> None:
    priced = quote(client, h, [{"sku": "BRIE", "code": label(p)} for p in prices])
    assert priced.status_code == 200, priced.json
    assert [ln["total_minor"] for ln in priced.json["lines"]] == prices  # GBP store: prices include tax
    assert priced.json["total_minor"] == sum(prices)
