"""The register's cloud banner: the sink goes away, the register says so calmly (also after a
reload), and keeps selling; the sink comes back, the banner goes. Real hub, sink and Chromium."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.conftest import OWNER, PHONE, TABLET, Shop, page_opener
from tests.helpers import wait_until


def sell(shop: Shop) -> None:
    """Record something the cloud must hear of at once: a sale wakes the forwarder."""
    shop.api("/api/v1/sales", {"id": str(uuid.uuid4()), "register_id": "till-1", "lines": [{"sku": "D1002", "qty": 1}],
                               "tenders": [{"kind": "cash", "amount_minor": 5000}]})


@pytest.mark.parametrize("viewport", [TABLET, PHONE], ids=["tablet", "phone"])
def test_banner_shows_while_the_cloud_is_down(shop: Shop, browser: Any, viewport: dict[str, int]) -> None:
    with page_opener(shop, browser, OWNER) as open_:
        page = open_("/register/till-1", viewport=viewport)
        page.get_by_test_id("connection-state").filter(has_text="Connected").wait_for()
        banner = page.get_by_test_id("cloud-banner")
        sell(shop)
        wait_until(lambda: shop.api("/api/v1/status")["sync"]["state"] == "online", what="the sync to be online")
        assert banner.is_hidden()

        shop.stop_process("sink")
        sell(shop)
        banner.wait_for(state="visible")
        text = banner.inner_text()
        assert text.startswith("The cloud link is down since ") and "sales are kept safely on the hub" in text
        assert banner.get_attribute("role") == "status"  # news, not an alert
        assert page.get_by_test_id("code-input").is_enabled()  # nothing blocks selling

        page.reload()  # a register opening meanwhile hears the current state when its stream opens
        page.get_by_test_id("connection-state").filter(has_text="Connected").wait_for()
        banner.wait_for(state="visible")
        box = banner.bounding_box()
        assert box is not None and box["width"] <= viewport["width"] + 1

        shop.start_sink()
        banner.wait_for(state="hidden", timeout=30000)
        assert page.get_by_test_id("cloud-banner").get_attribute("data-state") == "online"
