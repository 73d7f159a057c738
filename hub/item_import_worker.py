"""Checking item CSV rows without the database, in the importing process or in worker processes."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import operator
import os
import pickle
import queue
import subprocess
import sys
import threading
import traceback
from collections import deque
from collections.abc import Iterator
from contextlib import suppress
from json.encoder import encode_basestring_ascii
from typing import Any

from hub import item_csv
from hub.domain import barcodes as codes
from hub.domain import catalog as rules
from hub.errors import BackroomError, UnprocessableError, ValidationError
from hub.item_csv import ItemRow, RowError
from hub.store import normalize_code

# Worker processes for a big file, taking chunks in turn. One keeps pace with the writer on two
# cores (bench/items.py); a second only takes CPU from it there, and may pay on four.
WORKERS = 1
WORKER_AHEAD = 2  # chunks sent to each worker and not yet back: bounds the memory of both sides
WORKER_PIPE_BYTES = 1 << 20  # each way: a chunk fits, so neither side waits for the other to read
WORKER_EXIT_S = 10.0
_JSON_COLUMNS = frozenset({"variant_axes", "variant_values"})
_COLUMN_VALUES = operator.itemgetter(*rules.COLUMNS)
_AUDIT_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode  # as hub.catalog writes it
_ACTIVE_AT = rules.COLUMNS.index("active")
_JSON_AT = [rules.COLUMNS.index(c) for c in sorted(_JSON_COLUMNS)]
# A worker runs with this process's import path, as multiprocessing's would.
_WORKER_MAIN = "import sys; sys.path[:] = sys.argv[3:]; from hub.item_import_worker import _work; _work()"
_RECORD_KEYS = tuple((k, f'"{k}":') for k in sorted({"sku", "parent_sku", "barcodes", *rules.FIELDS}))

Rows = list[tuple[int, list[str]]]  # (row number, cells); row 1 is the first row under the header
Rejection = tuple[int, str, str, str]  # row number, SKU, column, reason


def _json_column(value: Any) -> str:
    """As hub.catalog stores variant_axes and variant_values."""
    return "[]" if value == [] else "{}" if value == {} else json.dumps(value, sort_keys=True)


def _column(exc: BackroomError) -> str:
    return exc.column if isinstance(exc, RowError) else item_csv.column_of(exc.field) if exc.field else ""


# A new plain item ready to write: its rows for items, barcodes, item_prices and
# item_modifier_groups (each SKU first), its barcodes as the file gives them (for messages) and its
# audit record. A plain tuple, as it is pickled for every row the worker reads.
_New = tuple[tuple[Any, ...], list[tuple[str, str, int, str]], list[tuple[str, str, int, int]],
             list[tuple[str, str, int]], list[str], str]

# A row read: number, SKU, the row (None for a plain row checked by a worker), and for a plain
# row the new item or why it cannot be one; or _LATER, when only the writer knows if it is new.
Entry = tuple[int, str, ItemRow | None, Any, tuple[str, str] | None]
_LATER: Any = object()
_Checked = tuple[int, list[Rejection], list[Entry]]  # rows in the chunk, rejections, entries


class _Checks:
    """Everything about a chunk of rows that needs no database: reading, the domain rules, the rows to write."""

    def __init__(self, columns: tuple[str, ...], taxes: tuple[str, ...], groups: frozenset[str],
                 rcn: tuple[str, str, bool]) -> None:
        self.columns, self.taxes, self.groups, self.rcn = columns, taxes, groups, rcn
        self.read = item_csv.row_reader(columns)
        self.sku_at = columns.index("sku")
        self.default_rcn = rcn == ("", "", True)

    def __reduce__(self) -> tuple[type[_Checks], tuple[Any, ...]]:  # to the worker: it builds its own
        return _Checks, (self.columns, self.taxes, self.groups, self.rcn)

    def chunk(self, rows: Rows, worker: bool = False) -> _Checked:
        """Here, a plain row is checked as a new item only once it is known to be one. A worker
        checks them all, and leaves their rows out of its (pickled) answer: the writer reads such
        a row again if its SKU turns out to exist."""
        rejected: list[Rejection] = []
        entries: list[Entry] = []
        first_row: dict[str, int] = {}
        for number, cells in rows:
            sku = cells[self.sku_at].strip() if len(cells) > self.sku_at else ""
            if sku and sku in first_row:
                rejected.append((number, sku, "sku", f"SKU {sku} is already on row {first_row[sku]}; give each SKU once"))
                continue
            first_row[sku] = number
            try:
                row = self.read(cells)
            except RowError as exc:
                rejected.append((number, sku, exc.column, exc.message))
                continue
            if row.parent_sku or row.fields.get("components") or row.fields.get("kit_policy"):
                entries.append((number, row.sku, row, None, None))
                continue
            if not worker:
                entries.append((number, row.sku, row, _LATER, None))
                continue
            try:
                entries.append((number, row.sku, None, self.new_item(row), None))
            except BackroomError as exc:
                entries.append((number, row.sku, None, None, (_column(exc), exc.message)))
        return len(rows), rejected, entries

    def new_item(self, row: ItemRow) -> _New:
        """A new plain item's rows and audit record, checked as Catalog.create checks it."""
        written = [b["code"].strip() for b in row.barcodes or ()]
        item = self.check_new(row)
        bs = [self.barcode(b) for b in row.barcodes or ()]
        sku = row.sku
        values = list(_COLUMN_VALUES(item))
        values[_ACTIVE_AT] = int(values[_ACTIVE_AT])
        for i in _JSON_AT:
            values[i] = _json_column(values[i])
        prices = [(sku, t, 1, p) for t, p in item["tiers"].items()]
        prices += [(sku, b["tier"], b["qty"], b["price_minor"]) for b in item["breaks"]]
        return ((sku, *values), [(code, sku, qty, packaging) for code, packaging, qty in bs], prices,
                [(sku, g, i) for i, g in enumerate(item["modifier_groups"])], written, _record_json(sku, item, bs))

    def check_new(self, row: ItemRow) -> dict[str, Any]:
        """A new plain item's whole record, checked as Catalog.create checks it."""
        fields = rules.clean_fields(row.wanted({}), creating=True)
        if "price_minor" not in fields:
            raise RowError("price", "a new item needs a price")
        item = rules.with_defaults(fields)
        for name, problem in rules.item_problems(item):
            raise ValidationError(problem, field=name)
        if item["variant_values"]:
            raise RowError("parent_sku", "variant_values need a parent_sku")
        if item["tax_category"] not in self.taxes:
            raise RowError("tax_category", f"tax category {item['tax_category']!r} does not exist; "
                                           f"the store has: {', '.join(self.taxes)}")
        for group in item["modifier_groups"]:
            if group not in self.groups:
                raise RowError("modifier_groups", f"modifier group {group!r} does not exist; create it first")
        return item

    def barcode(self, b: dict[str, Any]) -> tuple[str, str, int]:
        """A new barcode checked as Catalog.add_barcode checks it: its stored form, packaging and pack size."""
        code = b["code"]
        if not code or len(code) > 64:
            raise RowError("barcodes", f"a barcode is 1-64 characters (got {code!r})")
        packaging, pack_qty = b["packaging"], b["pack_qty"]
        if (packaging, pack_qty) != ("unit", 1):
            packaging, pack_qty = rules.check_packaging(packaging, pack_qty)
        key = _gtin_key(code) if self.default_rcn else None
        if key is not None:
            return key, packaging, pack_qty
        parsed = codes.parse(code, *self.rcn)
        if parsed.kind not in ("gtin", "internal", "unknown") or (parsed.kind == "gtin" and not parsed.valid):
            why = parsed.error or f"it reads as a {parsed.kind} code, which carries a price, weight or batch, not an item"
            raise UnprocessableError(f"{code.strip()} cannot be an item's barcode: {why}", field="code")
        if not self.default_rcn:
            key = normalize_code(code)
        elif parsed.valid and parsed.gtin and parsed.kind != "internal":
            key = parsed.gtin
        else:
            key = code.strip()
        return key, packaging, pack_qty


