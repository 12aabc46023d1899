"""The command console in a real browser against a live hub: live picture, drawer, resume."""

import time
from datetime import UTC, datetime

import pytest
from playwright.sync_api import WebSocketRoute, expect

from tests.command_center.browser.screens import (
    WireTerminal,
    log_in_and_open,
    open_screen,
    user_for_terminal,
)
from tests.conftest import casualty_report_data
from tests.support.browser import SCREENSHOTS, chromium, screenshot_path

pytestmark = pytest.mark.browser

LATENCY_LOG = SCREENSHOTS.parent / "console-report-latency.txt"


@pytest.fixture
def dispatcher(roles):
    return user_for_terminal("dispatcher", "command-1")


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def casualty_row(page, casualty_id: str):
    return page.locator(f"[data-testid=casualties] tbody tr[data-casualty='{casualty_id}']")


def test_a_reported_casualty_appears_on_the_console_within_a_second(live_hub, roles, dispatcher):
    field = WireTerminal(live_hub.ws_url, roles.field)
    ambulance = WireTerminal(live_hub.ws_url, roles.ambulance)
    hospital = WireTerminal(live_hub.ws_url, roles.hospital_screen)
    earlier = casualty_report_data(tag="W-001", category="yellow", complaint="ankle")
    field.send("casualty.report", "event:wic-test", earlier)
    ambulance.send("position", "unit:WZ01", {"t": now_iso(), "lat": 30.744, "lon": 120.486})
    try:
        with chromium() as browser:
            page = open_screen(browser, live_hub.http_url, "dispatcher", "/command/")
            expect(casualty_row(page, earlier["casualty"])).to_have_count(1)
            expect(page.locator("[data-count=yellow]")).to_have_text("1")

            report = casualty_report_data(tag="W-002", category="red", complaint="crush injury",
                                          needs=["trauma"])
            started = time.perf_counter()
            field.send("casualty.report", "event:wic-test", report)
            casualty_row(page, report["casualty"]).wait_for(timeout=1000)
            elapsed_ms = (time.perf_counter() - started) * 1000
            LATENCY_LOG.parent.mkdir(parents=True, exist_ok=True)
            with LATENCY_LOG.open("a") as log:
                log.write(f"{datetime.now(UTC).isoformat()} report->console {elapsed_ms:.0f} ms\n")
            assert elapsed_ms < 1000
            row = casualty_row(page, report["casualty"])
            expect(row).to_contain_text("Immediate")
            expect(row).to_contain_text("awaiting transport")
            expect(page.locator("[data-count=red]")).to_have_text("1")
            expect(page.locator("[data-count=awaiting]")).to_have_text("2")
            # Red sorts before yellow: the most urgent casualty is on top.
            expect(page.locator("[data-testid=casualties] tbody tr").first).to_have_attribute(
                "data-casualty", report["casualty"])
            expect(page.locator(f"[data-marker='casualty:{report['casualty']}']")).to_have_count(1)

            # A capacity change at the hospital moves the console's figures and its alerts.
            hospital.send("capacity", "hospital:TX1",
                          {"beds": {"red": 1, "yellow": 7, "green": 19}, "diversion": False})
            tx1 = page.locator("[data-testid=hospitals] tr[data-hospital=TX1]")
            expect(tx1.locator("[data-beds=red]")).to_have_text("1")
            expect(tx1.locator("[data-beds=yellow]")).to_have_text("7")
            expect(page.locator("[data-testid=alerts] [data-alert=beds]")).to_contain_text("TX1")
            hospital.send("capacity", "hospital:TX1",
                          {"beds": {"red": 3, "yellow": 7, "green": 19}, "diversion": True})
            expect(tx1.locator("[data-beds=red]")).to_have_text("3")
            expect(page.locator("[data-testid=alerts] [data-alert=div]")).to_contain_text("TX1")

            # A live position moves the unit on the board.
            ambulance.send("position", "unit:WZ01",
                           {"t": now_iso(), "lat": 30.746, "lon": 120.488})
            expect(page.locator("[data-testid=units] tr[data-unit=WZ01]")).to_contain_text("0 min")
            page.screenshot(path=screenshot_path("command-console-en"), full_page=True)

            # The drawer replays the casualty's record: vitals, ECG, notes, timeline.
            topic = f"casualty:{report['casualty']}"
            field.send("vitals", topic, {"t": now_iso(), "hr": 128, "spo2": 91, "rr": 28,
                                         "sbp": 88})
            field.send("waveform", topic, {"t0": now_iso(), "hz": 250, "signal": "ecg_ii",
                                           "unit": "mV", "samples": ecg_samples(250 * 4)})
            field.send("triage.update", topic, {"category": "red", "method": "SALT",
                                                "reason": "deteriorating"})
            field.send("note", topic, {"text": "Trapped 20 min under barrier"})
            row.get_by_role("button").click()
            drawer = page.locator("[data-testid=drawer]")
            expect(drawer).to_be_visible()
            expect(drawer.locator("[data-testid=drawer-vitals-last]")).to_contain_text("HR 128")
            expect(drawer.locator("[data-testid=drawer-notes]")).to_contain_text("Trapped")
            expect(drawer.locator("[data-testid=drawer-triage] li")).to_have_count(2)
            expect(drawer.locator("[data-testid=drawer-timeline]")).to_contain_text("medic-1")
            page.screenshot(path=screenshot_path("command-console-drawer-en"))
            page.keyboard.press("Escape")
            expect(drawer).to_be_hidden()
    finally:
        for terminal in (field, ambulance, hospital):
            terminal.close()


