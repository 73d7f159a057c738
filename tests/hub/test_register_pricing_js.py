"""web/register-pricing.js prices a cart exactly as the hub does: tiers, greedy quantity breaks,
modifiers, scale price labels, overrides, line and cart discounts, inclusive or exclusive tax rounded
per line or per receipt, and the manager approvals the cart needs. An offline sale is recorded at
what the tablet charged, so every line and total must be the hub's. Run by Debian's node, a batch of
carts per line on one node process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import catalog_snapshot
from hub.cart import CartRules
from hub.domain import pricing, tax
from hub.domain import sale as sales
from hub.domain.weighing import claimed_source, label_priced
from hub.errors import BackroomError
from hub.service import HubService
from hub.store import line_dict
from hub.web import create_app
from tests.conftest import hub_config
from tests.helpers import NodeModule

MODULE = Path(__file__).resolve().parents[2] / "web" / "register-pricing.js"
REASONS = list(sales.DISCOUNT_REASONS)

# One node process answers a JSON batch per line: [{header, rows, body, role, labels}, ...] -> [{quote} | {error}].
# The rows go through storedItem and catalogItem as the tablet's IndexedDB rows do.
RUNNER = """
import { pathToFileURL } from "node:url";
import { createInterface } from "node:readline";
const { catalogItem, quoteCart, storedItem } = await import(pathToFileURL(process.argv[1]).href);
function one({ header, rows, body, role, labels }) {
  const stored = new Map(rows.map((r) => [r[0], storedItem(JSON.parse(JSON.stringify(r)))]));
  const catalog = (sku) => (stored.has(sku) ? catalogItem(stored.get(sku), header.taxes, header.modifier_groups) : null);
  try {
    return { quote: quoteCart(body, catalog, header.store, role, (code) => labels[code]) };
  } catch (err) {
    if (!("field" in err)) throw err;
    return { error: { message: err.message, field: err.field, code: err.code } };
  }
}
for await (const line of createInterface({ input: process.stdin })) {
  process.stdout.write(JSON.stringify(JSON.parse(line).map(one)) + "\\n");
}
"""


class Pricing(NodeModule):
    """register-pricing.js under node, fed a batch at a time."""

    def quote(self, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.ask(cases)


@pytest.fixture(scope="module")
def js() -> Iterator[Pricing]:
    runner = Pricing(RUNNER, MODULE)
    yield runner
    runner.close()


# -- the hub's side: what service.quote does, from the same rows the snapshot carries ---------------

def hub_catalog(header: dict[str, Any], rows: list[list[Any]]) -> dict[str, sales.CatalogItem]:
    """The CatalogItems hub.store.Store.items builds, from snapshot rows (as the property test makes them)."""
    groups = {gid: pricing.ModifierGroup(gid, g["name"], g["required"], g["max_choices"],
                                         tuple(pricing.ModifierOption(o[0], gid, o[1], o[2]) for o in g["options"]))
              for gid, g in header["modifier_groups"].items()}
    out = {}
    for sku, name, unit, price, tax_id, active, variants, _codes, *rest in rows:
        extra = rest[0] if rest else {"tiers": {}, "breaks": {}, "groups": []}
        prices = pricing.PriceList(unit, price, extra["tiers"], {t: tuple(pricing.PriceBreak(q, p) for q, p in bs)
                                                                 for t, bs in extra["breaks"].items()})
        out[sku] = sales.CatalogItem(sku, name, unit, price, header["taxes"][tax_id], bool(active), prices,
                                     tuple(groups[g] for g in extra["groups"] if g in groups),
                                     variant_axes=("size",) if variants else ())
    return out


def hub_quote(case: dict[str, Any]) -> dict[str, Any]:
    """{quote} as HubService.quote answers (its own steps, on the case's catalog), or {error: {field}}."""
    body, store = case["body"], case["header"]["store"]
    catalog = hub_catalog(case["header"], case["rows"])
    try:
        requests = sales.parse_lines(body["lines"], tuple(REASONS))
        cart_discount, _ = sales.parse_cart(body, tuple(REASONS))
        labelled = []
        for no, req in enumerate(requests, start=1):
            item = catalog.get(req.sku)
            if item is not None and req.code and item.unit != "g":
                label = case["labels"][req.code]
                req = label_priced(no, req, label["kind"], label["price_minor"])
            labelled.append(claimed_source(req, item.unit) if item else req)
        lines = sales.price_lines(labelled, catalog, store["prices_include_tax"], sales.parse_tier(body),
                                  cart_discount, store["tax_rounding"])
    except BackroomError as exc:
        return {"error": {"field": exc.field}}
    return {"quote": {
        "currency": store["currency"], "prices_include_tax": store["prices_include_tax"],
        "lines": [line_dict(ln) for ln in lines],
        "total_minor": sum(ln.total_minor for ln in lines), "tax_minor": sum(ln.tax_minor for ln in lines),
        "taxes": tax.rates_dicts(tax.summarize([(ln.total_minor, ln.tax_minor, ln.tax_rate_bp) for ln in lines])),
        "discount_minor": sales.adjustments(lines, store["prices_include_tax"]).discount_minor,
        "approvals_needed": CartRules.from_store(store).needed(lines, case["role"]),
        "discount_reasons": store["discount_reasons"]}}


def assert_same(js: Pricing, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answers = js.quote(cases)
    assert len(answers) == len(cases)
    for case, got in zip(cases, answers, strict=True):
        want = hub_quote(case)
        if "error" in want:
            assert "error" in got and got["error"]["field"] == want["error"]["field"], (case, got, want)
        else:
            assert got == want, case
    return answers


# -- generated carts ------------------------------------------------------------------------------

OPTION_IDS = [f"o{i}" for i in range(8)]


@st.composite
def groups(draw: st.DrawFn) -> dict[str, Any]:
    """Up to three modifier groups; option ids are unique over the store, as the database keeps them."""
    ids = iter(draw(st.permutations(OPTION_IDS)))
    out = {}
    for gid in draw(st.lists(st.sampled_from(["size", "milk", "extras"]), unique=True, max_size=3)):
        options = [[next(ids), f"{gid} {k}", draw(st.integers(-300, 500))] for k in range(draw(st.integers(1, 2)))]
        out[gid] = {"name": gid.title(), "required": draw(st.booleans()), "max_choices": draw(st.integers(1, 2)),
                    "options": options}
    return out


@st.composite
def item_rows(draw: st.DrawFn, taxes: dict[str, int], modifier_groups: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for n in range(draw(st.integers(1, 4))):
        unit = draw(st.sampled_from(["each", "each", "g", "ml"]))
        retail = draw(st.integers(0, 5000))
        tiers = draw(st.dictionaries(st.sampled_from(["member", "wholesale"]), st.integers(0, 5000)))
        breaks = draw(st.dictionaries(st.sampled_from(pricing.TIERS), st.lists(
            st.tuples(st.integers(2, 12), st.integers(0, 40000)), unique_by=lambda b: b[0], min_size=1, max_size=3)))
        chosen = draw(st.lists(st.sampled_from(sorted(modifier_groups)), unique=True)) if modifier_groups else []
        row: list[Any] = [f"I{n}", f"Item {n}", unit, retail, draw(st.sampled_from(sorted(taxes))),
                          draw(st.sampled_from([1, 1, 1, 0])), draw(st.sampled_from([0, 0, 0, 0, 1])), []]
        if tiers or breaks or chosen:  # as the snapshot sends it: only items with a price list carry one
            row.append({"tiers": tiers, "breaks": {t: [list(b) for b in bs] for t, bs in breaks.items()},
                        "groups": chosen})
        rows.append(row)
    return rows


def discounts() -> st.SearchStrategy[dict[str, Any] | None]:
    return st.one_of(st.none(), st.builds(lambda bp, r: {"percent_bp": bp, "reason": r}, st.integers(1, 10000),
                                          st.sampled_from(REASONS)),
                     st.builds(lambda a, r: {"amount_minor": a, "reason": r}, st.integers(1, 6000),
                               st.sampled_from(REASONS)))


@st.composite
def carts(draw: st.DrawFn) -> dict[str, Any]:
    taxes = draw(st.dictionaries(st.sampled_from(["std", "low", "zero", "odd"]),
                                 st.sampled_from([0, 500, 700, 1000, 1999, 2000, 2100, 2500, 3333]), min_size=1))
    modifier_groups = draw(groups())
    rows = draw(item_rows(taxes, modifier_groups))
    labels: dict[str, Any] = {}
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        row = draw(st.sampled_from(rows))
        unit, extra = row[2], row[8] if len(row) > 8 else {"groups": []}
        line: dict[str, Any] = {"sku": row[0], "qty": draw(st.integers(1, 30) if unit == "each" else st.integers(1, 3000))}
        options = [o[0] for g in extra["groups"] for o in modifier_groups[g]["options"]]
        if options and draw(st.booleans()):
            line["modifiers"] = draw(st.lists(st.sampled_from(options), max_size=3))
        if unit != "g" and draw(st.integers(0, 4)) == 0:  # a scale's price label on an each item
            code = f"2{len(labels):012d}"
            line["code"] = code
            labels[code] = {"valid": True, "error": None, "kind": draw(st.sampled_from(["rcn_price", "rcn_price", "rcn_weight"])),
                            "price_minor": draw(st.integers(0, 9999)), "weight_g": None}
            if draw(st.booleans()):
                line["qty"] = 1
        elif unit == "g" and draw(st.booleans()):
            line["code"] = "2000000000000"  # a weight label: the line's qty is its grams
        if (d := draw(discounts())) is not None:
            line["discount"] = d
        if draw(st.integers(0, 3)) == 0:
            line["price_override"] = {"unit_price_minor": draw(st.integers(0, 5000)), "reason": draw(st.sampled_from(REASONS))}
        lines.append(line)
    body: dict[str, Any] = {"lines": lines}
    if (tier := draw(st.sampled_from(pricing.TIERS))) != "retail":
        body["tier"] = tier
    if (cart := draw(discounts())) is not None:
        body["cart_discount"] = cart
    store = {"currency": "EUR", "prices_include_tax": draw(st.booleans()),
             "tax_rounding": draw(st.sampled_from(tax.ROUNDINGS)), "discount_approval_bp": draw(st.integers(0, 3000)),
             "discount_approval_minor": draw(st.sampled_from([0, 500, 2000])), "discount_reasons": REASONS}
    header = {"taxes": taxes, "modifier_groups": modifier_groups, "store": store}
    return {"header": header, "rows": rows, "body": body, "role": draw(st.sampled_from(["cashier", "manager", "owner"])),
            "labels": labels}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(carts())
def test_every_cart_is_priced_as_the_hub_prices_it(js: Pricing, case: dict[str, Any]) -> None:
    assert_same(js, [case])  # one node process for all: a cart a round trip keeps shrinking quick


def test_the_generated_carts_reach_every_rule(js: Pricing) -> None:
    """Hand-made carts for the rules the property test must not miss by chance: each is checked against
    the hub and shown to matter (the rule moves the price)."""
    store = {"currency": "EUR", "prices_include_tax": True, "tax_rounding": "receipt", "discount_approval_bp": 1000,
             "discount_approval_minor": 2000, "discount_reasons": REASONS}
    header = {"taxes": {"std": 2000, "low": 700}, "store": store, "modifier_groups": {
        "size": {"name": "Size", "required": True, "max_choices": 1, "options": [["s", "Small", 0], ["l", "Large", 50]]}}}
    rows = [["SOAP", "Soap", "each", 200, "std", 1, 0, [], {"tiers": {"member": 180},
                                                           "breaks": {"retail": [[3, 500]], "member": [[2, 330]]},
                                                           "groups": []}],
            ["TEA", "Tea", "each", 333, "low", 1, 0, [], {"tiers": {}, "breaks": {}, "groups": ["size"]}],
            ["HAM", "Ham", "g", 1999, "low", 1, 0, []],
            ["CHEESE", "Cheese", "each", 900, "low", 1, 0, []]]

    def case(body: dict[str, Any], role: str = "cashier", **extra: Any) -> dict[str, Any]:
        return {"header": {**header, "store": {**store, **extra}}, "rows": rows, "body": body, "role": role,
                "labels": {"2100000003475": {"valid": True, "error": None, "kind": "rcn_price", "price_minor": 347}}}

    cases = [
        case({"lines": [{"sku": "SOAP", "qty": 7}]}),  # 2 x (3 for 5.00) + 1 x 2.00
        case({"lines": [{"sku": "SOAP", "qty": 5}], "tier": "member"}),  # member price and member breaks
        case({"lines": [{"sku": "TEA", "qty": 3, "modifiers": ["l"]}, {"sku": "HAM", "qty": 1234, "code": "2000000000000"}],
              "cart_discount": {"percent_bp": 1500, "reason": "loyalty"}}),  # over the cashier's 10%
        case({"lines": [{"sku": "TEA", "qty": 1}]}),  # Size is required: refused, as the hub does
        case({"lines": [{"sku": "CHEESE", "qty": 1, "code": "2100000003475"}, {"sku": "SOAP", "qty": 1,
              "price_override": {"unit_price_minor": 150, "reason": "damaged"}}]}),  # a label line; an override
        case({"lines": [{"sku": "SOAP", "qty": 3}, {"sku": "HAM", "qty": 7}, {"sku": "HAM", "qty": 7}]},
             prices_include_tax=False, tax_rounding="line"),
        case({"lines": [{"sku": "SOAP", "qty": 3, "discount": {"amount_minor": 100, "reason": "damaged"}}]}, role="manager"),
    ]
    got = assert_same(js, cases)
    assert [ln["total_minor"] for ln in got[0]["quote"]["lines"]] == [1200]
    assert got[1]["quote"]["lines"][0]["total_minor"] == 2 * 330 + 180
    assert [a["action"] for a in got[2]["quote"]["approvals_needed"]] == ["discount"]
    assert got[3]["error"]["field"] == "lines[0].modifiers"
    label, override = got[4]["quote"]["lines"]
    assert (label["qty"], label["total_minor"], label["price_source"]) == (1, 347, "label")
    assert override["price_override"]["from_minor"] == 200
    assert [a["action"] for a in got[4]["quote"]["approvals_needed"]] == ["price_override"]
    assert got[6]["quote"]["approvals_needed"] == []  # a manager's own discount needs nobody


# -- the snapshot the hub really sends, priced by the tablet, against the hub's own quote ----------

@pytest.fixture
def priced_shop(tmp_path: Path) -> Iterator[tuple[HubService, FlaskClient]]:
    svc = HubService(hub_config(tmp_path / "data", store={"prices_include_tax": False, "tax_rounding": "receipt"}))
    try:
        app = create_app(svc).test_client()
        owner = {"Authorization": f"Bearer {svc.auth.create_token('owner')}"}
        assert app.put("/api/v1/tax-categories/std", json={"name": "Standard", "rate_bp": 2000},
                       headers=owner).status_code == 200
        assert app.put("/api/v1/modifier-groups/size", json={"name": "Size", "required": True, "options": [
            {"id": "s", "name": "Small", "delta_minor": 0}, {"id": "l", "name": "Large", "delta_minor": 45}]},
            headers=owner).status_code == 200
        for body in (
            {"sku": "SOAP", "name": "Soap", "unit": "each", "price_minor": 215, "tiers": {"member": 190},
             "breaks": [{"tier": "retail", "qty": 3, "price_minor": 555}, {"tier": "retail", "qty": 6, "price_minor": 999}]},
            {"sku": "TEA", "name": "Tea", "unit": "each", "price_minor": 333, "modifier_groups": ["size"]},
            {"sku": "HAM", "name": "Ham", "unit": "g", "price_minor": 1999},
        ):
            assert app.post("/api/v1/items", json={**body, "tax_category": "std"}, headers=owner).status_code == 201
        yield svc, app
    finally:
        svc.stop()


def test_the_real_snapshot_prices_as_the_hubs_quote(js: Pricing, priced_shop: tuple[HubService, FlaskClient]) -> None:
    svc, app = priced_shop
    header, *rows = [json.loads(line) for line in b"".join(
        catalog_snapshot.stream_snapshot(svc.db.path, svc.config["store"])).decode().splitlines()]
    assert header["store"]["tax_rounding"] == "receipt" and header["store"]["prices_include_tax"] is False
    cashier = {"Authorization": f"Bearer {svc.auth.create_token('cashier')}"}
    bodies = [
        {"lines": [{"sku": "SOAP", "qty": 10}, {"sku": "TEA", "qty": 2, "modifiers": ["l"]}, {"sku": "HAM", "qty": 777}]},
        {"lines": [{"sku": "SOAP", "qty": 4, "discount": {"percent_bp": 333, "reason": "loyalty"}}], "tier": "member",
         "cart_discount": {"amount_minor": 99, "reason": "promotion"}},
        {"lines": [{"sku": "TEA", "qty": 1, "modifiers": ["s"], "price_override": {"unit_price_minor": 250, "reason": "price_match"}}]},
    ]
    answers = js.quote([{"header": header, "rows": rows, "body": b, "role": "cashier", "labels": {}} for b in bodies])
    for body, got in zip(bodies, answers, strict=True):
        resp = app.post("/api/v1/sales/quote", json=body, headers=cashier)
        assert resp.status_code == 200, resp.json
        assert got["quote"] == resp.json
