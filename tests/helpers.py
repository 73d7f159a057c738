"""Helpers every test may import (fixtures live in conftest.py files)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

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