def _gtin_key(code: str) -> str | None:
    """A GTIN-12, -13 or -14 with a right check digit as its GTIN-14, as codes.parse reads it without
    scale-label rules; None for anything else. Most codes in a file are these, and parse is slow."""
    if 12 <= len(code) <= 14 and code.isdigit() and code.isascii():
        digits = code.zfill(14).encode()
        # GS1 mod 10: weights 3, 1, 3, ... from the right of the 13 digits before the check digit
        total = 3 * sum(digits[0:13:2]) + sum(digits[1:13:2]) - 27 * ord("0")
        if (10 - total % 10) % 10 == digits[13] - ord("0"):
            return digits.decode()
    return None


def _record_json(sku: str, item: dict[str, Any], bs: list[tuple[str, str, int]]) -> str:
    """_AUDIT_JSON of the new item's record, {"sku", "parent_sku": None, **item, "barcodes"}, built
    from the known keys: about half the general encoder's time, and the same text."""
    record = {**item, "sku": sku, "parent_sku": None}
    if len(record) != len(_RECORD_KEYS) - 1:  # not an item with exactly the fields it can have
        return _AUDIT_JSON({**record, "barcodes": [
            {"code": c, "packaging": p, "pack_qty": q, "internal": False} for c, p, q in bs]})
    parts = []
    for key, head in _RECORD_KEYS:
        if key == "barcodes":
            parts.append(head + "[" + ",".join(
                f'{{"code":{encode_basestring_ascii(c)},"internal":false,"pack_qty":{int.__repr__(q)},'
                f'"packaging":{encode_basestring_ascii(p)}}}' for c, p, q in bs) + "]")
            continue
        value = record[key]
        kind = type(value)
        if kind is str:
            parts.append(head + encode_basestring_ascii(value))
        elif kind is int:
            parts.append(head + int.__repr__(value))
        elif kind is bool:
            parts.append(head + ("true" if value else "false"))
        elif value is None:
            parts.append(head + "null")
        elif kind is list and not value:
            parts.append(head + "[]")
        elif kind is dict and not value:
            parts.append(head + "{}")
        else:
            parts.append(head + _AUDIT_JSON(value))
    return "{" + ",".join(parts) + "}"


