"""Labels sent to label printers: the hub renders each in the printer's language and hands it
to the print queue (hub/print_queue.py) as a "print_label" job (devices.bus.PrintLabel).

A label printer says what it speaks in its announced capabilities: "language:zpl",
"size:50x30" (mm) and "dpi:203". Shelf labels waiting in the reprint queue leave it when the
printer reports the job printed, not when it is sent: one rule with the download route, which
hands the bytes over and so counts them printed at once.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from hub.domain import labels
from hub.errors import BackroomError, NotFound, UnprocessableError, ValidationError
from hub.shelf_labels import ShelfLabels

SETTLE_LOOKBACK = 500  # label jobs per printer and status looked at when the reprint queue is read


def _capability(caps: list[str], name: str, default: str) -> str:
    return next((c.split(":", 1)[1] for c in caps if c.startswith(name + ":")), default)


def printer_media(device: dict[str, Any]) -> tuple[str, labels.LabelSize]:
    """The language and label size a label printer announced."""
    caps = device["capabilities"]
    language = _capability(caps, "language", "zpl")
    width, _, height = _capability(caps, "size", "50x30").partition("x")
    try:
        size = labels.LabelSize(int(width), int(height), int(_capability(caps, "dpi", "203")))
    except ValueError:
        size = labels.DEFAULT_SIZE
    return language, size


class LabelPrinting:
    def __init__(self, shelf_labels: ShelfLabels, service: Any) -> None:
        self.labels, self.svc, self.db = shelf_labels, service, shelf_labels.db

    @property
    def queue(self) -> Any:
        queue = getattr(self.svc, "print_queue", None)
        if queue is None:
            raise BackroomError("this hub has no print queue yet; download the label and print it by hand",
                                code="no_print_queue")
        return queue

    def printers(self) -> list[dict[str, Any]]:
        rows = self.db.conn.execute(
            "SELECT id, name, display_name, register_id, online, capabilities FROM devices "
            "WHERE kind = 'label_printer' ORDER BY id").fetchall()
        out = []
        for r in rows:
            device = {**dict(r), "capabilities": json.loads(r["capabilities"]), "online": bool(r["online"])}
            device["language"], size = printer_media(device)
            device["size"] = f"{size.width_mm}x{size.height_mm}"
            out.append(device)
        return out

    def choose(self, device_id: Any, register_id: Any) -> dict[str, Any]:
        """The label printer asked for, else the one bound to register_id, else the only one."""
        for name, value in (("device_id", device_id), ("register_id", register_id)):
            if value is not None and not isinstance(value, str):
                raise ValidationError(f"{name} must be text such as \"label-1\" (got {value!r})", field=name)
        found = self.printers()
        if device_id is not None:
            match = [p for p in found if p["id"] == device_id]
            if not match:
                raise NotFound(f"no label printer {device_id!r}; known: {', '.join(p['id'] for p in found) or 'none'}",
                               field="device_id")
            return match[0]
        bound = [p for p in found if register_id is not None and p["register_id"] == register_id]
        if len(bound) == 1 or len(found) == 1:
            return (bound or found)[0]
        if not found:
            raise UnprocessableError("no label printer is known to the hub; connect one (status page) first",
                                     field="device_id")
        raise ValidationError(f"{len(found)} label printers are known; say which with device_id "
                              f"({', '.join(p['id'] for p in found)}) or bind one to the register", field="device_id")

    def payload(self, label: labels.Label, printer: dict[str, Any], copies: int) -> dict[str, Any]:
        language, size = printer_media(printer)
        try:
            data = (labels.render_png(label, size) if language == "brother_ql"
                    else labels.render(label, language, size))
        except ValueError as exc:
            raise UnprocessableError(f"label for {label.title!r} on {printer['id']} ({size.width_mm} x "
                                     f"{size.height_mm} mm): {exc}", field="device_id") from None
        return {"language": language, "data": base64.b64encode(data).decode("ascii"), "copies": copies}

    def print_item(self, sku: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
        copies, weight = body.get("copies", 1), body.get("weight_g")
        if not isinstance(copies, int) or isinstance(copies, bool) or not 1 <= copies <= 100:
            raise ValidationError("copies must be a whole number from 1 to 100", field="copies")
        if weight is not None and (not isinstance(weight, int) or isinstance(weight, bool)):
            raise ValidationError("weight_g must be a whole number of grams", field="weight_g")
        label = self.labels.label(sku, str(body.get("kind", "shelf")), weight, str(body.get("symbology", "")))
        printer = self.choose(body.get("device_id"), body.get("register_id"))
        return self.queue.submit(printer["id"], "print_label", self.payload(label, printer, copies), kind="label",
                                 register_id=body.get("register_id"), actor=actor)

    def print_waiting(self, body: dict[str, Any], actor: str) -> dict[str, Any]:
        """One job per waiting label (all, or ids); each leaves the queue once printed."""
        ids = body.get("ids")
        printer = self.choose(body.get("device_id"), body.get("register_id"))
        waiting = self.labels.pick(ids)
        pending = self.pending()
        jobs, skipped = [], []
        for w in waiting:
            if w["id"] in pending:
                skipped.append({"id": w["id"], "job_id": pending[w["id"]]})
                continue
            payload = {**self.payload(self.labels.label(w["sku"], w["kind"]), printer, 1), "label_queue_ids": [w["id"]]}
            jobs.append(self.queue.submit(printer["id"], "print_label", payload, kind="label",
                                          register_id=body.get("register_id"), actor=actor))
        return {"device_id": printer["id"], "jobs": jobs, "already_printing": skipped}

    def _label_jobs(self, status: str) -> list[dict[str, Any]]:
        """Label jobs in status, per label printer, so a day of receipts cannot push them out of sight."""
        out = []
        jobs = [j for p in self.printers() for j in self.queue.jobs(device_id=p["id"], status=status,
                                                                     limit=SETTLE_LOOKBACK)]
        for job in jobs:
            payload = job.get("payload")
            payload = json.loads(payload) if isinstance(payload, str) else payload
            if job.get("command") == "print_label" and isinstance(payload, dict):
                out.append({**job, "payload": payload})
        return out

    def pending(self) -> dict[int, str]:
        """Queue id -> job id of the waiting labels whose job is on its way to a printer."""
        if getattr(self.svc, "print_queue", None) is None:
            return {}
        return {qid: job["job_id"] for status in ("queued", "sent") for job in self._label_jobs(status)
                for qid in job["payload"].get("label_queue_ids", [])}

    def settle(self) -> None:
        """Take the labels whose job the printer reported printed out of the reprint queue."""
        if getattr(self.svc, "print_queue", None) is None:
            return
        done = [(job.get("finished_at") or job.get("updated_at") or "", job.get("actor") or "printer", qid)
                for job in self._label_jobs("printed") for qid in job["payload"].get("label_queue_ids", [])]
        if done:
            self.labels.mark_printed(done)
