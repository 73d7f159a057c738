"""Helpers every test may import (fixtures live in conftest.py files)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from hub.domain.sale import CatalogItem
    from hub.store import Store

T = TypeVar("T")
WAIT_S = 10.0  # how long a test waits for something that should happen; never asserted on


def wait_until(check: Callable[[], T], what: str = "condition", timeout: float = WAIT_S) -> T:
    """Poll check until it returns something truthy, and return that; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def add_item(store: Store, conn: sqlite3.Connection, item: CatalogItem, codes: list[tuple[str, int]],
             actor: str = "test", department: str = "") -> None:
    """Add an item the way the hub does (hub.catalog), with a tax category named after its rate."""
    from hub.catalog import Catalog

    catalog = Catalog(store)
    tax_id = f"rate_{item.tax_rate_bp}" if item.tax_rate_bp else "zero"
    if item.tax_rate_bp:
        catalog.put_tax_category(conn, tax_id, f"{item.tax_rate_bp / 100:.2f}%", item.tax_rate_bp, actor)
    fields = {"name": item.name, "unit": item.unit, "price_minor": item.price_minor, "tax_category": tax_id,
              "active": item.active, "department": department}
    catalog.create(conn, item.sku, fields, actor,
                   barcodes=[{"code": c, "packaging": "unit" if n == 1 else "case", "pack_qty": n} for c, n in codes])


T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # the tests' "now", a Friday morning


class Clock:
    """A clock the test moves by hand: set .now."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


NODE = "/usr/bin/node"


class NodeModule:
    """One of the register's pure JS modules under node (./install.sh --dev installs Debian's nodejs):
    runner (an ES module script) reads a JSON line per batch on stdin, the module's path in argv[1],
    and answers a JSON line; one process serves a whole test module."""

    def __init__(self, runner: str, module: Path) -> None:
        if not Path(NODE).exists():
            pytest.fail(f"{NODE} is missing: run ./install.sh --dev (it installs Debian's nodejs)")
        self.proc = subprocess.Popen([NODE, "--input-type=module", "-e", runner, str(module)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, encoding="utf-8")

    def ask(self, batch: Any) -> list[dict[str, Any]]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(batch) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"node stopped (exit {self.proc.poll()})"
        answers: list[dict[str, Any]] = json.loads(line)
        return answers

    def close(self) -> None:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
