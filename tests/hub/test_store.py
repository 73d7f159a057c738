import sqlite3
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.db import Database, _migrations, migrate
from hub.domain.sale import CatalogItem, LineRequest, Tender, price_sale
from hub.errors import Conflict, NotFound, UnprocessableError
from hub.store import Store, canonical_hash
from tests.helpers import add_item

ITEMS = [CatalogItem("A", "Apple juice", "each", 249, 2000), CatalogItem("B", "Bananas", "g", 199, 700)]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    db = Database(tmp_path / "hub.sqlite3").open()
    s = Store(db, "h1", "EUR")
    with db.write() as conn:
        add_item(s, conn, ITEMS[0], [("4006381333931", 1), ("14006381333938", 6)], actor="test")
        add_item(s, conn, ITEMS[1], [("4011", 1)], actor="test")
        conn.execute("INSERT INTO registers (id, name) VALUES ('till-1', 'Till 1')")
    yield s
    db.close()


def sell(store: Store, lines: list[tuple[str, int]], sale_id: str | None = None) -> dict:
    sale_id = sale_id or str(uuid.uuid4())
    sale = price_sale(sale_id, "till-1", [LineRequest(s, q) for s, q in lines], [Tender("cash", 10**8)],
                      store.items(s for s, _ in lines), True)
    response, _ = store.record_sale(sale, canonical_hash(lines), "test", {"job_id": None, "status": "no_printer", "device_id": None})
    return response


def test_database_is_wal_and_migrations_are_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    latest = max(number for number, _, _ in _migrations())
    assert migrate(path) == migrate(path) == latest
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(_migrations()) == latest
    conn.close()


def test_a_barcode_belongs_to_one_item(store: Store) -> None:
    with pytest.raises(Conflict, match="already belongs to item A"), store.db.write() as conn:
        add_item(store, conn, CatalogItem("C", "Copy", "each", 1, 0), [("4006381333931", 1)], actor="t")
    assert store.items(["C"]) == {}  # the whole add rolled back


def test_case_barcode_means_n_units_and_weighed_items_ask_for_weight(store: Store) -> None:
    assert store.lookup("14006381333938")["qty"] == 6
    assert store.lookup("]E04006381333931")["item"]["sku"] == "A"
    assert store.lookup("4011")["qty"] is None


def test_sale_writes_moves_projection_and_outbox_together(store: Store) -> None:
    sale = sell(store, [("A", 2), ("B", 532)])
    conn = store.db.conn
    moves = conn.execute("SELECT sku, qty, kind, doc_id FROM stock_moves ORDER BY id").fetchall()
    assert [tuple(m) for m in moves] == [("A", -2, "sale", sale["id"]), ("B", -532, "sale", sale["id"])]
    assert store.stock("A")[0]["on_hand"] == -2
    events = store.pending_events(100)
    assert [e["type"] for e in events][-1] == "sale.completed"
    assert events[-1]["data"]["total_minor"] == sale["total_minor"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_a_failed_sale_leaves_nothing_behind(store: Store) -> None:
    before = store.sync_summary()["last_seq"]
    sale = price_sale(str(uuid.uuid4()), "till-1", [LineRequest("A", 1)], [Tender("cash", 1000)], store.items(["A"]), True)
    bad = sale.__class__(**{**sale.__dict__, "register_id": "no-such-register"})  # violates a foreign key
    with pytest.raises(sqlite3.IntegrityError):
        store.record_sale(bad, "h", "test", {"job_id": None})
    conn = store.db.conn
    assert conn.execute("SELECT count(*) FROM sales").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM stock_moves").fetchone()[0] == 0
    assert store.sync_summary()["last_seq"] == before


def test_same_id_same_body_returns_first_answer_and_different_body_conflicts(store: Store) -> None:
    sale_id = str(uuid.uuid4())
    first = sell(store, [("A", 1)], sale_id)
    again = sell(store, [("A", 1)], sale_id)
    assert again == first
    with pytest.raises(Conflict):
        sell(store, [("A", 2)], sale_id)
    assert store.db.conn.execute("SELECT count(*) FROM stock_moves").fetchone()[0] == 1


def test_acked_events_leave_the_backlog(store: Store) -> None:
    sell(store, [("A", 1)])
    summary = store.sync_summary()
    assert summary["backlog"] == summary["last_seq"] > 0
    store.ack_events(summary["last_seq"])
    assert store.sync_summary()["backlog"] == 0
    assert store.pending_events(10) == []


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(["floor", "backroom"]),
                          st.integers(-500, 500).filter(bool)), max_size=30))
def test_on_hand_always_equals_the_sum_of_moves(store: Store, moves: list[tuple[str, str, int]]) -> None:
    with store.db.write() as conn:
        for sku, loc, qty in moves:
            store.move_stock(conn, sku, loc, qty, "adjustment", "test", reason="correction")
    conn = store.db.conn
    projected = {(r[0], r[1]): r[2] for r in conn.execute("SELECT sku, location, on_hand FROM stock_levels")}
    summed = {(r[0], r[1]): r[2] for r in conn.execute("SELECT sku, location, sum(qty) FROM stock_moves GROUP BY sku, location")}
    assert {k: v for k, v in projected.items() if v or k in summed} == summed


