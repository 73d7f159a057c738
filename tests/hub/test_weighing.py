"""Legal-for-trade weighing: the rules (Hypothesis over readings, takes and restarts on a real
SQLite file), then the API and sales against a real mosquitto with a scale speaking the bus."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import bus
from devices.link import close_client
from hub.clock import iso
from hub.db import Database
from hub.domain import weighing as rules
from hub.domain.barcodes.gtin import check_digit
from hub.domain.sale import CatalogItem, LineRequest, parse_lines
from hub.errors import BackroomError, ValidationError
from hub.live import Subscription
from hub.mosquitto import Broker
from hub.service import HubService
from hub.web import create_app
from hub.weighing import WeighingDesk
from tests.conftest import HUB_ID, USERS, bus_hub
from tests.helpers import T0, Clock, add_item, wait_until

# -- the rules ---------------------------------------------------------------------------------

STATUSES = bus.WEIGHT_STATUSES
any_reading = st.builds(
    rules.Reading,
    st.just("scale"),
    st.integers(-50, 20_000) | st.just(0),
    st.booleans(),
    st.sampled_from(STATUSES),
    st.integers(0, 500),
)
# as a counter sees them: mostly an item at rest or an empty platter, with anything else between
readings = st.one_of(
    st.builds(rules.Reading, st.just("scale"), st.integers(1, 20_000), st.just(True)),
    st.builds(
        rules.Reading,
        st.just("scale"),
        st.just(0),
        st.just(True),
        st.sampled_from(["ok", "at_zero"]),
    ),
    any_reading,
)


@given(any_reading, st.booleans())
def test_only_a_stable_positive_in_range_reading_after_a_zero_is_ever_taken(
    r: rules.Reading, zeroed: bool
) -> None:
    problem = rules.refusal(r, zeroed)
    assert (problem is None) == (r.stable and r.status == "ok" and r.grams > 0 and zeroed)
    if problem is not None:
        assert problem.code in (
            "weight_over_capacity",
            "weight_under_zero",
            "weight_in_motion",
            "scale_error",
            "weight_not_positive",
            "scale_not_zeroed",
        )


def test_each_refusal_says_what_to_do() -> None:
    def message(r: rules.Reading | None, zeroed: bool = True) -> str:
        problem = rules.refusal(r, zeroed)
        assert problem is not None
        return f"{problem.code}: {problem.message}"

    assert message(None).startswith("scale_no_reading")
    assert "settling" in message(rules.Reading("s", 500, False, "motion"))
    assert "settling" in message(rules.Reading("s", 500, False, "ok"))
    assert "capacity" in message(rules.Reading("s", 0, False, "over_capacity"))
    assert "zero it" in message(rules.Reading("s", 0, False, "under_zero"))
    assert "place the item" in message(rules.Reading("s", 0, True, "at_zero"))
    assert (
        message(rules.Reading("s", 500, True), zeroed=False)
        == f"scale_not_zeroed: {rules.ZERO_FIRST}"
    )
    assert rules.is_zero(rules.Reading("s", 0, True, "at_zero")) and rules.is_zero(
        rules.Reading("s", 0, True, "ok")
    )
    assert not rules.is_zero(rules.Reading("s", 0, False, "motion")) and not rules.is_zero(
        rules.Reading("s", 3, True)
    )


Step = tuple[str, Any]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("reading"), readings),
        st.tuples(st.just("take"), st.none()),
        st.tuples(st.just("restart"), st.none()),
    ),
    max_size=30,
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    d = Database(tmp_path_factory.mktemp("weighing") / "rules.sqlite3").open()
    yield d
    d.close()


@settings(max_examples=150, deadline=None)
@given(plan=steps)
def test_takes_follow_the_rule_across_any_readings_and_restarts(
    db: Database, plan: list[Step]
) -> None:
    """A model says which takes succeed; the desk on a real database must agree, restarts included."""
    DB = db  # one file for every example; each example has its own register and scale
    register, dev = f"r-{uuid.uuid4().hex[:8]}", f"scale-{uuid.uuid4().hex[:8]}"
    with DB.write() as conn:
        conn.execute("INSERT INTO registers (id, name) VALUES (?, ?)", (register, register))
        conn.execute(
            "INSERT INTO devices (id, kind, name, register_id, online, first_seen, last_seen) "
            "VALUES (?, 'scale', 'Scale', ?, 1, '', '')",
            (dev, register),
        )
    current: dict[str, Any] = {}
    clock = Clock(T0)

    def desk() -> WeighingDesk:
        return WeighingDesk(
            DB, lambda reg: [current] if current and reg == register else [], _no_lookup, 600, clock
        )

    d = desk()
    taken: list[int] = []
    zero_since, ever_taken = True, False  # the model
    for kind, value in plan:
        clock.now += timedelta(seconds=1)
        if kind == "reading":
            current = {
                "device_id": dev,
                "grams": value.grams,
                "stable": value.stable,
                "status": value.status,
                "tare_g": value.tare_g,
            }
            d.observe(dev, current)
            zero_since = zero_since or rules.is_zero(value)
        elif kind == "restart":
            d = desk()
            zero_since = not ever_taken
        else:
            reading = rules.Reading.from_event(current) if current else None
            expected = (
                reading is not None
                and reading.stable
                and reading.status == "ok"
                and reading.grams > 0
                and zero_since
            )
            try:
                answer, created = d.take(register, {"id": str(uuid.uuid4())}, "test")
            except BackroomError as exc:
                assert not expected, f"refused a good take: {exc.message}"
                continue
            assert expected and created and reading is not None and answer["grams"] == reading.grams
            taken.append(answer["grams"])
            zero_since, ever_taken = False, True
    rows = DB.conn.execute(
        "SELECT grams FROM weighings WHERE device_id = ? ORDER BY taken_at", (dev,)
    ).fetchall()
    assert [r[0] for r in rows] == taken


def _no_lookup(code: str) -> dict[str, Any]:
    raise AssertionError("no label lookup in this test")


def test_a_line_takes_its_grams_from_its_weighing_label_or_hand() -> None:
    w = rules.Weighing("w1", "till-1", "scale-1", 532, T0)

    def settle(
        req: LineRequest,
        has_scale: bool = True,
        weighing: rules.Weighing | None = w,
        label: int | None = None,
        age_s: float = 0,
    ) -> LineRequest | str:
        try:
            return rules.weigh_line(
                1,
                req,
                "g",
                "till-1",
                has_scale,
                weighing,
                label,
                T0 + timedelta(seconds=age_s),
                600,
                "sale-1",
            )
        except BackroomError as exc:
            return exc.code

    assert settle(LineRequest("P1", 0, weighing_id="w1")) == LineRequest(
        "P1", 532, (), "w1", "", "scale"
    )
    assert settle(LineRequest("P1", 532, weighing_id="w1")) == LineRequest(
        "P1", 532, (), "w1", "", "scale"
    )
    assert settle(LineRequest("P1", 533, weighing_id="w1")) == "weight_mismatch"
    assert settle(LineRequest("P1", 0, weighing_id="w1"), age_s=601) == "weighing_stale"
    assert settle(LineRequest("P1", 0, weighing_id="w9"), weighing=None) == "weighing_unknown"
    used = rules.Weighing("w1", "till-1", "scale-1", 532, T0, sale_id="another")
    assert settle(LineRequest("P1", 0, weighing_id="w1"), weighing=used) == "weighing_used"
    other = rules.Weighing("w1", "till-2", "scale-2", 532, T0)
    assert (
        settle(LineRequest("P1", 0, weighing_id="w1"), weighing=other) == "weighing_other_register"
    )
    assert settle(LineRequest("P1", 0, code="]C1..."), label=250) == LineRequest(
        "P1", 250, (), "", "]C1...", "label"
    )
    assert settle(LineRequest("P1", 0, code="4011"), label=None) == "label_without_weight"
    assert settle(LineRequest("P1", 250)) == "manual_weight_refused"
    assert settle(LineRequest("P1", 250), has_scale=False) == LineRequest(
        "P1", 250, weight_source="manual"
    )
    with pytest.raises(BackroomError, match="not weighed"):
        rules.weigh_line(
            1, LineRequest("D1", 1, weighing_id="w1"), "each", "till-1", True, w, None, T0, 600, "s"
        )


line_fields = st.fixed_dictionaries(
    {"sku": st.sampled_from(["P4011", "", 7])},
    optional={
        "qty": st.integers(-5, 2_000_000) | st.just("5") | st.none(),
        "weighing_id": st.sampled_from([str(uuid.UUID(int=1)), "", None, 3]),
        "code": st.sampled_from(["]C1010400638133393731030005", "", None]),
    },
)


@given(line_fields)
def test_a_sale_line_names_its_weight_or_is_refused_before_pricing(raw: dict[str, Any]) -> None:
    try:
        [line] = parse_lines([raw])
    except ValidationError as exc:
        assert exc.field and exc.field.startswith("lines[0]")
        return
    assert isinstance(raw.get("sku"), str) and raw["sku"]
    assert not (line.weighing_id and line.code), "a weight comes from one source"
    if "qty" in raw:
        assert line.qty == raw["qty"] and 1 <= line.qty <= 1_000_000
    else:
        assert line.qty == 0 and (line.weighing_id or line.code)
    assert line.weight_source is None  # only hub.domain.weighing settles it


# -- the hub: API and sales, with a scale on a real broker ----------------------------------------

CHEESE_EAN = "400638133393" + str(check_digit("400638133393"))


@pytest.fixture
def hub(tmp_path: Path, broker: Broker) -> Iterator[HubService]:
    svc = _start(tmp_path, broker, Clock(T0))
    with svc.db.write() as conn:
        add_item(svc.store, conn, CatalogItem("CHEESE", "Comte", "g", 2499, 0), [(CHEESE_EAN, 1)])
        conn.execute("INSERT INTO registers (id, name) VALUES ('till-2', 'Till 2')")
    yield svc
    svc.stop()


def _start(tmp_path: Path, broker: Broker, clock: Clock, catalog: bool = True) -> HubService:
    return bus_hub(tmp_path / "data", broker, clock, catalog)


@pytest.fixture
def scale(broker: Broker) -> Iterator[mqtt.Client]:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-scale")
    c.username_pw_set("devices", USERS["devices"])
    c.connect(broker.host, broker.port)
    c.loop_start()
    yield c
    close_client(c)


class Till:
    """A register's view: its event stream (to know the hub has heard a reading) and its API calls."""

    def __init__(self, svc: HubService, scale: mqtt.Client, register: str = "till-1") -> None:
        self.svc, self.scale, self.register = svc, scale, register
        self.client: FlaskClient = create_app(svc).test_client()
        self.h = {"Authorization": f"Bearer {svc.auth.create_token('cashier')}"}
        self.sub: Subscription = svc.channels.subscribe(f"register:{register}")

    def announce(self, dev: str = "scale-1") -> None:
        cfg = bus.DeviceConfig(
            kind="scale", name="Counter scale", model="8217", capabilities=["tare", "zero"]
        )
        self.scale.publish(
            bus.config_topic(HUB_ID, dev), bus.dumps(cfg), qos=1, retain=True
        ).wait_for_publish(5)
        self.scale.publish(
            bus.availability_topic(HUB_ID, dev), "online", qos=1, retain=True
        ).wait_for_publish(5)
        wait_until(
            lambda: any(d["id"] == dev and d["online"] for d in self.svc.registry.devices()),
            what="scale online",
        )

    def weight(
        self, grams: int, stable: bool = True, status: str = "ok", dev: str = "scale-1"
    ) -> None:
        """Publish a reading and wait until this register has heard it (the desk hears it first)."""
        w = bus.Weight(grams, stable, status)
        self.scale.publish(
            bus.event_topic(HUB_ID, dev, "weight"), bus.dumps(w), qos=1
        ).wait_for_publish(5)
        while True:
            event, text = self.sub.queue.get(timeout=10)
            if (
                event == "weight"
                and json.loads(text)["grams"] == grams
                and json.loads(text)["status"] == status
            ):
                return

    def weigh(self, weighing_id: str | None = None) -> Any:
        return self.client.post(
            f"/api/v1/registers/{self.register}/weighings",
            json={"id": weighing_id or str(uuid.uuid4())},
            headers=self.h,
        )

    def sell(self, lines: list[dict[str, Any]], sale_id: str | None = None) -> Any:
        body = {
            "id": sale_id or str(uuid.uuid4()),
            "register_id": self.register,
            "lines": lines,
            "tenders": [{"kind": "cash", "amount_minor": 100_000}],
        }
        return self.client.post("/api/v1/sales", json=body, headers=self.h)

    def close(self) -> None:
        self.sub.close()


