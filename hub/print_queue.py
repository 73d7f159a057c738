"""The hub's print queue: every job a printer takes (receipt, label, test page, drawer kick) is
kept in print_jobs until the printer's result says it printed.

A job for an offline printer waits and is sent when the printer comes back; a job that failed
for a reason that passes (paper out, cover open, unreachable) is queued again with backoff.
Each sending carries its own attempt id (bus.attempt_id), so the agent's per-delivery dedupe
lets a retry print, while the agent's memory of printed jobs answers a resend of a job that
did print without printing it twice. A sale never waits on any of this.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any, Protocol

from devices import bus
from hub.clock import Clock, iso, system_clock
from hub.db import Database
from hub.errors import BackroomError, Conflict, NotFound, ValidationError
from hub.live import Channels
from hub.receipts import ReceiptSettings, receipt_job

log = logging.getLogger(__name__)

PUMP_INTERVAL_S = 5.0  # how often waiting jobs are looked at; a printer coming online is at once
RETRY_BASE_S = 5.0  # first retry after a passing failure; doubles per attempt
RETRY_CAP_S = 300.0
RESULT_WAIT_S = 60.0  # a job sent with no result by then is sent again (the agent prints it once)
DRAWER_WINDOW_S = 60.0  # a cash sale's receipt opens the drawer only this soon after the sale
KINDS = ("receipt", "label", "test", "drawer")
STATUSES = ("queued", "sent", "printed", "failed", "cancelled")
# Results whose error passes by itself or by a hand at the printer: the job waits and is retried.
TRANSIENT = (
    "out of paper",
    "paper out",
    "cover is open",
    "cover open",
    "offline",
    "cannot be reached",
    "did not answer",
    "refused the connection",
    "cannot be opened",
    "dropped the connection",
    "stopped taking data",
    "broke the connection",
    "not connected",
    "autocutter",
    "too hot",
)
_COLUMNS = (
    "job_id, sale_id, device_id, register_id, command, kind, payload, status, error, attempts, "
    "next_attempt_at, actor, created_at, sent_at, finished_at"
)


class Sender(Protocol):
    def send(self, dev: str, command: str, payload: bytes) -> None: ...


def is_transient(error: str) -> bool:
    low = error.lower()
    return any(marker in low for marker in TRANSIENT)


class PrintQueue:
    """Jobs for printers, kept in SQLite, sent when their printer is online, settled by results."""

    def __init__(
        self,
        db: Database,
        sender: Sender,
        channels: Channels,
        receipts: ReceiptSettings,
        clock: Clock = system_clock,
    ) -> None:
        self.db, self.sender, self.channels, self.receipts, self.clock = (
            db,
            sender,
            channels,
            receipts,
            clock,
        )
        self._send_lock = (
            threading.Lock()
        )  # one sender at a time, so a job never goes out twice at once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="print-queue", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(PUMP_INTERVAL_S):
            try:
                self.pump()
            except Exception:  # noqa: BLE001 - the queue must outlive one bad row; it is logged
                log.exception("print queue: sending waiting jobs failed; trying again later")

    # -- jobs in ------------------------------------------------------------------------------
    def plan_receipt(self, register_id: str) -> dict[str, Any]:
        """Pick the register's receipt printer and a job id, before the sale commits."""
        printer = self.db.conn.execute(
            "SELECT id FROM devices WHERE register_id = ? AND kind = 'receipt_printer' ORDER BY online DESC, id LIMIT 1",
            (register_id,),
        ).fetchone()
        if printer is None:
            return {"job_id": None, "status": "no_printer", "device_id": None}
        return {"job_id": uuid.uuid4().hex, "status": "queued", "device_id": printer[0]}

    def dispatch_sale(self, plan: dict[str, Any]) -> None:
        """Send a committed sale's receipt job (its row was written with the sale) if the printer is online."""
        self.pump(plan["device_id"])

    def submit(
        self,
        device_id: str,
        command: str,
        payload: dict[str, Any],
        *,
        kind: str,
        register_id: str | None = None,
        sale_id: str | None = None,
        actor: str = "",
    ) -> dict[str, Any]:
        """Queue a command for a printer; it goes out now if the printer is online. Returns the job."""
        if kind not in KINDS:
            raise ValidationError(
                f"print job kind {kind!r} is unknown; use one of {', '.join(KINDS)}", field="kind"
            )
        bus.check_id(command, "command name")
        if (
            self.db.conn.execute("SELECT 1 FROM devices WHERE id = ?", (device_id,)).fetchone()
            is None
        ):
            raise NotFound(
                f"no device {device_id!r}: pick a printer the status page lists", field="device_id"
            )
        job_id = uuid.uuid4().hex
        body = json.dumps({**payload, "job_id": job_id}, separators=(",", ":"))
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO print_jobs (job_id, sale_id, device_id, register_id, command, kind, payload, "
                "status, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)",
                (
                    job_id,
                    sale_id,
                    device_id,
                    register_id,
                    command,
                    kind,
                    body,
                    actor,
                    iso(self.clock()),
                ),
            )
        self.pump(device_id)
        job = self.job(job_id)
        assert job is not None
        return job

    def reprint(self, sale_id: str, device_id: str | None, actor: str) -> dict[str, Any]:
        """A copy of a sale's receipt, marked as such, on device_id or the sale's register's printer."""
        row = self.db.conn.execute("SELECT response FROM sales WHERE id = ?", (sale_id,)).fetchone()
        if row is None:
            raise NotFound(
                f"no sale {sale_id!r}; find it by its receipt code with GET /api/v1/sales/by-receipt/<code>",
                field="sale_id",
            )
        sale = json.loads(row[0])
        if device_id is None:
            device_id = self.plan_receipt(sale["register_id"])["device_id"]
            if device_id is None:
                raise Conflict(
                    f"register {sale['register_id']} has no receipt printer; bind one on the status "
                    "page or give device_id",
                    field="device_id",
                    code="no_printer",
                )
        copy = receipt_job("", sale, self.receipts, copy_at=self.clock())
        payload = json.loads(bus.dumps(copy))
        del payload["job_id"]
        return self.submit(
            device_id,
            "print",
            payload,
            kind="receipt",
            register_id=sale["register_id"],
            sale_id=sale["id"],
            actor=actor,
        )

    def cancel(self, job_id: str, actor: str) -> dict[str, Any]:
        with self.db.write() as conn:
            cur = conn.execute(
                "UPDATE print_jobs SET status = 'cancelled', error = ?, finished_at = ? "
                "WHERE job_id = ? AND status IN ('queued', 'sent')",
                (f"cancelled by {actor}", iso(self.clock()), job_id),
            )
        job = self.job(job_id)
        if job is None:
            raise NotFound(f"no print job {job_id!r}", field="job_id")
        if cur.rowcount == 0 and job["status"] != "cancelled":
            raise Conflict(
                f"print job {job_id} is already {job['status']}; only a waiting job can be cancelled"
            )
        return job

    # -- jobs out -----------------------------------------------------------------------------
    def job(self, job_id: str) -> dict[str, Any] | None:
        row = self.db.conn.execute(
            f"SELECT {_COLUMNS} FROM print_jobs WHERE job_id = ?", (job_id,)
        ).fetchone()
        return _job_dict(row) if row else None

    def jobs(
        self, device_id: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        if status is not None and status not in STATUSES:
            raise ValidationError(f"status must be one of {', '.join(STATUSES)}", field="status")
        rows = self.db.conn.execute(
            f"SELECT {_COLUMNS} FROM print_jobs WHERE (? IS NULL OR device_id = ?) AND (? IS NULL OR status = ?) "
            "ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (device_id, device_id, status, status, max(1, min(limit, 500))),
        ).fetchall()
        return [_job_dict(r) for r in rows]

    def pump(self, device_id: str | None = None) -> int:
        """Send the jobs that are due to printers that are online; with device_id, that printer's
        waiting jobs at once (it just came online). Returns how many were sent."""
        now = iso(self.clock())
        with self._send_lock:
            rows = self.db.conn.execute(
                f"SELECT {', '.join('j.' + c.strip() for c in _COLUMNS.split(','))} FROM print_jobs j "
                "JOIN devices d ON d.id = j.device_id WHERE d.online = 1 AND j.status IN ('queued', 'sent') "
                "AND (? IS NULL OR j.device_id = ?) "
                "AND (j.next_attempt_at IS NULL OR j.next_attempt_at <= ? OR (? IS NOT NULL AND j.status = 'queued')) "
                "ORDER BY j.created_at, j.rowid LIMIT 100",
                (device_id, device_id, now, device_id),
            ).fetchall()
            for row in rows:
                self._send(dict(row))
        return len(rows)

    def _send(self, job: dict[str, Any]) -> None:
        attempt = job["attempts"] + 1
        try:
            payload = self._payload(job)
        except (KeyError, ValueError) as exc:  # a sale whose stored answer cannot make a receipt
            self._settle(job, False, f"the receipt could not be made: {exc}", final=True)
            return
        payload["job_id"] = bus.attempt_id(job["job_id"], attempt)
        now = self.clock()
        with self.db.write() as conn:  # only if nothing settled it since it was picked
            taken = conn.execute(
                "UPDATE print_jobs SET status = 'sent', attempts = ?, sent_at = ?, next_attempt_at = ? "
                "WHERE job_id = ? AND attempts = ? AND status IN ('queued', 'sent')",
                (
                    attempt,
                    iso(now),
                    iso(now + timedelta(seconds=RESULT_WAIT_S)),
                    job["job_id"],
                    job["attempts"],
                ),
            ).rowcount
        if not taken:
            return
        try:
            self.sender.send(job["device_id"], job["command"], bus.dumps(payload))
        except BackroomError as exc:  # the broker is down: wait, as for an offline printer
            with self.db.write() as conn:
                conn.execute(
                    "UPDATE print_jobs SET status = 'queued', error = ?, next_attempt_at = ? WHERE job_id = ?",
                    (exc.message, iso(now + _backoff(attempt)), job["job_id"]),
                )

    def _payload(self, job: dict[str, Any]) -> dict[str, Any]:
        if job["payload"] is not None:
            payload: dict[str, Any] = json.loads(job["payload"])
            return payload
        row = self.db.conn.execute(
            "SELECT response FROM sales WHERE id = ?", (job["sale_id"],)
        ).fetchone()
        if row is None:
            raise ValueError(f"sale {job['sale_id']} is not stored")
        sale = json.loads(row[0])
        age = self.clock() - _parse(sale["created_at"])
        # A receipt printed long after its sale (the printer was off) must not pop the drawer open.
        receipt = receipt_job(
            job["job_id"],
            sale,
            self.receipts,
            open_drawer=None if age <= timedelta(seconds=DRAWER_WINDOW_S) else False,
        )
        return json.loads(bus.dumps(receipt))  # type: ignore[no-any-return]

    # -- results and availability (called by the registry) ----------------------------------
    def on_result(self, dev: str, command: str, result: bus.JobResult) -> None:
        job_id, attempt = bus.job_of_attempt(result.job_id)
        job = self.job(job_id)
        if job is None or job["device_id"] != dev or job["command"] != command:
            return
        if job["status"] not in ("queued", "sent") or (not result.ok and attempt < job["attempts"]):
            return  # settled already, or an older attempt's failure overtaken by a newer sending
        self._settle(
            job, result.ok, result.error, final=result.ok or not is_transient(result.error)
        )

    def on_availability(self, dev: str, online: bool) -> None:
        if online:
            self.pump(dev)
            return
        with self.db.write() as conn:  # what was sent and not answered goes again when it is back
            conn.execute(
                "UPDATE print_jobs SET status = 'queued' WHERE device_id = ? AND status = 'sent'",
                (dev,),
            )

    def _settle(self, job: dict[str, Any], ok: bool, error: str, *, final: bool) -> None:
        now = self.clock()
        if final:
            status = "printed" if ok else "failed"
            update = (
                "UPDATE print_jobs SET status = ?, error = ?, finished_at = ?, next_attempt_at = NULL "
                "WHERE job_id = ?",
                (status, error, iso(now), job["job_id"]),
            )
        else:
            status = "queued"
            update = (
                "UPDATE print_jobs SET status = ?, error = ?, next_attempt_at = ? WHERE job_id = ?",
                (status, error, iso(now + _backoff(job["attempts"])), job["job_id"]),
            )
        with self.db.write() as conn:
            conn.execute(*update)
        if not ok:
            log.info("print job %s on %s: %s (%s)", job["job_id"], job["device_id"], error, status)
        if job["register_id"]:
            self.channels.publish(
                f"register:{job['register_id']}",
                "job",
                {
                    "job_id": job["job_id"],
                    "sale_id": job["sale_id"],
                    "device_id": job["device_id"],
                    "kind": job["kind"],
                    "ok": ok,
                    "error": error,
                    "status": status,
                },
            )


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(RETRY_CAP_S, RETRY_BASE_S * 2 ** max(0, attempts - 1)))


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _job_dict(row: Any) -> dict[str, Any]:
    job = dict(row)
    job["payload"] = json.loads(job["payload"]) if job["payload"] else None
    return job
