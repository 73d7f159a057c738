"""The weighing desk: takes legal-for-trade weighings from a register's scale and settles where
each weighed sale line's grams come from (rules in hub.domain.weighing)."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from hub import events
from hub.clock import Clock, iso, system_clock
from hub.db import Database
from hub.domain import weighing as rules
from hub.domain.sale import CatalogItem, LineRequest
from hub.errors import BackroomError, Conflict, NotFound, UnprocessableError, ValidationError

WeightsFor = Callable[
    [str], list[dict[str, Any]]
]  # DeviceRegistry.weights_for: register -> last readings


class WeighingDesk:
    """Every weight event passes through observe(); take() refuses a reading that is moving, not
    positive, out of range, or from a scale that has not been back at zero since its last weighing.

    Zeros are counted, not timed: a weighing remembers how many zeros its scale had shown when it
    was taken, and the next needs one more. After a restart the count begins again, and a scale
    with any weighing in the table must show zero first, so a restart never lifts the rule.
    """

    def __init__(
        self,
        db: Database,
        weights_for: WeightsFor,
        lookup: Callable[[str], dict[str, Any]],
        max_age_s: float,
        clock: Clock = system_clock,
    ) -> None:
        self.db = db
        self.weights_for = weights_for
        self.lookup = (
            lookup  # Store.lookup: a label's weight is read again by the hub, never trusted
        )
        self.max_age_s = max_age_s
        self.clock = clock
        self._lock = threading.Lock()  # the counters below
        self._take_lock = threading.Lock()  # one take at a time: two can never share one zero
        self._zeros: dict[str, int] = {}  # zero readings seen per scale since this process started
        self._taken_at_zero: dict[str, int] = {}  # _zeros when the scale's last weighing was taken

    # -- the scale -----------------------------------------------------------------------------
    def observe(self, device_id: str, weight: Mapping[str, Any]) -> None:
        """Hook for DeviceRegistry: called with every weight event of every scale."""
        if rules.is_zero(rules.Reading.from_event({**weight, "device_id": device_id})):
            with self._lock:
                self._zeros[device_id] = self._zeros.get(device_id, 0) + 1

    def _zeroed(self, device_id: str) -> tuple[bool, int]:
        """(back at zero since the last weighing, the zero count now)."""
        with self._lock:
            zeros = self._zeros.get(device_id, 0)
            taken = self._taken_at_zero.get(device_id)
        if (
            taken is None
        ):  # first look since start: a weighing in the table needs a zero seen after start
            used = self.db.conn.execute(
                "SELECT 1 FROM weighings WHERE device_id = ? LIMIT 1", (device_id,)
            ).fetchone()
            taken = 0 if used else -1
            with self._lock:
                self._taken_at_zero.setdefault(device_id, taken)
        return zeros > taken, zeros

    def scales(self, register_id: str) -> list[dict[str, Any]]:
        """The scales bound to a register, online or not: a broken scale does not allow typed weights."""
        rows = self.db.conn.execute(
            "SELECT id, coalesce(display_name, name) AS name, online FROM devices WHERE register_id = ? AND kind = 'scale' "
            "ORDER BY online DESC, id",
            (register_id,),
        ).fetchall()
        return [{"id": r["id"], "name": r["name"], "online": bool(r["online"])} for r in rows]

    def register(self, register_id: str) -> dict[str, Any]:
        row = self.db.conn.execute(
            "SELECT id, name FROM registers WHERE id = ?", (register_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"register {register_id!r} does not exist", field="register_id")
        scales = self.scales(register_id)
        return {
            "id": row["id"],
            "name": row["name"],
            "has_scale": bool(scales),
            "scales": scales,
            "weighing_max_age_s": self.max_age_s,
        }

    def take(self, register_id: str, body: Any, actor: str) -> tuple[dict[str, Any], bool]:
        """Take the register's scale reading as a weighing. Same id again: the first answer."""
        if not isinstance(body, dict) or set(body) != {"id"}:
            raise ValidationError(
                "send {id}: a UUID the register makes for this weighing", field="id"
            )
        try:
            weighing_id = str(uuid.UUID(str(body["id"])))
        except ValueError:
            raise ValidationError(f"id {body['id']!r} is not a UUID", field="id") from None
        with self._take_lock:
            found = self._row(weighing_id)
            if found is not None:
                if found["register_id"] != register_id:
                    raise Conflict(
                        f"weighing {weighing_id} was taken at register {found['register_id']}; make a new "
                        "id for a new weighing",
                        field="id",
                        code="idempotency_conflict",
                    )
                return _answer(found), False
            info = self.register(register_id)
            if not info["has_scale"]:
                raise UnprocessableError(
                    f"register {register_id} has no scale; type the weight in instead, or ask the "
                    "owner to bind a scale to it on the status page",
                    code="no_scale",
                )
            online = [s["id"] for s in info["scales"] if s["online"]]
            if not online:
                raise Conflict(
                    f"the scale {info['scales'][0]['id']} is offline; check its cable and power, and that "
                    "the devices agent runs",
                    code="scale_offline",
                )
            counts = {
                dev: self._zeroed(dev) for dev in online
            }  # before the readings: a later zero counts later
            readings = {
                w["device_id"]: rules.Reading.from_event(w) for w in self.weights_for(register_id)
            }
            problems = [(dev, rules.refusal(readings.get(dev), counts[dev][0])) for dev in online]
            usable = [dev for dev, problem in problems if problem is None]
            if not usable:
                raise problems[0][1] or BackroomError("no scale reading")
            dev = usable[0]
            reading = readings[dev]
            taken_at = iso(self.clock())
            with self.db.write() as conn:
                conn.execute(
                    "INSERT INTO weighings (id, register_id, device_id, grams, tare_g, taken_at, actor) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (weighing_id, register_id, dev, reading.grams, reading.tare_g, taken_at, actor),
                )
                events.append_event(conn, "weighing.taken", {
                    "id": weighing_id, "register_id": register_id, "device_id": dev, "grams": reading.grams,
                    "tare_g": reading.tare_g, "by": actor}, taken_at)
            with self._lock:
                self._taken_at_zero[dev] = counts[dev][1]
        row = self._row(weighing_id)
        assert row is not None
        return _answer(row), True

    def _row(self, weighing_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.conn.execute(
            "SELECT id, register_id, device_id, grams, tare_g, taken_at, sale_id FROM weighings WHERE id = ?",
            (weighing_id,),
        ).fetchone()
        return row

    # -- sales ---------------------------------------------------------------------------------
    def settle_lines(
        self,
        sale_id: str,
        register_id: str,
        requests: list[LineRequest],
        catalog: Mapping[str, CatalogItem],
    ) -> list[LineRequest]:
        """Each weighed line with its grams and weight_source, or the rule it breaks.
        The sale's own transaction then claims the weighings (Store.record_sale)."""
        has_scale: bool | None = None
        now = self.clock()
        out = []
        for no, req in enumerate(self.price_labels(requests, catalog), start=1):
            item = catalog.get(req.sku)
            if item is None:  # price_lines names the unknown SKU
                out.append(req)
                continue
            if item.unit == rules.WEIGHED_UNIT and has_scale is None:
                has_scale = bool(self.scales(register_id))
            weighing = self._weighing(req.weighing_id) if req.weighing_id else None
            label = (
                self._label_grams(no, req, item)
                if req.code and item.unit == rules.WEIGHED_UNIT
                else None
            )
            out.append(
                rules.weigh_line(
                    no,
                    req,
                    item.unit,
                    register_id,
                    bool(has_scale),
                    weighing,
                    label,
                    now,
                    self.max_age_s,
                    sale_id,
                )
            )
        return out

    def price_labels(self, requests: list[LineRequest], catalog: Mapping[str, CatalogItem]) -> list[LineRequest]:
        """Each line of an each item that carries a scale's price label, priced by that label
        (read again here: the register's word for a price is never taken). Quotes use it too."""
        out = []
        for no, req in enumerate(requests, start=1):
            item = catalog.get(req.sku)
            if item is not None and req.code and item.unit != rules.WEIGHED_UNIT:
                found = self._label(no, req, item)
                parsed = found.get("parsed") or {}
                req = rules.label_priced(no, req, str(parsed.get("kind", "")), found.get("embedded_price_minor"))
            out.append(req)
        return out

    def _weighing(self, weighing_id: str) -> rules.Weighing | None:
        row = self._row(weighing_id)
        if row is None:
            return None
        return rules.Weighing(
            row["id"],
            row["register_id"],
            row["device_id"],
            row["grams"],
            datetime.fromisoformat(row["taken_at"]),
            row["sale_id"],
        )

    def _label_grams(self, no: int, req: LineRequest, item: CatalogItem) -> int | None:
        qty = self._label(no, req, item).get("qty")
        return qty if isinstance(qty, int) else None

    def _label(self, no: int, req: LineRequest, item: CatalogItem) -> dict[str, Any]:
        """The line's label read again by the hub, and checked to name the line's own item."""
        try:
            found = self.lookup(req.code)
        except BackroomError as exc:
            raise UnprocessableError(
                f"line {no}: the label {req.code} cannot be read again: {exc.message}",
                field=f"lines[{no - 1}].code",
                code="label_unreadable",
            ) from None
        if found["item"]["sku"] != item.sku:
            raise UnprocessableError(
                f"line {no}: the label {req.code} is for {found['item']['sku']}, not {item.sku}; "
                "scan the item's own label",
                field=f"lines[{no - 1}].code",
                code="label_other_item",
            )
        return found


def _answer(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "register_id": row["register_id"],
        "device_id": row["device_id"],
        "grams": row["grams"],
        "taken_at": row["taken_at"],
        "tare_g": row["tare_g"],
    }