@pytest.fixture
def till(hub: HubService, scale: mqtt.Client) -> Iterator[Till]:
    t = Till(hub, scale)
    t.announce()
    yield t
    t.close()


def code_of(resp: Any) -> str:
    return str(resp.json["error"]["code"])


def test_a_weighing_needs_a_steady_positive_weight_and_zero_in_between(till: Till) -> None:
    assert code_of(till.weigh()) == "scale_no_reading"
    till.weight(532, stable=False, status="motion")
    assert code_of(r := till.weigh()) == "weight_in_motion" and r.status_code == 409
    till.weight(0, status="at_zero")
    assert code_of(till.weigh()) == "weight_not_positive"
    till.weight(0, stable=False, status="over_capacity")
    assert code_of(till.weigh()) == "weight_over_capacity"
    till.weight(532)
    first = till.weigh(wid := str(uuid.uuid4()))
    assert first.status_code == 201
    assert {k: first.json[k] for k in ("id", "device_id", "grams", "tare_g")} == {
        "id": wid,
        "device_id": "scale-1",
        "grams": 532,
        "tare_g": 0,
    }
    again = till.weigh(wid)  # the answer was lost: the same id gives the same weighing
    assert (again.status_code, again.json, again.headers["Idempotent-Replayed"]) == (
        200,
        first.json,
        "true",
    )
    assert (
        code_of(r := till.weigh()) == "scale_not_zeroed"
        and "must show zero" in r.json["error"]["message"]
    )
    till.weight(810)  # another item put on top: still no zero in between
    assert code_of(till.weigh()) == "scale_not_zeroed"
    till.weight(0, status="at_zero")
    till.weight(245)
    assert till.weigh().json["grams"] == 245
    assert till.svc.db.conn.execute("SELECT count(*) FROM weighings").fetchone()[0] == 2


