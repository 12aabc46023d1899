"""Accepting a recommendation on the console reaches one hospital's screen, and back."""

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from command_center.services import dispatch_recommend
from tests.command_center.browser.screens import (
    WireTerminal,
    in_thread,
    open_screen,
    user_for_terminal,
)
from tests.conftest import casualty_report_data
from tests.support.browser import chromium, screenshot_path

pytestmark = pytest.mark.browser


def recommended_item(event, casualty_id):
    recommendation = dispatch_recommend(event=event, time_limit=1.0)
    return recommendation.items.select_related("unit", "hospital").get(casualty_id=casualty_id)


@pytest.fixture
def staff(roles):
    user_for_terminal("dispatcher", "command-1")
    user_for_terminal("nurse-tx1", "screen-TX1")
    user_for_terminal("nurse-jx1", "screen-JX1")


def test_an_accepted_recommendation_reaches_only_its_hospital_and_its_states_reach_the_console(
        live_hub, roles, staff):
    field = WireTerminal(live_hub.ws_url, roles.field)
    crews = {"WZ01": WireTerminal(live_hub.ws_url, roles.ambulance),
             "WZ02": WireTerminal(live_hub.ws_url, roles.other_ambulance)}
    report = casualty_report_data(tag="R-7", category="red", age_group="adult",
                                  complaint="chest pain, sweating", needs=["cardiac"])
    try:
        for callsign, crew in crews.items():
            crew.send("position", f"unit:{callsign}",
                      {"t": datetime.now(UTC).isoformat(), "lat": 30.744, "lon": 120.489})
        field.send("casualty.report", "event:wic-test", report)
        with chromium() as browser:
            console = open_screen(browser, live_hub.http_url, "dispatcher", "/command/")
            tx1 = open_screen(browser, live_hub.http_url, "nurse-tx1", "/hospital/")
            jx1 = open_screen(browser, live_hub.http_url, "nurse-jx1", "/hospital/")

            item = in_thread(recommended_item, roles.event, report["casualty"])
            assert item.hospital.code == "TX1"  # the only cardiac hospital
            assignment = console.locator(
                f"[data-testid=assignments] li[data-casualty='{report['casualty']}']")
            expect(assignment).to_contain_text(f"{item.unit.callsign} → TX1")
            expect(assignment.locator(".explain")).not_to_be_empty()
            console.screenshot(path=screenshot_path("command-console-recommendation-en"),
                               full_page=True)
            assignment.get_by_role("button", name="Accept").click()
            expect(console.locator("[data-testid=dispatch-feedback]")).to_contain_text("Sent")

            card = tx1.locator(f"[data-testid=inbound] li[data-casualty='{report['casualty']}']")
            expect(card).to_contain_text("chest pain")
            expect(card).to_contain_text("cardiac")
            expect(card.locator(".countdown")).to_contain_text("ETA")
            expect(tx1.locator("[data-testid=new-notice]")).to_be_visible()
            # The screen tells the hub it shows the notice; the console sees it.
            expect(card).to_have_attribute("data-notice", "received")
            expect(jx1.locator("[data-testid=inbound]")).to_contain_text("No inbound patients")
            expect(jx1.locator("[data-testid=inbound] [data-casualty]")).to_have_count(0)
            console_row = console.locator(
                f"[data-testid=casualties] tbody tr[data-casualty='{report['casualty']}']")
            expect(console_row).to_contain_text("notice received")

            tx1.locator("[data-action=mute]").click()
            expect(tx1.locator("[data-action=mute]")).to_have_attribute("aria-pressed", "true")
            card.get_by_role("button", name="Acknowledge").click()
            expect(card).to_have_attribute("data-notice", "acknowledged")
            expect(console_row).to_contain_text("acknowledged")
            expect(console.locator("[data-testid=hospitals] tr[data-hospital=TX1]")).to_contain_text(
                "R-7: acknowledged")

            # The crew's monitor and handover show on the card; arrival, then handover.
            crew = crews[item.unit.callsign]
            topic = f"casualty:{report['casualty']}"
            crew.send("vitals", topic, {"t": datetime.now(UTC).isoformat(), "hr": 112,
                                        "spo2": 94, "sbp": 100})
            crew.send("handover", topic, {"atmist": {
                "age": "about 60", "time": "09:12", "mechanism": "collapsed in the hall",
                "injuries": "none seen", "signs": "HR 112, SpO2 94%",
                "treatment": "aspirin 300 mg, O2"}})
            expect(card.locator(".vitals-last")).to_contain_text("HR 112")
            expect(card.locator(".atmist")).to_contain_text("aspirin 300 mg")
            for status in ("on_scene", "transporting", "at_hospital"):
                crew.send("unit.status", f"unit:{item.unit.callsign}", {"status": status})
            expect(card).to_have_attribute("data-notice", "arrived")
            tx1.screenshot(path=screenshot_path("hospital-receiving-en"), full_page=True)
            card.get_by_role("button", name="Accept handover").click()
            expect(tx1.locator("[data-testid=inbound] [data-casualty]")).to_have_count(0)
            # A notice carries no tag: the screen names the patient by the record's id.
            expect(tx1.locator("[data-testid=arrivals]")).to_contain_text(report["casualty"][:8])
            expect(tx1.locator("[data-testid=arrivals]")).to_contain_text("handed over")
            expect(console_row).to_contain_text("handed over")
    finally:
        for terminal in (field, *crews.values()):
            terminal.close()


def test_a_published_capacity_moves_the_console_at_once(live_hub, roles, staff):
    with chromium() as browser:
        console = open_screen(browser, live_hub.http_url, "dispatcher", "/command/")
        screen = open_screen(browser, live_hub.http_url, "nurse-tx1", "/hospital/",
                             locale="zh-CN")
        form = screen.locator("[data-testid=capacity-form]")
        expect(form.locator("#beds-red")).to_have_value("4")
        form.locator("#beds-red").fill("2")
        form.locator("#beds-yellow").fill("5")
        form.locator("input[name=diversion]").check()
        form.locator("#beds-green").press("Enter")
        expect(form.locator("[data-testid=capacity-feedback]")).to_contain_text("发布")
        row = console.locator("[data-testid=hospitals] tr[data-hospital=TX1]")
        expect(row.locator("[data-beds=red]")).to_have_text("2")
        expect(row.locator("[data-beds=yellow]")).to_have_text("5")
        expect(console.locator("[data-testid=alerts] [data-alert=div]")).to_contain_text("TX1")
        screen.screenshot(path=screenshot_path("hospital-receiving-capacity-zh"), full_page=True)