def test_the_ledger_is_append_only(store: Store) -> None:
    with store.db.write() as conn:
        move = store.move_stock(conn, "A", "floor", 5, "receive", "test")
    for sql in ("UPDATE stock_moves SET qty = 50 WHERE id = ?", "DELETE FROM stock_moves WHERE id = ?"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"), store.db.write() as conn:
            conn.execute(sql, (move,))
    assert store.stock("A")[0]["on_hand"] == 5


def test_an_8_digit_code_is_found_whichever_way_the_scanner_read_it(store: Store) -> None:
    # 10000007 is a valid EAN-8 and a valid UPC-E (of UPC-A 100000000007): stored one way,
    # found both with the EAN-8 AIM prefix, the UPC-E one, and none
    with store.db.write() as conn:
        add_item(store, conn, CatalogItem("E8", "Mints", "each", 99, 0), [("10000007", 1)], actor="t")
    for scan in ("10000007", "]E410000007", "]E010000007"):
        assert store.lookup(scan)["item"]["sku"] == "E8", scan


@given(st.text(alphabet="0123456789", min_size=7, max_size=7))
def test_every_reading_of_an_8_digit_code_is_a_valid_gtin(payload: str) -> None:
    from hub.domain.barcodes import check_digit, gtin_readings, parse

    code = payload + str(check_digit(payload))
    readings = gtin_readings(code)
    assert code.zfill(14) in readings
    assert all(parse(r).valid for r in readings)


@pytest.fixture
def scale_store(store: Store) -> Store:
    """The store fixture with scale-label items: cheese by weight, a cake priced per label, eggs by count."""
    with store.db.write() as conn:
        add_item(store, conn, CatalogItem("CHEESE", "Cheddar", "g", 1890, 700), [("2302148200006", 1)], actor="t")
        add_item(store, conn, CatalogItem("CAKE", "Cake", "each", 0, 700), [("2012345000001", 1)], actor="t")
        add_item(store, conn, CatalogItem("12346", "Rolls", "g", 500, 700), [], actor="t")
    return store


def test_a_weight_label_gives_grams_and_its_item(scale_store: Store) -> None:
    scale_store.rcn_region = "SE"
    found = scale_store.lookup("2302148210869")  # 23 021482 1086 9: 1.086 kg
    assert (found["item"]["sku"], found["qty"], found["parsed"]["kind"]) == ("CHEESE", 1086, "rcn_weight")
    assert found["parsed"]["gtin"] == "02302148200006"
    assert found["line_price_minor"] == 2053  # 1.086 kg at 18.90/kg = 20.5254 -> 20.53


def test_a_price_label_on_an_each_item_is_one_at_the_label_price(scale_store: Store) -> None:
    scale_store.rcn_region = "GB"
    found = scale_store.lookup("2012345928756")  # 20 12345 9 2875 6: 28.75
    assert (found["item"]["sku"], found["qty"], found["embedded_price_minor"]) == ("CAKE", 1, 2875)
    assert found["line_price_minor"] == 2875  # the scale priced it
    with pytest.raises(UnprocessableError, match="price check digit expected 9 got 3"):
        scale_store.lookup("2012345328754")
    scale_store.rcn_check_price_digit = False
    assert scale_store.lookup("2012345328754")["embedded_price_minor"] == 2875


def test_a_label_is_found_by_its_item_reference_and_unknown_labels_are_404(scale_store: Store) -> None:
    scale_store.rcn_region = "GB"
    found = scale_store.lookup("2012346301251")  # item reference 12346 is the SKU; 1.25 at 5.00/kg
    assert (found["item"]["sku"], found["qty"], found["embedded_price_minor"]) == ("12346", 250, 125)
    with pytest.raises(NotFound):
        scale_store.lookup("2099999301258")


def test_a_gs1_string_with_a_weight_and_a_weight_label_on_an_each_item(scale_store: Store) -> None:
    found = scale_store.lookup("]C1" + "0102302148200006" + "3102000532" + "10B7")
    assert (found["item"]["sku"], found["qty"], found["parsed"]["lot"]) == ("CHEESE", 5320, "B7")
    assert scale_store.lookup("]C10104006381333931" + "3103000532")["qty"] == 1  # 'each' ignores 310x
    scale_store.rcn_pattern = "weight:20.....{NNDDD}"
    with pytest.raises(UnprocessableError, match="sold by each"):
        scale_store.lookup("2012345005006")
    with pytest.raises(NotFound, match="no GTIN"):
        scale_store.lookup("]C11714070410AB")


def test_lookup_gives_unit_and_line_price(store: Store) -> None:
    case = store.lookup("14006381333938")  # a case of 6 at 2.49
    assert (case["qty"], case["unit_price_minor"], case["line_price_minor"]) == (6, 249, 6 * 249)
    loose = store.lookup("4011")  # weighed, no weight yet: the register asks the scale
    assert (loose["qty"], loose["unit_price_minor"], loose["line_price_minor"]) == (None, 199, None)
