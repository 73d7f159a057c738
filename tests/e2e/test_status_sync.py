"""The status page's cloud sync panel against a real hub and sink: a refused event type becomes a
dead letter with the receiver's answer; after the sink stops refusing, the owner replays it and it
takes its place at the sink. The back office's refused change shows after "Pull now"; the panel
fits a phone. Real processes and Chromium."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import urllib.error
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from hub.mosquitto import Broker
from tests.conftest import HUB_ID
from tests.e2e.conftest import OWNER, PHONE, SINK_SECRET, Shop, _print_tracebacks, page_opener
from tests.helpers import wait_until

DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def pulling_shop(tmp_path: Path, broker: Broker) -> Iterator[Shop]:
    """The e2e shop, also pulling item changes from the sink's change feed."""
    s = Shop(tmp_path, broker)
    s.cloud_extra = {"changes_url": f"http://127.0.0.1:{s.sink_port}/v1/hubs/{HUB_ID}/changes"}
    try:
        s.start()
        yield s
    finally:
        s.stop()
        _print_tracebacks(s)


def sell(shop: Shop) -> None:
    shop.api("/api/v1/sales", {"id": str(uuid.uuid4()), "register_id": "till-1", "lines": [{"sku": "D1002", "qty": 1}],
                               "tenders": [{"kind": "cash", "amount_minor": 5000}]})


def adjust(shop: Shop) -> None:
    shop.api("/api/v1/stock/adjustments", {"sku": "D1102", "location": "floor", "qty": 1, "reason": "found"})


def put_change(shop: Shop, *fields: str) -> None:
    subprocess.run([sys.executable, "-m", "hub.cli", "sink", "change", "--hub", HUB_ID, "--type", "price.set",
                    "--port", str(shop.sink_port), "--secret", SINK_SECRET, "--sku", "NO-SUCH-SKU",
                    *(f"--field={f}" for f in fields)], check=True, capture_output=True, timeout=30)


def test_dead_letter_shows_and_is_replayed_after_the_cause_is_fixed(pulling_shop: Shop, browser: Any) -> None:
    shop = pulling_shop
    shop.stop_process("sink")
    shop.start_sink("--reject-type", "stock.adjusted")
    with page_opener(shop, browser, OWNER) as open_:
        page = open_("/status", viewport=DESKTOP)
        panel = page.get_by_test_id("sync-panel")
        adjust(shop)
        sell(shop)  # a sale wakes the forwarder at once
        letter = panel.get_by_test_id("dead-letter")
        letter.wait_for()
        assert "stock.adjusted" in letter.inner_text()
        assert "refuses events of type stock.adjusted" in letter.inner_text()  # the receiver's reason
        letter.locator("summary").click()
        assert "rejected" in letter.locator("pre").inner_text()  # its whole answer
        panel.locator("[data-testid=sync-state][data-state=online]").wait_for()  # the rest keeps flowing
        seq = int(letter.get_attribute("data-seq") or 0)
        assert seq and seq not in {e["seq"] for e in shop.sink_events() if "set_aside" not in e}

        # the owner fixes the cause (the sink takes the type again), then replays with a confirm
        shop.stop_process("sink")
        shop.start_sink()
        dialogs: list[str] = []
        page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
        letter.get_by_test_id("replay").click()
        panel.get_by_test_id("dead-letters").filter(has_text="None: the cloud has taken every event").wait_for(timeout=30000)
        assert dialogs and "again" in dialogs[0]
        arrived = wait_until(lambda: [e for e in shop.sink_events() if e["seq"] == seq and "set_aside" not in e],
                             what="the replayed event at the sink")
        assert arrived[0]["type"] == "stock.adjusted"
        sync = shop.api("/api/v1/status")["sync"]
        assert sync["dead_letters"] == 0 and sync["acked_seq"] == sync["last_seq"]
        panel.get_by_test_id("sync-acked").filter(has_text=f"#{sync['acked_seq']} of #{sync['last_seq']}").wait_for()
        page.screenshot(path=str(shop.root / "status-sync.png"), full_page=True)


def test_pull_now_shows_a_refused_change_and_the_panel_fits_a_phone(pulling_shop: Shop, browser: Any) -> None:
    shop = pulling_shop
    with page_opener(shop, browser, OWNER) as open_:
        page = open_("/status", viewport=PHONE)
        panel = page.get_by_test_id("sync-panel")
        inbound = panel.get_by_test_id("inbound")
        wait_until(lambda: shop.api("/api/v1/status")["sync"]["inbound"]["last_success_at"], what="the first pull")
        put_change(shop, "tier=retail", "price_minor=249")
        inbound.get_by_test_id("pull-now").click()  # not the 60 s interval
        refused = inbound.get_by_test_id("refused-change")
        refused.wait_for()
        assert "price.set" in refused.inner_text() and "NO-SUCH-SKU" in refused.inner_text()
        assert inbound.get_by_test_id("inbound-refused-count").inner_text() == "1"
        log = shop.api("/api/v1/sync/inbound?outcome=refused")["changes"]
        assert [c["sku"] for c in log] == ["NO-SUCH-SKU"]
        width = page.evaluate("() => document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"], "the sync panel makes the phone page scroll sideways"
        assert panel.get_by_test_id("sync-state").is_visible()

        # the outbox near its disk quota (as the upkeep job would record it): the owner is warned
        warning = panel.get_by_test_id("sync-quota-warning")
        assert warning.is_hidden()
        for level, used_mb, words in ((70, 760, "over 70 %"), (90, 950, "over 90 %")):
            with closing(sqlite3.connect(shop.root / "data" / "backroom.sqlite3", timeout=10)) as db, db:
                db.execute("UPDATE sync_state SET quota_level = ?, usage_bytes = ? WHERE id = 1",
                           (level, used_mb * 1048576))
            page.locator(f"[data-testid=sync-quota-warning][data-level='{level}']").wait_for()
            assert words in warning.inner_text()
        assert "950 MB of 1024 MB (92.8 %)" in panel.get_by_test_id("sync-quota").inner_text()
        page.screenshot(path=str(shop.root / "status-sync-phone.png"), full_page=True)


def test_pull_needs_a_manager_and_a_feed(shop: Shop) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        shop.api("/api/v1/sync/pull", {})
    with refused.value as answer:  # closes the connection the error holds
        assert answer.code == 409 and "cloud.changes_url" in answer.read().decode()
    with pytest.raises(urllib.error.HTTPError) as bad:
        shop.api("/api/v1/sync/inbound?outcome=maybe")
    with bad.value as answer:
        assert answer.code == 400