# -- the worker processes ------------------------------------------------------------------------
class _Workers:
    """Processes that check chunks (_Checks.chunk) while this one writes; chunk n goes to worker
    n % WORKERS, and its answer is taken in the same order.

    Each has two pipes of pickles: chunks down, answers up. A worker drains its pipe down in a
    thread, so this process never waits on a write while the worker waits on its own; at most
    WORKER_AHEAD chunks per worker are out at a time. Workers have their own process group, so
    Ctrl-C reaches only this process, which then ends them; so does any error on either side.
    """

    def __init__(self, checks: _Checks) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.pipes: list[tuple[io.BufferedWriter, io.BufferedReader]] = []
        try:
            for _ in range(WORKERS):
                self.start(checks)
        except BaseException:
            self.close(abort=True)
            raise

    def start(self, checks: _Checks) -> None:
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        try:
            self.procs.append(subprocess.Popen(
                [sys.executable, "-c", _WORKER_MAIN, str(down_r), str(up_w), *sys.path],
                pass_fds=(down_r, up_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, process_group=0))
        except BaseException:
            os.close(down_w)
            os.close(up_r)
            raise
        finally:
            os.close(down_r)
            os.close(up_w)
        for fd in (down_w, up_r):
            with suppress(OSError):  # the Linux default of 64 KB works too, only slower
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, WORKER_PIPE_BYTES)
        self.pipes.append((open(down_w, "wb"), open(up_r, "rb")))  # noqa: SIM115 (closed in close())
        self.send(len(self.pipes) - 1, checks)

    def send(self, worker: int, message: Any) -> None:
        down = self.pipes[worker][0]
        try:
            pickle.dump(message, down, protocol=pickle.HIGHEST_PROTOCOL)
            down.flush()
        except BrokenPipeError:
            raise self.gone(worker) from None

    def check(self, chunks: Iterator[Rows]) -> Iterator[tuple[Rows, _Checked]]:
        """(rows, checked) for each chunk. The file is read ahead of the answers, so an error in
        it waits until the chunks before it are back: the same rows are imported as here."""
        out: deque[tuple[int, Rows]] = deque()
        sent, more, unreadable = 0, True, None
        while True:
            while more and len(out) < WORKER_AHEAD * len(self.pipes):
                try:
                    rows = next(chunks)
                except StopIteration:
                    more = False
                    break
                except (csv.Error, UnicodeDecodeError) as exc:
                    more, unreadable = False, exc
                    break
                self.send(sent % len(self.pipes), rows)
                out.append((sent % len(self.pipes), rows))
                sent += 1
            if not out:
                if unreadable is not None:
                    raise unreadable
                return
            worker, rows = out.popleft()
            yield rows, self.answer(worker)

    def answer(self, worker: int) -> _Checked:
        try:
            failed, payload = pickle.load(self.pipes[worker][1])
        except (EOFError, OSError, pickle.UnpicklingError):
            raise self.gone(worker) from None
        if failed:  # a bug: a row that cannot be imported is a rejection, not this
            raise RuntimeError(f"an import worker process failed:\n{payload}")
        return payload  # type: ignore[no-any-return]

    def gone(self, worker: int) -> BackroomError:
        return BackroomError(f"an import worker process ended unexpectedly (exit status {self.exit_status(worker)}); "
                             "nothing more was imported. Import the file again")

    def exit_status(self, worker: int) -> int | None:
        try:
            return self.procs[worker].wait(WORKER_EXIT_S)
        except subprocess.TimeoutExpired:
            return None

    def close(self, abort: bool) -> None:
        """End the workers (abort: at once), wait for them, close the pipes."""
        try:
            for worker, proc in enumerate(self.procs):
                if abort:  # before the pipes close, so that a worker does not see them close and complain
                    proc.terminate()
                else:
                    with suppress(BackroomError):  # it has ended already: the wait below says how
                        self.send(worker, None)
            for worker, proc in enumerate(self.procs):
                if self.exit_status(worker) is None:
                    proc.kill()
                    proc.wait()
        finally:
            for down, up in self.pipes:
                with suppress(BrokenPipeError):
                    down.close()
                up.close()


def _work() -> None:
    """A worker process's main (see _Workers): argv holds the fds of its two pipes."""
    down, up = open(int(sys.argv[1]), "rb"), open(int(sys.argv[2]), "wb")  # noqa: SIM115
    try:
        checks: _Checks = pickle.load(down)
        chunks: queue.SimpleQueue[Rows | None] = queue.SimpleQueue()
        threading.Thread(target=_pull, args=(down, chunks), name="import-pull", daemon=True).start()
        while (rows := chunks.get()) is not None:
            try:
                answer: tuple[bool, Any] = (False, checks.chunk(rows, worker=True))
            except Exception:  # noqa: BLE001 - it goes to the importing process, which raises it
                answer = (True, traceback.format_exc())
            pickle.dump(answer, up, protocol=pickle.HIGHEST_PROTOCOL)
            up.flush()
    except (BrokenPipeError, EOFError):
        raise SystemExit(1) from None  # the importing process is gone


def _pull(down: io.BufferedReader, chunks: queue.SimpleQueue[Rows | None]) -> None:
    while True:
        try:
            rows = pickle.load(down)
        except (EOFError, OSError):
            rows = None  # the importing process is gone
        chunks.put(rows)
        if rows is None:
            return