def ecg_samples(count: int) -> list[float]:
    # A QRS-like spike once a second over a flat line is enough to see the strip drawn.
    return [1.2 if index % 250 in (100, 101) else -0.3 if index % 250 == 103 else 0.0
            for index in range(count)]


def test_the_console_resumes_after_a_network_drop_without_duplicate_rows(
        live_hub, roles, dispatcher):
    field = WireTerminal(live_hub.ws_url, roles.field)
    before = casualty_report_data(tag="B-1")
    field.send("casualty.report", "event:wic-test", before)
    offline = {"now": False}
    sockets: list[tuple[WebSocketRoute, WebSocketRoute]] = []

    def handle(route: WebSocketRoute) -> None:
        if offline["now"]:
            route.close(code=1001)
            return
        sockets.append((route, route.connect_to_server()))

    try:
        with chromium() as browser:
            context = browser.new_context(locale="zh-CN", viewport={"width": 1600,
                                                                    "height": 1000})
            context.route_web_socket("**/ws/terminal/", handle)
            page = context.new_page()
            log_in_and_open(page, live_hub.http_url, "dispatcher", "/command/")
            expect(casualty_row(page, before["casualty"])).to_have_count(1)

            offline["now"] = True
            context.set_offline(True)
            for page_side, server_side in sockets:
                server_side.close()
                page_side.close(code=1001)
            connection = page.locator("[data-testid=connection]")
            expect(connection).not_to_have_attribute("data-state", "open")
            expect(connection).to_have_text("正在重新连接…")
            missed = [casualty_report_data(tag=f"M-{n}") for n in range(3)]
            for report in missed:
                field.send("casualty.report", "event:wic-test", report)

            offline["now"] = False
            context.set_offline(False)
            expect(connection).to_have_attribute("data-state", "open", timeout=10000)
            for report in [before, *missed]:
                expect(casualty_row(page, report["casualty"])).to_have_count(1)
            after = casualty_report_data(tag="A-1")
            field.send("casualty.report", "event:wic-test", after)
            expect(casualty_row(page, after["casualty"])).to_have_count(1)
            expect(page.locator("[data-testid=casualties] tbody tr")).to_have_count(5)
            expect(page.locator("[data-count=red]")).to_have_text("5")
            page.screenshot(path=screenshot_path("command-console-resumed-zh"), full_page=True)
    finally:
        field.close()


def test_the_venue_and_every_layer_show_without_map_tiles(live_hub, roles, dispatcher):
    with chromium() as browser:
        page = open_screen(browser, live_hub.http_url, "dispatcher", "/command/")
        expect(page.locator(".leaflet-tile")).to_have_count(0)
        expect(page.locator("[data-testid=map] path.leaflet-interactive")).to_have_count(1)
        expect(page.locator("[data-marker^='hospital:']")).to_have_count(2)
