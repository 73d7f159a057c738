"""web/register-labels.js reads every scan as hub.domain.barcodes.parse does: scale labels of every
region layout, the US layout and the owner's patterns, with and without the price check digit, and
the plain GTINs, shop codes and broken scans around them. Run by Debian's node, many codes a batch."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from biip.rcn import _RCN_RULES  # the region layouts the hub reads; generated labels follow them
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.domain.barcodes import REGIONS, parse, price_check_digit, with_check_digit
from tests.helpers import NODE, NodeModule

MODULE = Path(__file__).resolve().parents[2] / "web" / "register-labels.js"
DIGITS = "0123456789"
FIELDS = ("valid", "kind", "gtin", "item_ref", "price_minor", "weight_g", "count", "error")

# One node process answers a JSON line [catalog, [[code, settings], ...]] with a line of answers: readLabel's
# reading, or with a catalog ({items: {sku: row}, codes: {code: sku}, taxes}) lookupLabel's answer or refusal.
RUNNER = """
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
const src = readFileSync(process.argv[1]);
const { readLabel, lookupLabel } = await import("data:text/javascript;base64," + src.toString("base64"));
const lookup = async (catalog, code, s) => {
  const find = { byCode: async (k) => catalog.items[catalog.codes[k]] ?? null, bySku: async (k) => catalog.items[k] ?? null,
    taxes: catalog.taxes };
  try {
    return await lookupLabel(code, readLabel(code, s), find);
  } catch (err) {
    return { refused: err.status, message: err.message };
  }
};
for await (const line of createInterface({ input: process.stdin })) {
  const [catalog, cases] = JSON.parse(line);
  const answers = [];
  for (const [code, s] of cases) answers.push(catalog ? await lookup(catalog, code, s) : readLabel(code, s));
  process.stdout.write(JSON.stringify(answers) + "\\n");
}
"""


class Labels(NodeModule):
    """register-labels.js under node, fed a batch at a time."""

    def read(self, cases: list[tuple[str, dict[str, Any]]], catalog: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.ask([catalog, cases])


@pytest.fixture(scope="module")
def labels() -> Iterator[Labels]:
    runner = Labels(RUNNER, MODULE)
    yield runner
    runner.close()


def hub_reading(code: str, s: dict[str, Any]) -> dict[str, Any]:
    return parse(code, s["rcn_region"], s["rcn_pattern"], s["rcn_check_price_digit"]).to_json()


def assert_same(labels: Labels, cases: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    answers = labels.read(cases)
    assert len(answers) == len(cases)
    for (code, s), js in zip(cases, answers, strict=True):
        hub = hub_reading(code, s)
        if "gs1" in (hub["kind"], js["kind"]):  # the tablet leaves GS1 element strings to the hub
            assert (js["kind"], js["valid"]) == ("gs1", False), (code, s, js)
            assert hub["kind"] == "gs1" or not hub["valid"], (code, s, hub)  # '(' that reads as no GS1 text
            continue
        assert {f: js[f] for f in FIELDS} == {f: hub[f] for f in FIELDS}, (code, s)
    return answers


# -- what is scanned -------------------------------------------------------------------------

def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=DIGITS, min_size=n, max_size=n)


_LAYOUTS = [(region.value.upper(), prefix, s.pattern) for region, rules in _RCN_RULES.items() for prefix, s in rules.items()]


@st.composite
def region_labels(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A label laid out by its region's rules (the value's check digit right, mostly)."""
    region, prefix, places = draw(st.sampled_from(_LAYOUTS))
    item = draw(digits(places.count("P") - 2))
    value = draw(digits(places.count("V")))
    check = str(price_check_digit(value)) if "C" in places else ""
    if check and draw(st.integers(0, 4)) == 0:
        check = draw(digits(1))
    return with_check_digit(prefix + item + check + value), {"rcn_region": draw(st.sampled_from([region, region.lower()]))}


