"""Item CSV import and export: the format, all-or-nothing, the report, round trips, the CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub import item_import, item_import_worker
from hub.catalog import Catalog
from hub.cli import main
from hub.db import Database
from hub.domain import catalog as rules
from hub.domain.barcodes import parse as parse_code
from hub.domain.barcodes import with_check_digit
from hub.errors import BackroomError, ValidationError
from hub.item_csv import COLUMNS, RowError, export_row, format_money, parse_money, parse_row
from hub.item_export import export_items
from hub.item_import import ImportResult, import_items
from hub.service import DB_FILE
from hub.store import Store

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
HEADER = "sku,name,unit,price,tax_category,barcodes"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)  # every reading later than the last: a rewrite would show
        return self.now


def gtin(n: int) -> str:
    return with_check_digit(f"40{n:010d}")


def open_catalog(path: Path) -> Catalog:
    catalog = Catalog(Store(Database(path).open(), "h1", "EUR", Clock()))
    with catalog.db.write() as conn:
        catalog.put_tax_category(conn, "std", "Standard", 2000, "test")
        catalog.put_modifier_group(conn, {"id": "wrap", "name": "Gift wrap", "options": [
            {"id": "paper", "name": "Paper", "delta_minor": 150}]}, "test")
    return catalog


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    c = open_catalog(tmp_path / "hub.sqlite3")
    yield c
    c.db.close()


def run(catalog: Catalog, text: str, **kw: object) -> ImportResult:
    return import_items(catalog, io.StringIO(text), "owner:test", **kw)  # type: ignore[arg-type]


def counts(catalog: Catalog) -> tuple[int, int, int]:
    conn = catalog.db.conn
    return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[return-value]
                 for t in ("items", "item_changes", "outbox"))


def report_rows(report: io.StringIO) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(report.getvalue())))


def export_text(catalog: Catalog) -> str:
    out = io.StringIO()
    export_items(catalog, out)
    return out.getvalue()


# A catalog that uses every column: tiers, breaks, case and inner codes, variants, kits, modifiers.
FULL = f"""{','.join(COLUMNS)}
TEA,Green tea,each,2.49,1.20,std,Pantry,Tea,Leafco,LC-9,12,40,g,true,{gtin(1)} {gtin(2)}*12 {gtin(3)}*6i,2.20,2.00,3@6.50 member:3@6.00,,,,,,wrap,3,block
SHIRT,T-shirt,each,12.00,5.00,std,Clothes,,,,1,0,,true,,,,,,,size;colour,,,,,
SHIRT-M-RED,,,,,,Clothes,,,,1,0,,true,{gtin(4)},,,,SHIRT,size=M;colour=red,,,,,Back wall,allow
SHIRT-L-RED,T-shirt L red,,13.50,,,Clothes,,,,1,0,,false,,,,,SHIRT,size=L;colour=red,,,,,,
BOX,Gift box,each,15.00,,std,Gifts,,,,1,0,,true,{gtin(5)},,,,,,,components,TEA*2;SHIRT-M-RED*1,,,
HAM,Ham,g,19.90,,zero,Deli,,,,1,0,,true,2012345,,,,,,,,,,,
"""


def test_import_creates_every_kind_of_item(catalog: Catalog) -> None:
    result = run(catalog, FULL)
    assert (result.rows, result.created, result.rejected, result.applied) == (6, 6, 0, True)
    conn = catalog.db.conn
    tea = catalog.read(conn, "TEA")
    assert tea is not None
    assert (tea["price_minor"], tea["cost_minor"], tea["tiers"]) == (249, 120, {"member": 220, "wholesale": 200})
    assert tea["breaks"] == [{"tier": "retail", "qty": 3, "price_minor": 650}, {"tier": "member", "qty": 3, "price_minor": 600}]
    assert (tea["net_content"], tea["net_unit"], tea["case_pack"], tea["modifier_groups"]) == (40, "g", 12, ["wrap"])
    codes = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT code, packaging, pack_qty FROM barcodes WHERE sku = 'TEA'")}
    assert codes == {"0" + gtin(1): ("unit", 1), "0" + gtin(2): ("case", 12), "0" + gtin(3): ("inner", 6)}
    variant = catalog.get("SHIRT-M-RED")
    assert (variant["name"], variant["unit"], variant["price_minor"], variant["own_price"]) == ("T-shirt M red", "each", 1200, False)
    assert catalog.get("SHIRT-L-RED")["active"] is False
    assert catalog.get("BOX")["components"] == [{"sku": "SHIRT-M-RED", "qty": 1}, {"sku": "TEA", "qty": 2}]
    # one 'created' audit row each, same shape as the API's, with who and why
    rows = conn.execute("SELECT sku, new, actor, reason FROM item_changes WHERE field = 'created' ORDER BY sku").fetchall()
    assert [r["sku"] for r in rows] == ["BOX", "HAM", "SHIRT", "SHIRT-L-RED", "SHIRT-M-RED", "TEA"]
    assert {(r["actor"], r["reason"]) for r in rows} == {("owner:test", f"import {result.import_id}")}
    assert json.loads(rows[-1]["new"])["barcodes"][1] == {"code": "0" + gtin(2), "packaging": "case", "pack_qty": 12,
                                                          "internal": False}
    events = [(r[0], json.loads(r[1])) for r in conn.execute("SELECT type, data FROM outbox WHERE type LIKE 'item%' ORDER BY seq")]
    imported = [e for t, e in events if t == "items.imported"]
    assert [i["sku"] for e in imported for i in e["items"]] == ["TEA", "SHIRT", "HAM"]  # the bulk path
    assert all(e["import_id"] == result.import_id for e in imported)
    assert sorted(e["sku"] for t, e in events if t == "item.created") == ["BOX", "SHIRT-L-RED", "SHIRT-M-RED"]


def test_update_goes_through_the_audited_path(catalog: Catalog) -> None:
    run(catalog, FULL)
    before = catalog.db.conn.execute("SELECT max(id) FROM item_changes").fetchone()[0]
    result = run(catalog, f"sku,name,price,barcodes\nTEA,Green tea 20 bags,2.59,{gtin(1)} {gtin(6)}\nHAM,Ham,19.90,2012345\n")
    assert (result.updated, result.unchanged, result.applied) == (1, 1, True)
    changes = catalog.db.conn.execute("SELECT field, old, new, actor, reason FROM item_changes WHERE id > ? ORDER BY id",
                                      (before,)).fetchall()
    assert [(c["field"], c["old"], c["new"]) for c in changes if c["field"] != "barcode"] == [
        ("name", '"Green tea"', '"Green tea 20 bags"'), ("price_minor", "249", "259")]
    assert {(c["actor"], c["reason"]) for c in changes if c["field"] != "barcode"} == {("owner:test", f"import {result.import_id}")}
    # barcodes: the cell is the whole list, so the case and inner codes went and the new one came
    assert sorted(r[0] for r in catalog.db.conn.execute("SELECT code FROM barcodes WHERE sku = 'TEA'")) == ["0" + gtin(1), "0" + gtin(6)]
    types = [r[0] for r in catalog.db.conn.execute("SELECT type FROM outbox ORDER BY seq DESC LIMIT 5")]
    assert "price.changed" in types and "item.changed" in types


def test_reimport_and_export_round_trip_change_nothing(catalog: Catalog, tmp_path: Path) -> None:
    run(catalog, FULL)
    stamps = catalog.db.conn.execute("SELECT sku, updated_at FROM items ORDER BY sku").fetchall()
    before = counts(catalog)
    again = run(catalog, FULL)
    exported = export_text(catalog)
    from_export = run(catalog, exported)
    assert (again.unchanged, again.updated, again.created) == (6, 0, 0)
    assert (from_export.unchanged, from_export.updated, from_export.created) == (6, 0, 0)
    assert counts(catalog) == before
    assert catalog.db.conn.execute("SELECT sku, updated_at FROM items ORDER BY sku").fetchall() == stamps
    # into a fresh hub: the same catalog, exported the same way
    fresh = open_catalog(tmp_path / "fresh.sqlite3")
    try:
        assert run(fresh, exported).created == 6
        assert export_text(fresh) == exported
        for sku in ("TEA", "SHIRT-M-RED", "BOX"):
            assert fresh.read(fresh.db.conn, sku) == catalog.read(catalog.db.conn, sku)
    finally:
        fresh.db.close()


def test_export_puts_what_an_item_needs_before_it(catalog: Catalog) -> None:
    run(catalog, FULL + "AAKIT,Kit of kits,each,30.00,,std,,,,,1,0,,true,,,,,,,,assembled,BOX*1;HAM*500,,,\n")
    skus = [line.split(",")[0] for line in export_text(catalog).splitlines()[1:]]
    assert skus == ["HAM", "SHIRT", "TEA", "SHIRT-L-RED", "SHIRT-M-RED", "BOX", "AAKIT"]


def test_nothing_applies_when_a_row_is_bad_unless_partial(catalog: Catalog) -> None:
    text = f"{HEADER}\nA1,Apples,each,1.00,std,{gtin(10)}\nA2,Pears,each,1.x,std,\nA3,Plums,each,3.00,std,\n"
    before = counts(catalog)
    result = run(catalog, text)
    assert (result.rows, result.created, result.rejected, result.applied) == (3, 2, 1, False)
    assert result.first_errors == ['row 2, column price: "1.x" is not an amount; write it like 2.49']
    assert counts(catalog) == before
    partial = run(catalog, text, partial=True)
    assert (partial.created, partial.rejected, partial.applied) == (2, 1, True)
    assert sorted(r[0] for r in catalog.db.conn.execute("SELECT sku FROM items")) == ["A1", "A3"]


def test_the_report_names_row_column_and_reason(catalog: Catalog) -> None:
    run(catalog, FULL)
    text = "\n".join([
        "sku,name,unit,price,tax_category,barcodes,breaks",
        "N1,Good,each,1.00,std,,",
        "N2,Bad price,each,2.4.9,std,,",
        "N3,Bad unit,kg,1.00,std,,",
        "N4,Bad tax,each,1.00,luxury,,",
        f"N5,Stolen code,each,1.00,std,{gtin(1)},",
        "N1,Twice,each,1.00,std,,",
        "N6,Bad breaks,each,1.00,std,,3for5",
        "TEA,,,9.99,,,3@@",
    ]) + "\n"
    report = io.StringIO()
    result = run(catalog, text, report=report)
    assert (result.rows, result.rejected, result.applied) == (8, 7, False)
    got = [(r["row"], r["sku"], r["column"]) for r in report_rows(report)]
    assert got == [("2", "N2", "price"), ("3", "N3", "unit"), ("4", "N4", "tax_category"), ("5", "N5", "barcodes"),
                   ("6", "N1", "sku"), ("7", "N6", "breaks"), ("8", "TEA", "breaks")]
    reasons = {r["sku"] + r["row"]: r["reason"] for r in report_rows(report)}
    assert reasons["N22"] == '"2.4.9" is not an amount; write it like 2.49'
    assert "'each', 'g', 'ml'" in reasons["N33"] and "'kg'" in reasons["N33"]
    assert "tax category 'luxury' does not exist" in reasons["N44"] and "std" in reasons["N44"]
    assert reasons["N55"] == f"barcode {gtin(1)} already belongs to item TEA; remove it there first"
    assert reasons["N16"] == "SKU N1 is already on row 1; give each SKU once"
    assert '"3for5" is not a price break' in reasons["N67"]
    assert reasons["TEA8"] == 'in "3@@", "@" is not an amount; write it like 2.49'
    assert result.first_errors[0] == 'row 2, column price: "2.4.9" is not an amount; write it like 2.49'


def test_more_rejections(catalog: Catalog) -> None:
    run(catalog, FULL)
    text = "\n".join([
        "sku,name,unit,price,parent_sku,barcodes,components,kit_policy",
        ",No sku,each,1.00,,,,",
        "bad sku!,Bad,each,1.00,,,,",
        "SHIRT-M-RED,T-shirt,each,12.00,,,,",  # an import cannot cut a variant loose
        "V9,Orphan,each,1.00,NOPE,,,",
        f"C1,Twice the same code,each,1.00,,{gtin(20)} {gtin(20)},,",
        "C2,GS1 string,each,1.00,,0104006381333931,,",
        "K1,Kit of ghosts,each,1.00,,,GHOST*1,components",
        "C3,Short row,each",
        "C4,No price,each,,,,,",
        "C5,,each,1.00,,,,",
    ]) + "\n"
    report = io.StringIO()
    result = run(catalog, text, report=report)
    rows = {r["row"]: (r["column"], r["reason"]) for r in report_rows(report)}
    assert result.rejected == 10 == len(rows)
    assert rows["1"] == ("sku", "the SKU is empty; every row needs one")
    assert rows["2"][0] == "sku" and "not a valid SKU" in rows["2"][1]
    assert rows["3"] == ("parent_sku", "item SHIRT-M-RED is a variant of SHIRT; an import cannot change that. "
                                       "Make a new item and stop this one")
    assert rows["4"] == ("parent_sku", "parent item NOPE does not exist")
    assert rows["5"] == ("barcodes", f"barcode {gtin(20)} is listed twice; give it once")
    assert rows["6"][0] == "barcodes" and "cannot be an item's barcode" in rows["6"][1]
    assert rows["7"] == ("components", "kit K1: component GHOST is not in the item master")
    assert rows["8"][0] == "" and "3 cells but the header has 8 columns" in rows["8"][1]
    assert rows["9"] == ("price", "a new item needs a price")
    assert rows["10"] == ("name", "a new item needs name")


def test_a_file_that_is_not_an_item_csv_is_refused_whole(catalog: Catalog) -> None:
    with pytest.raises(ValidationError, match="unknown column 'prise'; did you mean price"):
        run(catalog, "sku,prise\nA,1\n")
    with pytest.raises(ValidationError, match="no sku column"):
        run(catalog, "name,price\nA,1\n")
    with pytest.raises(ValidationError, match="the file is empty"):
        run(catalog, "")
    with pytest.raises(ValidationError, match="price twice"):
        run(catalog, "sku,price,Price\n")
    assert counts(catalog)[0] == 0


def test_only_the_columns_given_change(catalog: Catalog) -> None:
    run(catalog, FULL)
    assert run(catalog, "SKU,Member_Price\nTEA,2.10\n").updated == 1  # headers are case-blind
    tea = catalog.read(catalog.db.conn, "TEA")
    assert tea is not None and tea["tiers"] == {"member": 210, "wholesale": 200} and tea["price_minor"] == 249
    assert run(catalog, "sku,wholesale_price,department,active\nTEA,,,no\n").updated == 1
    tea = catalog.read(catalog.db.conn, "TEA")
    assert tea is not None and tea["tiers"] == {"member": 210} and tea["department"] == "" and tea["active"] is False


def stock_fields(catalog: Catalog) -> dict[str, tuple[str, str]]:
    return {r[0]: (r[1], r[2]) for r in catalog.db.conn.execute("SELECT sku, aisle, negative_stock FROM items")}


def test_aisle_and_negative_stock_import_and_export(catalog: Catalog) -> None:
    run(catalog, FULL)  # TEA on the bulk path, SHIRT-M-RED through Catalog.create
    assert stock_fields(catalog) == {"TEA": ("3", "block"), "SHIRT-M-RED": ("Back wall", "allow"), "SHIRT": ("", ""),
                                     "SHIRT-L-RED": ("", ""), "BOX": ("", ""), "HAM": ("", "")}
    created = json.loads(catalog.db.conn.execute("SELECT new FROM item_changes WHERE sku = 'TEA'").fetchone()[0])
    assert (created["aisle"], created["negative_stock"]) == ("3", "block")
    # an update; an empty cell blanks them as it does department: negative_stock then follows the store
    result = run(catalog, "sku,aisle,negative_stock\nTEA, 4 ,\nHAM,12,allow\nBOX,,\n")
    assert (result.updated, result.unchanged) == (2, 1)
    assert stock_fields(catalog)["TEA"] == ("4", "") and stock_fields(catalog)["HAM"] == ("12", "allow")
    changes = catalog.db.conn.execute("SELECT field, old, new FROM item_changes WHERE sku = 'TEA' AND field <> 'created' "
                                      "ORDER BY id").fetchall()
    assert [tuple(c) for c in changes] == [("aisle", '"3"', '"4"'), ("negative_stock", '"block"', '""')]
    assert json.loads(catalog.db.conn.execute("SELECT data FROM outbox WHERE type = 'item.changed' ORDER BY seq DESC "
                                              "LIMIT 1").fetchone()[0])["changes"] == {"negative_stock": {"old": "", "new": "allow"},
                                                                                       "aisle": {"old": "", "new": "12"}}
    exported = {r["sku"]: (r["aisle"], r["negative_stock"]) for r in csv.DictReader(io.StringIO(export_text(catalog)))}
    assert exported == stock_fields(catalog)


@pytest.mark.parametrize("sku", ["NEW", "TEA"])  # the bulk path and the update path
def test_a_bad_aisle_or_negative_stock_is_a_row_rejection(catalog: Catalog, sku: str) -> None:
    run(catalog, FULL)
    report = io.StringIO()
    text = f"sku,name,unit,price,aisle,negative_stock\n{sku},Tea,each,1.00,3,never\n{sku}2,Tea,each,1.00,{'x' * 41},\n"
    result = run(catalog, text.replace("TEA2", "HAM"), report=report)
    rows = report_rows(report)
    assert result.rejected == 2 and [r["column"] for r in rows] == ["negative_stock", "aisle"]
    assert rows[0]["reason"] == "negative_stock must be one of '', 'allow', 'block' (got 'never')"
    assert rows[1]["reason"] == "aisle must be 0-40 characters (got 41)"


def test_duplicates_and_events_across_chunks(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(item_import, "CHUNK_ROWS", 3)
    monkeypatch.setattr(item_import, "EVENT_MAX_BYTES", 1000)
    run(catalog, "sku,name,unit,price\nOLD,Old,each,1.00\n")
    rows = [f"P{i},Item {i},each,1.00" for i in range(10)] + ["P2,Again,each,1.00", "OLD,Old,each,1.00",
                                                                "OLD,Old,each,2.00", "BAD,Bad,each,x", "BAD,Bad,each,1.00"]
    result = run(catalog, "sku,name,unit,price\n" + "\n".join(rows) + "\n", partial=True)
    assert (result.created, result.unchanged, result.rejected) == (10, 1, 4)
    assert [e.split(":")[0] for e in result.first_errors] == ["row 11, column sku", "row 13, column sku", "row 14, column price",
                                                              "row 15, column sku"]
    sizes = [len(r[0]) for r in catalog.db.conn.execute("SELECT data FROM outbox WHERE type = 'items.imported'")]
    assert len(sizes) > 4 and max(sizes) < 2000


@pytest.mark.parametrize("partial", [False, True])
def test_a_partial_import_lets_others_write_between_chunks(catalog: Catalog, monkeypatch: pytest.MonkeyPatch,
                                                          partial: bool) -> None:
    monkeypatch.setattr(item_import, "CHUNK_ROWS", 2)
    other = sqlite3.connect(catalog.db.path, timeout=0, isolation_level=None)  # another process, e.g. a sale
    outcomes: list[str] = []

    def try_to_write(_rows: int) -> None:
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            outcomes.append("wrote")
        except sqlite3.OperationalError as exc:
            outcomes.append(str(exc))

    rows = "".join(f"Q{i},Item {i},each,1.00\n" for i in range(6))
    try:
        result = import_items(catalog, io.StringIO("sku,name,unit,price\n" + rows), "owner:test", partial=partial,
                              progress=try_to_write)
    finally:
        other.close()
    assert result.applied and result.created == 6
    assert outcomes == (["wrote"] * 3 if partial else ["database is locked"] * 3)


def test_streams_twenty_thousand_rows(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["sku", "name", "unit", "price", "tax_category", "barcodes"])
        for i in range(20_000):
            w.writerow([f"S{i:05d}", f"Item {i}", "each", format_money(100 + i), "std" if i % 2 else "zero", gtin(100 + i)])
    seen: list[int] = []
    with path.open(newline="", encoding="utf-8") as f:
        result = import_items(catalog, f, "owner:test", progress=seen.append)
    assert (result.rows, result.created, result.applied) == (20_000, 20_000, True)
    assert seen == list(range(1000, 20_001, 1000))
    assert counts(catalog)[:2] == (20_000, 20_000)
    assert catalog.store.lookup(gtin(100 + 12_345))["item"]["sku"] == "S12345"
    reason = catalog.db.conn.execute("SELECT DISTINCT reason FROM item_changes").fetchall()
    assert [r[0] for r in reason] == ["import big.csv"]


# -- the worker process: a big file on disk is read and checked there ---------------------------
def worker_pids() -> list[int]:
    """This process's children running the import worker, zombies included (a child not waited for)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and (b"item_import" in cmdline or fields[0] == "Z"):
            found.append(int(stat.parent.name))
    return found


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every file on disk goes through the worker; none is left behind."""
    monkeypatch.setattr(item_import, "WORKER_MIN_BYTES", 0)
    started: list[subprocess.Popen[bytes]] = []
    popen = subprocess.Popen

    def recording(*args: object, **kw: object) -> subprocess.Popen[bytes]:
        proc = popen(*args, **kw)  # type: ignore[call-overload]
        started.append(proc)
        return proc

    monkeypatch.setattr(item_import_worker.subprocess, "Popen", recording)
    yield
    assert started, "no worker was started"
    assert all(p.returncode is not None for p in started) and not worker_pids()


def import_both(tmp_path: Path, text: str, **kw: object) -> tuple[tuple[object, ...], tuple[object, ...]]:
    """The same import read here (StringIO) and by the worker (a file): results, reports, tables."""
    path = tmp_path / "items.csv"
    path.write_text(text, encoding="utf-8")
    outcomes = []
    for name in ("here", "worker"):
        catalog = open_catalog(tmp_path / f"{name}.sqlite3")
        try:
            run(catalog, FULL, partial=True)
            report = io.StringIO()
            try:
                with path.open(newline="", encoding="utf-8") if name == "worker" else io.StringIO(text) as f:
                    result: object = import_items(catalog, f, "owner:test", report=report, **kw)  # type: ignore[arg-type]
                    result = {k: v for k, v in vars(result).items() if k != "import_id"}
            except ValidationError as exc:
                result = exc.message
            conn = catalog.db.conn
            tables = [conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in
                      ("items", "barcodes", "item_prices", "item_modifier_groups", "kit_components")]
            audit = conn.execute("SELECT sku, field, old, new, actor, at FROM item_changes ORDER BY id").fetchall()
            events = conn.execute("SELECT type, occurred_at, json_remove(data, '$.import_id', '$.reason') FROM outbox "
                                  "ORDER BY seq").fetchall()
            outcomes.append((result, report.getvalue(), [[tuple(r) for r in t] for t in (*tables, audit, events)]))
        finally:
            catalog.db.close()
    return outcomes[0], outcomes[1]


MIXED = "\n".join([
    f"{','.join(COLUMNS)}",
    f"N1,Plain,each,1.00,,std,,,,,1,0,,true,{gtin(30)} {gtin(31)}*12,,,3@2.50,,,,,,wrap,2,block",
    "N2,Bad price,each,1.x,,std,,,,,1,0,,true,,,,,,,,,,,,",
    f"N3,Stolen code,each,1.00,,std,,,,,1,0,,true,{gtin(1)},,,,,,,,,,,",
    "TEA,Green tea again,each,2.59,,std,,,,,12,40,g,true,,,,,,,,,,,4,",
    "SHIRT-S-RED,,,,,,,,,,1,0,,true,,,,,SHIRT,size=S;colour=red,,,,,,allow",
    "N1,Twice,each,1.00,,std,,,,,1,0,,true,,,,,,,,,,,,",
    "KIT2,Kit,each,5.00,,std,,,,,1,0,,true,,,,,,,,components,N1*2;TEA*1,,,",
    'N4,"A name, with a comma and a\nline break",g,3.00,,zero,,,,,1,0,,true,2012345,,,,,,,,,,,',
    "N5,Scale code,each,1.00,,std,,,,,1,0,,true,2100000000004,,,,,,,,,,,",
    "TEA,Once more,each,2.69,,std,,,,,12,40,g,true,,,,,,,,,,,,",
    'N6,"Tea, green",each,1.00,,std,,,,,1,0,,true,,,,,,,,,,,Till 1,',
]) + "\n"


@pytest.mark.parametrize("partial", [False, True])
def test_the_worker_imports_exactly_as_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, worker: None,
                                            partial: bool) -> None:
    monkeypatch.setattr(item_import, "CHUNK_ROWS", 3)
    monkeypatch.setattr(item_import, "EVENT_MAX_BYTES", 600)
    monkeypatch.setattr(item_import_worker, "WORKERS", 2 if partial else 1)  # chunks in turn, answers in order
    here, there = import_both(tmp_path, MIXED, partial=partial)
    assert here == there
    result, report, tables = there
    assert isinstance(result, dict) and (result["rows"], result["created"], result["updated"]) == (11, 4, 1)
    assert result["applied"] is partial and len(tables[0]) == (6 + 4 if partial else 6)
    assert [r["row"] for r in report_rows(io.StringIO(report))] == ["2", "3", "6", "8", "9", "10"]


@pytest.mark.parametrize("partial", [False, True])
def test_the_worker_stops_where_the_file_stops_being_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              worker: None, partial: bool) -> None:
    monkeypatch.setattr(item_import, "CHUNK_ROWS", 2)
    rows = "".join(f"R{i},Item {i},each,1.00\n" for i in range(9))
    here, there = import_both(tmp_path, f"sku,name,unit,price\n{rows}R9,{'x' * 200_000},each,1.00\nR10,Ten,each,1.00\n",
                              partial=partial)
    assert here == there and there[0] == "the file cannot be read as CSV at line 11: field larger than field limit (131072)"
    assert len(there[2][0]) == (6 + 8 if partial else 6)  # the chunks before the bad row, when partial


def test_the_worker_stops_at_text_that_is_not_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   worker: None) -> None:
    monkeypatch.setattr(item_import, "CHUNK_ROWS", 100)
    path = tmp_path / "latin.csv"
    path.write_bytes(("sku,name,unit,price\n" + "".join(f"L{i},Item {i},each,1.00\n" for i in range(2000))).encode()
                     + "L2000,Cr\xe8me,each,1.00\n".encode("latin-1"))
    results = []
    for reader in ("here", "worker"):
        monkeypatch.setattr(item_import, "WORKER_MIN_BYTES", 0 if reader == "worker" else 1 << 40)
        catalog = open_catalog(tmp_path / f"{reader}.sqlite3")
        try:
            with path.open(newline="", encoding="utf-8") as f, pytest.raises(ValidationError, match="not UTF-8"):
                import_items(catalog, f, "owner:test", partial=True)
            results.append(counts(catalog)[0])
        finally:
            catalog.db.close()
    assert results[0] == results[1] > 0  # the same chunks went in before the error


def test_the_worker_ends_with_the_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, worker: None) -> None:
    monkeypatch.setattr(item_import, "CHUNK_ROWS", 10)
    path = tmp_path / "items.csv"
    # more checked rows than the pipe holds: the worker is still at work when the first chunk is in
    path.write_text("sku,name,unit,price\n" + "".join(f"W{i},Item {i},each,1.00\n" for i in range(5000)))

    def interrupt(_rows: int) -> None:
        raise KeyboardInterrupt

    def kill_worker(_rows: int) -> None:
        for pid in worker_pids():
            os.kill(pid, signal.SIGKILL)

    with path.open(newline="") as f, pytest.raises(KeyboardInterrupt):
        import_items(catalog := open_catalog(tmp_path / "a.sqlite3"), f, "owner:test", progress=interrupt)
    assert not worker_pids() and counts(catalog)[0] == 0
    catalog.db.close()
    with path.open(newline="") as f, pytest.raises(BackroomError, match="import worker process ended unexpectedly"):
        import_items(catalog := open_catalog(tmp_path / "b.sqlite3"), f, "owner:test", progress=kill_worker)
    assert counts(catalog)[0] == 0
    catalog.db.close()


def test_text_in_memory_is_never_sent_to_a_worker(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(item_import, "WORKER_MIN_BYTES", 0)
    monkeypatch.setattr(item_import_worker.subprocess, "Popen", None)  # an API request's body is read in the hub
    assert run(catalog, FULL).created == 6


def test_without_a_worker_process_the_rows_are_checked_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    def out_of_processes(*args: object, **kw: object) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(item_import, "WORKER_MIN_BYTES", 0)
    monkeypatch.setattr(item_import_worker.subprocess, "Popen", out_of_processes)
    fds = len(list(Path("/proc/self/fd").iterdir()))
    (tmp_path / "items.csv").write_text(FULL)
    catalog = open_catalog(tmp_path / "hub.sqlite3")
    try:
        with (tmp_path / "items.csv").open(newline="") as f:
            assert import_items(catalog, f, "owner:test").created == 6
    finally:
        catalog.db.close()
    assert "could not start an import worker process" in caplog.text
    assert len(list(Path("/proc/self/fd").iterdir())) == fds  # its pipes closed again


def test_cli_import_through_the_worker(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch, worker: None) -> None:
    monkeypatch.delenv("BACKROOM_CONFIG", raising=False)
    monkeypatch.setattr("hub.cli._ImportProgress.EVERY_S", 0.0)
    monkeypatch.setattr(item_import, "CHUNK_ROWS", 50)
    path = tmp_path / "items.csv"
    path.write_text("sku,name,unit,price,barcodes\n" + "".join(f"C{i},Item {i},each,1.00,{gtin(500 + i)}\n"
                                                              for i in range(200)))
    assert main(["items", "import", str(path), "--data-dir", str(tmp_path / "data")]) == 0
    out, err = capsys.readouterr()
    assert out == "imported items.csv: 200 rows: 200 created, 0 updated, 0 unchanged\n"
    assert err.splitlines()[-1].startswith("importing: 100%") and "200 rows" in err


# -- the format ----------------------------------------------------------------------------------
@given(st.integers(0, rules.MAX_MINOR))
def test_money_text_round_trips(minor: int) -> None:
    assert parse_money(format_money(minor)) == minor


@given(st.integers(0, rules.MAX_MINOR // 100 - 1), st.sampled_from(["", ".", ".d", ".dd"]), st.integers(0, 99))
def test_money_reads_exactly(whole: int, shape: str, cents: int) -> None:
    text = str(whole) + shape.replace("dd", f"{cents:02d}").replace("d", str(cents % 10))
    if shape == ".":
        with pytest.raises(RowError):
            parse_money(text)
        return
    expected = whole * 100 + {"": 0, ".d": cents % 10 * 10, ".dd": cents}[shape]
    assert parse_money(text) == expected


@pytest.mark.parametrize("text", ["-1", "1,50", "1.555", "1e3", "", " ", "NaN", "٣", "1.5.0", "+1", "99999999999"])
def test_money_refuses_what_is_not_an_amount(text: str) -> None:
    with pytest.raises(RowError):
        parse_money(text)


def test_other_cells() -> None:
    row = parse_row({"sku": "X", "barcodes": "A1 B2*12 C3*6i  D\\ 4", "active": "Yes", "variant_values": "size=M; colour = red",
                     "components": "P*2;Q", "modifier_groups": "wrap;size", "parent_sku": "", "member_price": ""})
    assert row.barcodes == [{"code": "A1", "packaging": "unit", "pack_qty": 1}, {"code": "B2", "packaging": "case", "pack_qty": 12},
                            {"code": "C3", "packaging": "inner", "pack_qty": 6}, {"code": "D 4", "packaging": "unit", "pack_qty": 1}]
    assert row.fields == {"active": True, "variant_values": {"size": "M", "colour": "red"}, "components": [
        {"sku": "P", "qty": 2}, {"sku": "Q", "qty": 1}], "modifier_groups": ["wrap", "size"]}
    assert (row.has_parent, row.parent_sku, row.tiers) == (True, None, {"member": None})
    for column, text in [("active", "maybe"), ("barcodes", "A*x"), ("variant_values", "size"), ("case_pack", "1.5"),
                         ("components", "P*two"), ("breaks", "member:3@")]:
        with pytest.raises(RowError) as exc:
            parse_row({"sku": "X", column: text})
        assert exc.value.column == column


@given(st.dictionaries(st.sampled_from(COLUMNS), st.text(max_size=40)))
def test_any_cells_read_or_say_which_column_is_wrong(cells: dict[str, str]) -> None:
    try:
        row = parse_row(cells)
    except RowError as exc:
        assert exc.column in COLUMNS and exc.message
        return
    try:
        rules.clean_fields(row.wanted({}), creating=False)
    except ValidationError as exc:
        assert exc.message


TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF, blacklist_characters="\x7f"), min_size=1,
               max_size=30).map(str.strip).filter(bool)
SKU = st.from_regex(rules.SKU_RE, fullmatch=True)
MONEY = st.integers(0, rules.MAX_MINOR)


@st.composite
def items(draw: st.DrawFn) -> tuple[dict, list[dict]]:
    is_variant = draw(st.booleans())
    item = {
        "sku": draw(SKU), "name": draw(TEXT), "unit": draw(st.sampled_from(rules.UNITS)), "price_minor": draw(MONEY),
        "cost_minor": draw(MONEY), "tax_category": draw(st.from_regex(rules.IDENT_RE, fullmatch=True)),
        "department": draw(st.just("") | TEXT), "category": draw(st.just("") | TEXT), "supplier": draw(TEXT),
        "supplier_sku": draw(TEXT), "case_pack": draw(st.integers(1, 100_000)), "net_content": draw(st.integers(0, 10**7)),
        "net_unit": draw(st.sampled_from(rules.NET_UNITS)), "active": draw(st.booleans()),
        "tiers": draw(st.dictionaries(st.sampled_from(rules.PRICE_TIERS), MONEY)),
        "breaks": sorted(draw(st.dictionaries(st.tuples(st.sampled_from(rules.BREAK_TIERS), st.integers(2, 10_000)), MONEY,
                                              max_size=4)).items()),
        "parent_sku": draw(SKU) if is_variant else None, "own_price": draw(st.booleans()) or not is_variant,
        "variant_axes": [] if is_variant else draw(st.lists(TEXT, max_size=3, unique=True)),
        "variant_values": draw(st.dictionaries(TEXT, TEXT, max_size=3)) if is_variant else {},
        "kit_policy": draw(st.sampled_from(rules.KIT_POLICIES)),
        "components": sorted(draw(st.dictionaries(SKU, st.integers(1, 10**6), max_size=3)).items()),
        "modifier_groups": draw(st.lists(st.from_regex(rules.IDENT_RE, fullmatch=True), max_size=3, unique=True)),
        "aisle": draw(st.just("") | TEXT), "negative_stock": draw(st.sampled_from(rules.NEGATIVE_STOCK)),
    }
    item["breaks"] = [{"tier": t, "qty": q, "price_minor": p}
                      for (t, q), p in sorted(item["breaks"], key=lambda b: (rules.BREAK_TIERS.index(b[0][0]), b[0][1]))]
    item["components"] = [{"sku": s, "qty": q} for s, q in item["components"]]
    packs = st.sampled_from([("unit", 1), ("case", 12), ("inner", 6), ("case", 2)])
    codes = draw(st.lists(st.tuples(TEXT, packs), max_size=3, unique_by=lambda c: c[0]))
    return item, [{"code": c, "packaging": p, "pack_qty": n} for c, (p, n) in codes]


@given(items())
def test_export_row_reads_back_the_same_fields(drawn: tuple[dict, list[dict]]) -> None:
    item, barcodes = drawn
    row = parse_row(dict(zip(COLUMNS, export_row(item, barcodes), strict=True)))
    fields = rules.clean_fields(row.wanted({}), creating=False)
    expected = {f: item[f] for f in rules.FIELDS}
    if not item["own_price"]:
        del expected["price_minor"]  # a variant that follows its parent's price leaves it empty
    assert fields == expected
    assert row.sku == item["sku"] and row.parent_sku == item["parent_sku"]
    assert sorted(row.barcodes or [], key=lambda b: b["code"]) == sorted(barcodes, key=lambda b: b["code"])


# -- the command line ----------------------------------------------------------------------------
def test_cli_import_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BACKROOM_CONFIG", raising=False)
    data = tmp_path / "data"
    good = tmp_path / "items.csv"
    good.write_text("sku,name,unit,price,barcodes\nA1,Apples,each,1.00,4006381333931\n")
    assert main(["items", "import", str(good), "--data-dir", str(data)]) == 0
    assert capsys.readouterr().out == "imported items.csv: 1 rows: 1 created, 0 updated, 0 unchanged\n"
    assert not (tmp_path / "items.rejects.csv").exists()
    bad = tmp_path / "more.csv"
    bad.write_text("sku,name,unit,price\nB1,Bread,each,2.00\nB2,Buns,each,two\n")
    assert main(["items", "import", str(bad), "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err
    assert f"nothing imported: 1 of 2 rows were rejected; the reasons are in {tmp_path / 'more.rejects.csv'}" in err
    assert 'row 2, column price: "two" is not an amount' in err
    assert report_rows(io.StringIO((tmp_path / "more.rejects.csv").read_text()))[0]["sku"] == "B2"
    assert main(["items", "import", str(bad), "--partial", "--report", str(tmp_path / "r.csv"), "--data-dir", str(data)]) == 0
    assert "1 created" in capsys.readouterr().out and (tmp_path / "r.csv").exists()
    monkeypatch.setattr("hub.cli._ImportProgress.EVERY_S", 0.0)
    monkeypatch.setattr(item_import, "CHUNK_ROWS", 1)
    assert main(["items", "import", str(good), "--data-dir", str(data)]) == 0
    progress = capsys.readouterr().err.splitlines()  # not a terminal: plain lines, no bar
    assert progress and all(line.startswith("importing: 100%") and "1 rows" in line for line in progress)
    assert main(["items", "export", "--data-dir", str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ",".join(COLUMNS) and [ln.split(",")[0] for ln in lines[1:]] == ["A1", "B1"]
    assert main(["items", "export", str(tmp_path / "out.csv"), "--data-dir", str(data)]) == 0
    assert "exported 2 items" in capsys.readouterr().err
    db = Database(data / DB_FILE)
    try:
        actors = {r[0] for r in db.conn.execute("SELECT actor FROM item_changes")}
    finally:
        db.close()
    assert len(actors) == 1 and actors.pop().startswith("cli:")


def test_cli_errors_are_one_clean_line(tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("sku,name\nA1,Cr\xe8me\n".encode("latin-1"))
    for argv, says in [([str(tmp_path / "missing.csv")], "No such file or directory"), ([str(latin)], "not UTF-8"),
                       ([str(tmp_path / "x.csv")], "unknown column 'prise'")]:
        (tmp_path / "x.csv").write_text("sku,prise\n")
        out = subprocess.run([sys.executable, "-m", "hub.cli", "items", "import", *argv, "--data-dir", str(tmp_path / "d")],
                             capture_output=True, text=True, timeout=60,
                             env={"PATH": "/usr/bin:/bin", "BACKROOM_LOG_LEVEL": "WARNING"})
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        assert says in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


@given(items(), st.lists(st.tuples(TEXT, st.sampled_from(["unit", "case", "inner"]), st.integers(1, 10**5)), max_size=3))
def test_audit_records_are_written_as_the_catalog_writes_them(drawn: tuple[dict, list[dict]],
                                                             bs: list[tuple[str, str, int]]) -> None:
    item = {**rules.DEFAULTS, **{f: v for f, v in drawn[0].items() if f in rules.FIELDS}}
    record = {"sku": drawn[0]["sku"], "parent_sku": None, **item,
              "barcodes": [{"code": c, "packaging": p, "pack_qty": q, "internal": False} for c, p, q in bs]}
    assert item_import_worker._record_json(drawn[0]["sku"], item, bs) == item_import_worker._AUDIT_JSON(record)


@given(st.from_regex(r"\A[0-9]{8,15}\Z") | st.text(max_size=16))
def test_the_quick_gtin_reading_agrees_with_the_parser(code: str) -> None:
    parsed = parse_code(code)
    expected = parsed.gtin if parsed.kind == "gtin" and parsed.valid and 12 <= len(code) <= 14 else None
    assert item_import_worker._gtin_key(code) == expected