def test_a_restart_does_not_lift_the_zero_rule(
    tmp_path: Path, broker: Broker, scale: mqtt.Client
) -> None:
    svc = _start(tmp_path, broker, Clock(T0))
    till = Till(svc, scale)
    try:
        till.announce()
        till.weight(532)
        assert till.weigh().status_code == 201
    finally:
        till.close()
        svc.stop()
    svc = _start(tmp_path, broker, Clock(T0 + timedelta(minutes=1)), catalog=False)
    till = Till(svc, scale)
    try:
        wait_until(
            lambda: any(d["online"] for d in svc.registry.devices()), what="scale online again"
        )
        till.weight(533)  # the item never left the platter
        assert code_of(till.weigh()) == "scale_not_zeroed"
        till.weight(0, status="at_zero")
        till.weight(533)
        assert till.weigh().status_code == 201
    finally:
        till.close()
        svc.stop()


def test_an_offline_scale_weighs_nothing_and_still_forbids_typed_weights(till: Till) -> None:
    till.weight(532)
    till.scale.publish(
        bus.availability_topic(HUB_ID, "scale-1"), "offline", qos=1, retain=True
    ).wait_for_publish(5)
    wait_until(lambda: not till.svc.registry.devices()[0]["online"], what="scale offline")
    assert code_of(till.weigh()) == "scale_offline"
    assert till.client.get("/api/v1/registers/till-1", headers=till.h).json["has_scale"] is True
    refused = till.sell([{"sku": "P4011", "qty": 532}])
    assert (refused.status_code, code_of(refused)) == (422, "manual_weight_refused")
    assert "weigh the item on the scale or scan its label" in refused.json["error"]["message"]


