"""The after-action replay in a real browser: the slider and the player move the picture
through the event, and only the event's command users may open it."""

import json
import re
import time
from datetime import datetime

import pytest
from playwright.sync_api import Page, expect

from tests.command_center.browser.screens import PASSWORD, WireTerminal, user_for_terminal
from tests.conftest import casualty_report_data
from tests.support.browser import chromium, screenshot_path

pytestmark = pytest.mark.browser

EVENT = "event:wic-test"


def log_in(browser, base_url: str, username: str, path: str, locale: str = "en-GB") -> Page:
    page = browser.new_context(locale=locale, viewport={"width": 1600, "height": 1200}).new_page()
    page.goto(f"{base_url}/login/?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    return page


def drive(live_hub, roles) -> float:
    """Red reported; then carried (the returned moment is while it is on the way); then a
    yellow reported and the red handed over."""
    field = WireTerminal(live_hub.ws_url, roles.field)
    command = WireTerminal(live_hub.ws_url, roles.command)
    wz01 = WireTerminal(live_hub.ws_url, roles.ambulance)
    tx1 = WireTerminal(live_hub.ws_url, roles.hospital_screen)
    red = casualty_report_data(tag="R-1", category="red")
    try:
        tx1.send("capacity", "hospital:TX1",
                 {"beds": {"red": 3, "yellow": 8, "green": 20}, "diversion": False})
        field.send("casualty.report", EVENT, red)
        time.sleep(1.5)
        command.send("dispatch.override", EVENT,
                     {"casualty": red["casualty"], "unit": "WZ01", "hospital": "TX1"})
        wz01.send("unit.status", "unit:WZ01", {"status": "on_scene"})
        wz01.send("unit.status", "unit:WZ01", {"status": "transporting"})
        wz01.send("position", "unit:WZ01", {"t": datetime.now().astimezone().isoformat(),
                                            "lat": 30.70, "lon": 120.52})
        on_the_way = time.time() + 0.7
        time.sleep(1.5)
        field.send("casualty.report", EVENT, casualty_report_data(tag="Y-1", category="yellow"))
        tx1.send("capacity", "hospital:TX1",
                 {"beds": {"red": 2, "yellow": 8, "green": 20}, "diversion": False})
        wz01.send("unit.status", "unit:WZ01", {"status": "at_hospital"})
        tx1.send("handover.accept", "hospital:TX1", {"casualty": red["casualty"]})
    finally:
        for terminal in (field, command, wz01, tx1):
            terminal.close()
    return on_the_way


def move_slider(page: Page, moment_ms: float) -> None:
    setup = json.loads(page.locator("#review-setup").text_content() or "")
    start = datetime.fromisoformat(setup["start"]).timestamp() * 1000
    page.locator("[data-testid=slider]").fill(str(round(moment_ms - start)))


def unit_status(page: Page):
    return page.locator("[data-testid=units] tr[data-unit=WZ01]")


def test_the_slider_and_the_player_move_the_picture_through_the_event(live_hub, roles):
    user_for_terminal("dispatcher", "command-1")
    on_the_way = drive(live_hub, roles)
    with chromium() as browser:
        page = log_in(browser, live_hub.http_url, "dispatcher", "/command/")
        page.click("[data-testid=review-link]")
        expect(page).to_have_url(f"{live_hub.http_url}/command/wic-test/review/")
        # It opens at the end of the event.
        expect(page.locator("[data-count=yellow]")).to_have_text("1")
        expect(page.locator("[data-count=red]")).to_have_text("1")
        expect(unit_status(page)).to_have_attribute("data-status", "at_hospital")
        expect(page.locator("[data-testid=hospitals] tr[data-hospital=TX1] [data-beds=red]")
               ).to_have_text("2")
        expect(page.locator("[data-marker^='casualty:']")).to_have_count(1)  # the yellow
        expect(page.locator("[data-testid=journal-before] li[data-type='handover.accept']")
               ).to_have_count(1)
        expect(page.locator("[data-testid=zone]")).to_have_text("Asia/Shanghai")

        page.locator("[data-testid=slider]").focus()
        page.keyboard.press("Home")
        expect(page.locator("[data-count=yellow]")).to_have_text("0")
        expect(page.locator("[data-count=red]")).to_have_text("1")
        expect(unit_status(page)).to_have_attribute("data-status", "available")
        expect(page.locator("[data-testid=hospitals] tr[data-hospital=TX1] [data-beds=red]")
               ).to_have_text("3")
        red_marker = page.locator("[data-marker^='casualty:']")
        expect(red_marker).to_have_count(1)
        expect(red_marker).to_have_class(re.compile(r"\bcat-red\b"))
        unit_marker = page.locator("[data-marker='unit:WZ01']")
        at_station = unit_marker.bounding_box()

        move_slider(page, on_the_way * 1000)
        expect(unit_status(page)).to_have_attribute("data-status", "transporting")
        expect(page.locator("[data-testid=casualties] tbody tr").first).to_have_attribute(
            "data-status", "en_route")
        expect(page.locator("[data-testid=casualties] tbody tr").first).to_contain_text(
            "WZ01 → TX1")
        expect(page.locator("[data-marker='unit:WZ01']")).to_contain_text("transporting")
        moved = page.locator("[data-marker='unit:WZ01']").bounding_box()
        assert moved is not None and at_station is not None
        assert (moved["x"], moved["y"]) != (at_station["x"], at_station["y"])
        page.screenshot(path=screenshot_path("review-en"), full_page=True)

        # Played from the start at 10x, the event's few seconds run out quickly.
        page.keyboard.press("Home")
        expect(page.locator("[data-count=yellow]")).to_have_text("0")
        page.select_option("[data-testid=speed]", "10")
        page.click("[data-testid=play]")
        expect(page.locator("[data-testid=play]")).to_have_text("Pause")
        expect(page.locator("[data-count=yellow]")).to_have_text("1", timeout=10000)
        expect(page.locator("[data-testid=play]")).to_have_text("Play", timeout=10000)

        page.click("[data-testid=build-report] button")
        expect(page.locator("[data-testid=reports] li").first).to_have_attribute(
            "data-state", "done", timeout=60000)
        expect(page.locator("[data-testid=reports] li a[data-file=pdf]")).to_have_count(1)


def test_the_replay_speaks_chinese(live_hub, roles):
    user_for_terminal("dispatcher", "command-1")
    on_the_way = drive(live_hub, roles)
    with chromium() as browser:
        page = log_in(browser, live_hub.http_url, "dispatcher", "/command/wic-test/review/",
                      locale="zh-CN")
        expect(page.locator("h1")).to_contain_text("事后复盘")
        expect(page.locator("[data-testid=play]")).to_have_text("播放")
        move_slider(page, on_the_way * 1000)
        expect(unit_status(page)).to_have_attribute("data-status", "transporting")
        expect(unit_status(page)).to_contain_text("转运中")
        page.screenshot(path=screenshot_path("review-zh"), full_page=True)


def test_a_non_command_user_cannot_open_the_review_or_the_report(live_hub, roles):
    user_for_terminal("medic", "medic-1")
    with chromium() as browser:
        page = log_in(browser, live_hub.http_url, "medic", "/command/wic-test/review/")
        expect(page.locator(".error")).to_contain_text(
            "Only the command console of this event may review it.")
        response = page.request.get(f"{live_hub.http_url}/command/wic-test/review/state"
                                    "?at=2026-01-01T00:00:00Z")
        assert response.status == 403
        csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
        response = page.request.post(f"{live_hub.http_url}/command/wic-test/review/reports/",
                                     headers={"X-CSRFToken": csrf, "Accept-Language": "en"})
        assert response.status == 403
        assert "Only the command console" in response.text()
