"""The status page's devices section in Chromium against a real shop (hub, devices agent, scale
and printer simulators, mosquitto): rename, bind, tare, test page, test scan to a register page,
forget, and a device that goes away turning offline without a reload, on a desk and on a phone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from devices import bus
from devices.link import close_client
from tests.conftest import HUB_ID, USERS
from tests.e2e.conftest import CASHIER, MANAGER, OWNER, PHONE, Shop, page_opener, staffed_shop
from tests.helpers import wait_until
from tests.hub.test_devices_api import retained

DESK = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    with staffed_shop(tmp_path_factory.mktemp("status-devices")) as s:
        wait_until(lambda: len([d for d in s.api("/api/v1/devices")["devices"] if d["online"]]) == 3,
                   what="scanner, scale and printer online", timeout=60)
        yield s


@pytest.fixture
def open_page(shop: Shop, browser: Any) -> Iterator[Any]:
    with page_opener(shop, browser, OWNER) as open_:
        yield open_


def card(page: Any, device_id: str) -> Any:
    return page.locator(f"[data-testid=device-row][data-device-id='{device_id}']")


def overflow(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def test_devices_are_grouped_by_kind_and_renamed_bound_tared_and_test_printed(shop: Shop, open_page: Any) -> None:
    page = open_page("/status", OWNER, DESK)
    card(page, "printer-1").wait_for()
    groups = page.locator("[data-testid=device-group] h3").all_inner_texts()
    assert groups == ["Scanners", "Scales", "Receipt printers"]

    printer = card(page, "printer-1")
    printer.get_by_test_id("rename").click()
    printer.get_by_test_id("device-name-input").fill("Counter printer")
    printer.get_by_test_id("device-name-save").click()
    printer.get_by_test_id("device-name").filter(has_text="Counter printer").wait_for()
    assert [d["name"] for d in shop.api("/api/v1/devices")["devices"] if d["id"] == "printer-1"] == ["Counter printer"]

    before = len(shop.printer.receipts())
    printer.get_by_test_id("test-page").click()
    printer.get_by_test_id("device-result").filter(has_text="Test page printed").wait_for()
    page_text = shop.printer.wait_for(before + 1, timeout=15)[-1].text
    assert "TEST PAGE" in page_text and "printer-1" in page_text

    scale = card(page, "scale-1")
    scale.get_by_test_id("tare").click()
    scale.get_by_test_id("device-result").filter(has_text="Tared").wait_for()
    assert scale.get_by_test_id("device-last-event").inner_text().startswith("weight")

    scanner = card(page, "sim-scanner-1")
    scanner.get_by_test_id("device-register").select_option("")
    scanner.get_by_test_id("device-result").filter(has_text="no register").wait_for()
    wait_until(lambda: [d["register_id"] for d in shop.api("/api/v1/devices")["devices"]
                        if d["id"] == "sim-scanner-1"] == [None], what="scanner unbound")
    scanner.get_by_test_id("test-scan").click()
    scanner.get_by_test_id("device-result").filter(has_text="bound to no register").wait_for()
    scanner.get_by_test_id("device-register").select_option("till-1")
    scanner.get_by_test_id("device-result").filter(has_text="Bound to register till-1").wait_for()
    assert overflow(page) <= 0
    page.screenshot(path=str(shop.root / "status-devices.png"), full_page=True)


def test_a_test_scan_reaches_the_register_page(shop: Shop, open_page: Any) -> None:
    register = open_page("/register/till-1", CASHIER)
    register.get_by_test_id("connection-state").filter(has_text="onnected").wait_for()
    page = open_page("/status", OWNER, DESK)
    scanner = card(page, "sim-scanner-1")
    scanner.get_by_test_id("test-scan").click()
    scanner.get_by_test_id("device-result").filter(has_text="it shows on register till-1").wait_for()
    register.get_by_test_id("cart-line").first.wait_for()


def test_on_a_phone_a_forgotten_device_goes_and_a_dead_one_turns_offline(shop: Shop, open_page: Any) -> None:
    ghost = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="old-label-printer")
    ghost.username_pw_set("devices", USERS["devices"])
    ghost.will_set(bus.availability_topic(HUB_ID, "old-label-printer"), "offline", qos=1, retain=True)
    ghost.connect(shop.broker.host, shop.broker.port)
    ghost.loop_start()
    try:
        cfg = bus.DeviceConfig("label_printer", "Old label printer", model="LP-2824", connection="network")
        ghost.publish(bus.config_topic(HUB_ID, "old-label-printer"), bus.dumps(cfg), qos=1, retain=True).wait_for_publish(5)
        ghost.publish(bus.availability_topic(HUB_ID, "old-label-printer"), "online", qos=1, retain=True).wait_for_publish(5)
        page = open_page("/status", OWNER, PHONE)
        label = card(page, "old-label-printer")
        label.wait_for()
        assert page.locator("[data-testid=device-group][data-kind=label_printer]").count() == 1
        assert overflow(page) <= 0
        page.screenshot(path=str(shop.root / "status-devices-phone.png"), full_page=True)

        # A device that goes away turns offline on the page without a reload.
        ghost.publish(bus.availability_topic(HUB_ID, "old-label-printer"), "offline", qos=1, retain=True).wait_for_publish(5)
        page.locator("[data-testid=device-row][data-device-id=old-label-printer][data-online=false]").wait_for()
        assert label.get_by_test_id("device-state").inner_text() == "Offline"

        page.once("dialog", lambda d: d.accept())
        label.get_by_test_id("forget").click()
        page.get_by_test_id("device-notice").filter(has_text="appears again when the hub restarts").wait_for()
        label.wait_for(state="detached")
        assert page.locator("[data-testid=device-group][data-kind=label_printer]").count() == 0
        assert "old-label-printer" not in [d["id"] for d in shop.api("/api/v1/devices")["devices"]]
    finally:
        close_client(ghost)
    topics = [bus.config_topic(HUB_ID, "old-label-printer"), bus.availability_topic(HUB_ID, "old-label-printer")]
    assert retained(shop.broker, topics) == {}, "the forgotten device's config or availability is still retained"


def test_the_agent_dying_turns_its_devices_offline_live(shop: Shop, open_page: Any) -> None:
    page = open_page("/status", OWNER, DESK)
    page.locator("[data-testid=device-row][data-online=true]").nth(2).wait_for()
    shop.kill_process("agent")  # kill -9: the broker sends every device's last will
    try:
        wait_until(lambda: page.locator("[data-testid=device-row][data-online=false]").count() == 3,
                   what="3 devices offline on the status page")
        assert "for" in card(page, "scale-1").locator(".since").inner_text()
    finally:
        shop._spawn("agent", ["devices", "--config", str(shop.config_path)])


def test_an_owner_adds_and_removes_a_network_printer_from_the_panel(shop: Shop, open_page: Any) -> None:
    page = open_page("/status", OWNER, DESK)
    panel = page.get_by_test_id("network-printers")
    panel.get_by_test_id("added-printers").filter(has_text="No network printers added").wait_for()
    form = panel.get_by_test_id("add-printer")
    form.locator("input[name=host]").fill("127.0.0.1")
    form.locator("input[name=port]").fill("9")
    form.locator("select[name=kind]").select_option("label_printer")
    form.locator("select[name=language]").select_option("zpl")
    form.locator("input[name=name]").fill("Back office labels")
    form.locator("button[type=submit]").click()
    added = panel.get_by_test_id("added-printer").filter(has_text="Back office labels")
    added.wait_for()
    assert "127.0.0.1:9" in added.inner_text() and "zpl" in added.inner_text()
    assert [p["name"] for p in shop.api("/api/v1/printers")["printers"]] == ["Back office labels"]

    page.once("dialog", lambda d: d.accept())
    added.get_by_role("button", name="Remove").click()
    added.wait_for(state="detached")
    panel.get_by_test_id("printers-message").filter(has_text="Removed Back office labels").wait_for()
    assert shop.api("/api/v1/printers")["printers"] == []


def test_a_manager_sees_no_forget_button_and_no_printer_panel(shop: Shop, open_page: Any) -> None:
    page = open_page("/status", MANAGER, DESK)
    scale = card(page, "scale-1")
    scale.get_by_test_id("tare").wait_for()
    assert scale.get_by_test_id("forget").count() == 0
    page.get_by_test_id("printers-message").filter(has_text="Only an owner").wait_for()