def test_a_sale_takes_grams_from_the_weighing_once(till: Till) -> None:
    till.weight(532)
    wid = till.weigh().json["id"]
    lines = [{"sku": "P4011", "weighing_id": wid}, {"sku": "D1001", "qty": 1}]
    sale = till.sell(lines)
    assert sale.status_code == 201, sale.json
    line = sale.json["lines"][0]
    assert (line["qty"], line["weight_source"], line["weighing_id"]) == (532, "scale", wid)
    assert sale.json["lines"][1]["weight_source"] is None
    replay = till.sell(lines, sale_id=sale.json["id"])  # the answer was lost: the same sale again
    assert (replay.status_code, replay.json["lines"]) == (200, sale.json["lines"])
    again = till.sell([{"sku": "P4011", "qty": 532, "weighing_id": wid}])
    assert (again.status_code, code_of(again)) == (409, "weighing_used")
    row = till.svc.db.conn.execute(
        "SELECT sale_id, line_no FROM weighings WHERE id = ?", (wid,)
    ).fetchone()
    assert tuple(row) == (sale.json["id"], 1)
    stored = till.svc.db.conn.execute(
        "SELECT weight_source, weighing_id FROM sale_lines WHERE sale_id = ? AND line_no = 1",
        (sale.json["id"],),
    ).fetchone()
    assert tuple(stored) == ("scale", wid)