@st.composite
def us_labels(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    item, price = draw(digits(5)), draw(digits(4))
    check = str(price_check_digit(price)) if draw(st.integers(0, 3)) else draw(digits(1))
    code = with_check_digit("2" + item + check + price)
    return draw(st.sampled_from([code, "0" + code, "]E00" + code, " " + code + "\r\n"])), {"rcn_region": "US"}


@st.composite
def owner_patterns(draw: st.DrawFn) -> str:
    """A pattern in Odoo's notation: mostly usable, like '23.....{NNNDD}' or 'weight:2...C{NNDDD}'."""
    kind = draw(st.sampled_from(["", "price:", "weight:", "count:"]))
    ints, decs = draw(st.integers(0, 5)), draw(st.integers(0, 3))
    if draw(st.integers(0, 9)) and ints + decs == 0:
        ints = 1
    n = ints + decs
    head = draw(st.sampled_from(["2", "02", "21", "23", "29", "4", ""]))
    head += "." * draw(st.integers(0, max(0, 11 - n - len(head))))
    if n in (4, 5) and draw(st.booleans()):
        head += "C"
    if draw(st.integers(0, 9)) == 0:  # anything at all: the pattern may not be usable
        head = draw(st.text(alphabet="0123456789.C{}ND:x", max_size=8))
    return f"{kind}{head}{{{'N' * ints}{'D' * decs}}}"


def template(pattern: str) -> str:
    head, _, rest = pattern.split(":")[-1].partition("{")
    group, _, tail = rest.partition("}")
    return head + "V" * len(group) + tail


@st.composite
def pattern_labels(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A code laid out by the owner's pattern (check digits right, mostly), read with a region or not."""
    patterns = draw(st.lists(owner_patterns(), min_size=1, max_size=3))
    t = template(patterns[0])
    length = draw(st.sampled_from([n for n in (8, 12, 13, 14) if n >= len(t)] or [13]))  # 14 and len(t): never labels
    body = [c if c.isdigit() else draw(digits(1)) for c in t[:length - 1]]
    body += [draw(digits(1)) for _ in range(length - 1 - len(body))]
    if "C" in t and len(body) > t.index("C") and draw(st.integers(0, 3)):
        value = "".join(d for c, d in zip(t, body, strict=False) if c == "V")
        if len(value) in (4, 5):
            body[t.index("C")] = str(price_check_digit(value))
    code = with_check_digit("".join(body))
    separator = draw(st.sampled_from([" ", ",", ", "]))
    return code, {"rcn_pattern": separator.join(patterns), "rcn_region": draw(st.sampled_from(["", "GB", "US", "SE"]))}


@st.composite
def plain_codes(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """GTINs of every length, shop codes and PLUs, AIM prefixes and whatever a scanner sends by mistake."""
    code = draw(st.one_of(
        st.sampled_from([8, 12, 13, 14]).flatmap(lambda n: digits(n - 1)).map(with_check_digit),
        st.text(alphabet=DIGITS, max_size=20),
        st.text(alphabet=DIGITS + "ABCxyz-. (\x1d", max_size=20),
        st.text(max_size=12),
    ))
    aim = draw(st.sampled_from(["", "", "]E0", "]E4", "]C1", "]Q1", " "]))
    return aim + code, {"rcn_region": draw(st.sampled_from(["", *REGIONS, "XX"]))}


@st.composite
def corrupted(draw: st.DrawFn, labels: st.SearchStrategy[tuple[str, dict[str, Any]]]) -> tuple[str, dict[str, Any]]:
    """A label with one fault: a digit changed, dropped or added, or a letter in place of a digit."""
    code, s = draw(labels)
    i = draw(st.integers(0, len(code) - 1))
    fault = draw(st.sampled_from(["change", "drop", "add", "letter"]))
    if fault == "change" and code[i].isdigit():
        code = code[:i] + str((int(code[i]) + draw(st.integers(1, 9))) % 10) + code[i + 1:]
    elif fault == "drop":
        code = code[:i] + code[i + 1:]
    elif fault == "add":
        code = code[:i] + draw(digits(1)) + code[i:]
    else:
        code = code[:i] + draw(st.sampled_from("AOlx")) + code[i + 1:]
    return code, s


LABELS = st.one_of(region_labels(), us_labels(), pattern_labels())
CASES = st.one_of(LABELS, corrupted(LABELS), plain_codes())


@st.composite
def batches(draw: st.DrawFn) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for code, s in draw(st.lists(CASES, min_size=20, max_size=60)):
        full = {"rcn_region": "", "rcn_pattern": "", "rcn_check_price_digit": draw(st.booleans()), **s}
        out.append((code, full))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches())
def test_the_tablet_reads_every_scan_as_the_hub_does(labels: Labels, cases: list[tuple[str, dict[str, Any]]]) -> None:
    assert_same(labels, cases)


def test_worked_labels_read_the_same(labels: Labels) -> None:
    """One of each kind, valid and not, so the property above can't pass by reading everything as junk."""
    gb = with_check_digit("20" + "12345" + "9" + "2875")
    de_weight = with_check_digit("28" + "1234" + str(price_check_digit("01250")) + "01250")
    de_count = with_check_digit("25" + "1234" + str(price_check_digit("00012")) + "00012")
    se_weight = with_check_digit("23" + "123456" + "1234")
    us = with_check_digit("2" + "04321" + str(price_check_digit("0499")) + "0499")
    owner = with_check_digit("23" + "00042" + "01250")
    bad_gb = with_check_digit("20" + "12345" + "3" + "2875")
    none: dict[str, Any] = {"rcn_region": "", "rcn_pattern": "", "rcn_check_price_digit": True}
    cases = [
        (gb, {**none, "rcn_region": "GB"}), (de_weight, {**none, "rcn_region": "DE"}),
        (de_count, {**none, "rcn_region": "de"}), (se_weight, {**none, "rcn_region": "SE"}),
        (us, {**none, "rcn_region": "US"}), (owner, {**none, "rcn_pattern": "weight:23.....{NNDDD}"}),
        (bad_gb, {**none, "rcn_region": "GB"}), (bad_gb, {**none, "rcn_region": "GB", "rcn_check_price_digit": False}),
        (gb, none), ("4011", none), ("]C10104006381333931", none),
    ]
    got = assert_same(labels, cases)
    assert [(g["kind"], g["valid"]) for g in got] == [
        ("rcn_price", True), ("rcn_weight", True), ("rcn_count", True), ("rcn_weight", True), ("rcn_price", True),
        ("rcn_weight", True), ("rcn_price", False), ("rcn_price", True), ("gtin", True), ("internal", True),
        ("gs1", False)]
    assert (got[0]["price_minor"], got[0]["item_ref"]) == (2875, "12345")
    assert (got[1]["weight_g"], got[2]["count"], got[3]["weight_g"], got[4]["price_minor"]) == (1250, 12, 1234, 499)
    assert got[5]["weight_g"] == 1250
    assert "price check digit expected 9 got 3" in got[6]["error"]


def test_every_prefix_of_every_region(labels: Labels) -> None:
    """Each region's layout table holds the same prefixes as the hub's (those without one are plain GTINs)."""
    cases = [(with_check_digit(f"2{p}" + "0123456789"), {"rcn_region": r, "rcn_pattern": "", "rcn_check_price_digit": c})
             for r in REGIONS for p in range(10) for c in (True, False)]
    kinds = {hub_reading(code, s)["kind"] for code, s in cases}
    assert kinds == {"gtin", "rcn_price", "rcn_weight", "rcn_count"}
    assert_same(labels, cases)


def test_without_settings_a_label_reads_as_a_plain_gtin(labels: Labels) -> None:
    """A tablet that never reached the hub has no rcn settings (labelSettings() is null)."""
    code = with_check_digit("20" + "12345" + "9" + "2875")
    proc = subprocess.run([NODE, "--input-type=module", "-e", f"""
        import {{ readFileSync }} from "node:fs";
        const src = readFileSync({json.dumps(str(MODULE))});
        const {{ readLabel, labelSettings }} = await import("data:text/javascript;base64," + src.toString("base64"));
        console.log(JSON.stringify([labelSettings(), readLabel({json.dumps(code)})]));
    """], capture_output=True, text=True, check=True, timeout=30)
    remembered, reading = json.loads(proc.stdout)
    assert remembered is None
    assert (reading["kind"], reading["gtin"]) == ("gtin", code.zfill(14))


# -- what a label sells: lookupLabel against the hub's /api/v1/lookup ---------------------------

DE_PREFIXES = sorted(_RCN_RULES[next(r for r in _RCN_RULES if r.value == "de")])
DE = {"rcn_region": "DE", "rcn_pattern": "", "rcn_check_price_digit": True}


def de_label(prefix: str, ref: str, value: int) -> str:
    return with_check_digit(prefix + ref + str(price_check_digit(f"{value:05d}")) + f"{value:05d}")


@pytest.fixture(scope="module")
def deli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A DE hub whose items a label finds every way the hub looks: by SKU, by its zeroed GTIN (a case of
    6), by its item reference as a shop code (a case of 2); sold each, by weight, by volume, at price 0."""
    from hub.service import HubService
    from hub.web import create_app
    from tests.conftest import hub_config

    svc = HubService(hub_config(tmp_path_factory.mktemp("deli") / "data", store={"rcn_region": "DE"}))
    client = create_app(svc).test_client()
    owner = {"Authorization": f"Bearer {svc.auth.create_token('owner')}"}
    made = client.put("/api/v1/tax-categories/standard", json={"name": "Standard", "rate_bp": 1900}, headers=owner)
    assert made.status_code in (200, 201), made.json
    for sku, unit, price in (("1001", "each", 250), ("1002", "g", 1490), ("1003", "ml", 300), ("1004", "g", 0),
                             ("PACK", "each", 100), ("CODE", "each", 180), ("OLIVE", "g", 1800)):
        made = client.post("/api/v1/items", json={"sku": sku, "name": f"item {sku}", "unit": unit, "price_minor": price,
                                                  "tax_category": "zero" if unit == "g" else "standard"}, headers=owner)
        assert made.status_code == 201, made.json
    for sku, code, pack in (("PACK", de_label("25", "1005", 0), 6), ("CODE", "1006", 2), ("OLIVE", de_label("22", "1007", 0), 1)):
        body = {"code": code, "packaging": "case" if pack > 1 else "unit", "pack_qty": pack}
        added = client.post(f"/api/v1/items/{sku}/barcodes", json=body, headers=owner)
        assert added.status_code == 201, added.json
    conn = svc.db.conn
    packs: dict[str, dict[str, int]] = {}
    codes = {}
    for code, sku, pack in conn.execute("SELECT code, sku, pack_qty FROM barcodes"):
        codes[code] = sku
        if pack != 1:
            packs.setdefault(sku, {})[code] = pack
    items = {sku: {"sku": sku, "name": name, "unit": unit, "price_minor": price, "tax": tax, "active": bool(active),
                   "variants": False, "packs": packs.get(sku, {})}
             for sku, name, unit, price, tax, active in conn.execute(
                 "SELECT sku, name, unit, price_minor, tax_category, active FROM items")}
    catalog = {"items": items, "codes": codes, "taxes": dict(conn.execute("SELECT id, rate_bp FROM tax_categories"))}
    cashier = {"Authorization": f"Bearer {svc.auth.create_token('cashier')}"}
    yield (lambda code: client.get("/api/v1/lookup", query_string={"code": code}, headers=cashier)), catalog
    svc.stop()


@st.composite
def deli_labels(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(DE_PREFIXES))
    ref = draw(st.sampled_from(["1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008"]))
    value = draw(st.one_of(digits(5), st.integers(0, 3000).map(lambda n: f"{n:05d}")))
    check = str(price_check_digit(value)) if draw(st.integers(0, 5)) else draw(digits(1))
    return with_check_digit(prefix + ref + check + value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(deli_labels(), min_size=10, max_size=40))
def test_a_label_sells_offline_what_the_hub_sells(labels: Labels, deli: tuple[Any, dict[str, Any]],
                                                  codes: list[str]) -> None:
    lookup, catalog = deli
    for code, js in zip(codes, labels.read([(c, DE) for c in codes], catalog), strict=True):
        hub = lookup(code)
        if hub.status_code != 200:
            assert js.get("refused") == hub.status_code, (code, hub.json, js)
            continue
        want = hub.json
        if want["qty"] is None:  # the hub asks the scale, which only the hub can: offline, refused
            assert js.get("refused") == 422, (code, want, js)
            continue
        assert "refused" not in js, (code, want, js)
        assert js["item"] == want["item"], code
        for key in ("qty", "unit_price_minor", "line_price_minor", "embedded_price_minor"):
            assert js[key] == want[key], (code, key)


def test_every_way_of_finding_an_item_is_taken(labels: Labels, deli: tuple[Any, dict[str, Any]]) -> None:
    """Worked cases for the property above: each is found, and sells what the hub says."""
    lookup, catalog = deli
    cases = {
        "by SKU, sold each": (de_label("22", "1001", 347), "1001", 1, 347),
        "by SKU, weighed": (de_label("28", "1002", 250), "1002", 250, 373),
        "by its zeroed GTIN, a case of 6": (de_label("25", "1005", 3), "PACK", 18, 1800),
        "by its reference as a code, a case of 2": (de_label("25", "1006", 4), "CODE", 8, 1440),
        "a price label on a weighed item": (de_label("22", "1007", 540), "OLIVE", 300, 540),
    }
    for what, (code, *_) in cases.items():
        assert lookup(code).status_code == 200, (what, lookup(code).json)
    answers = labels.read([(code, DE) for code, *_ in cases.values()], catalog)
    for (what, (code, sku, qty, line)), js in zip(cases.items(), answers, strict=True):
        assert (js["item"]["sku"], js["qty"], js["line_price_minor"]) == (sku, qty, line), what
        assert (js["qty"], js["line_price_minor"]) == (lookup(code).json["qty"], lookup(code).json["line_price_minor"])
    refusals = [de_label("28", "1003", 250), de_label("22", "1004", 100), de_label("22", "1008", 347)]
    # a weight on a volume item; a price on a weighed item whose shelf price is 0; an unknown item
    assert [js.get("refused") for js in labels.read([(c, DE) for c in refusals], catalog)] == [422, 422, 404]
    assert [lookup(c).status_code for c in refusals] == [422, 200, 404]  # 0: the hub asks the scale