def test_one_weighing_cannot_pay_for_two_lines_or_a_wrong_qty_or_wait_too_long(till: Till) -> None:
    till.weight(532)
    wid = till.weigh().json["id"]
    two = till.sell([{"sku": "P4011", "weighing_id": wid}, {"sku": "P4011", "weighing_id": wid}])
    assert (two.status_code, code_of(two), two.json["error"]["field"]) == (
        409,
        "weighing_used",
        "lines[1].weighing_id",
    )
    assert (
        code_of(till.sell([{"sku": "P4011", "qty": 600, "weighing_id": wid}])) == "weight_mismatch"
    )
    assert (
        code_of(till.sell([{"sku": "P4011", "weighing_id": str(uuid.uuid4())}]))
        == "weighing_unknown"
    )
    clock = till.svc.clock
    assert isinstance(clock, Clock)
    clock.now += timedelta(seconds=601)
    stale = till.sell([{"sku": "P4011", "weighing_id": wid}])
    assert (code_of(stale), stale.json["error"]["field"]) == (
        "weighing_stale",
        "lines[0].weighing_id",
    )
    assert (
        till.svc.db.conn.execute("SELECT sale_id FROM weighings WHERE id = ?", (wid,)).fetchone()[0]
        is None
    )


def test_a_weighing_belongs_to_its_register(hub: HubService, till: Till) -> None:
    till.weight(532)
    wid = till.weigh().json["id"]
    other = Till(hub, till.scale, "till-2")
    try:
        refused = other.sell([{"sku": "P4011", "weighing_id": wid}])
        assert code_of(refused) == "weighing_other_register"
        assert code_of(other.weigh(wid)) == "idempotency_conflict"
    finally:
        other.close()


def test_a_scanned_label_gives_the_weight_the_hub_reads_from_it(till: Till) -> None:
    label = f"]C101{'0' + CHEESE_EAN}3103000532"
    sale = till.sell([{"sku": "CHEESE", "code": label}])
    assert sale.status_code == 201, sale.json
    assert (sale.json["lines"][0]["qty"], sale.json["lines"][0]["weight_source"]) == (532, "label")
    assert code_of(till.sell([{"sku": "CHEESE", "qty": 600, "code": label}])) == "weight_mismatch"
    assert code_of(till.sell([{"sku": "P4011", "code": label}])) == "label_other_item"
    assert code_of(till.sell([{"sku": "CHEESE", "code": CHEESE_EAN}])) == "label_without_weight"


def test_a_register_without_a_scale_sells_typed_weights_marked_manual(
    hub: HubService, till: Till
) -> None:
    other = Till(hub, till.scale, "till-2")
    try:
        assert other.client.get("/api/v1/registers/till-2", headers=other.h).json == {
            "id": "till-2",
            "name": "Till 2",
            "has_scale": False,
            "scales": [],
            "weighing_max_age_s": 600.0,
        }
        assert code_of(other.weigh()) == "no_scale"
        sale = other.sell([{"sku": "P4011", "qty": 1250}])
        assert sale.status_code == 201, sale.json
        assert (sale.json["lines"][0]["qty"], sale.json["lines"][0]["weight_source"]) == (
            1250,
            "manual",
        )
        events = [
            json.loads(r[0])
            for r in hub.db.conn.execute("SELECT data FROM outbox WHERE type = 'sale.completed'")
        ]
        assert (
            events[-1]["lines"][0]["weight_source"] == "manual"
        )  # the receipt and the cloud both see it
    finally:
        other.close()


def test_the_register_and_its_scales_are_described(till: Till) -> None:
    info = till.client.get("/api/v1/registers/till-1", headers=till.h).json
    assert info["has_scale"] is True and info["scales"] == [
        {"id": "scale-1", "name": "Counter scale", "online": True}
    ]
    assert till.client.get("/api/v1/registers/nope", headers=till.h).status_code == 404
    assert (
        till.client.post(
            "/api/v1/registers/till-1/weighings", json={"id": "x"}, headers=till.h
        ).status_code
        == 400
    )


def test_taken_at_is_the_hubs_clock(till: Till) -> None:
    till.weight(99)
    assert till.weigh().json["taken_at"] == iso(T0)
