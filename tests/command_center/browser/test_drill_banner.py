"""Every screen of an exercise event says so; a real event's screens do not."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from command_center.drills.services import drill_run_start
from command_center.drills.timeline import drill_read
from tests.command_center.browser.screens import PASSWORD, user_for_terminal
from tests.support.browser import chromium, screenshot_path

pytestmark = pytest.mark.browser

WUZHEN_DRILL = Path(__file__).resolve().parents[3] / "deploy" / "scenarios" / "wuzhen-drill.json"
SCREENS = {"drill-dispatcher": "/command/", "drill-crew": "/ambulance/",
           "drill-nurse": "/hospital/", "drill-medic": "/field/"}


@pytest.fixture
def drill_users(roles):
    run = drill_run_start(drill=drill_read(WUZHEN_DRILL), auto_dispatch=False)
    user_for_terminal("drill-dispatcher", run.command.name)
    user_for_terminal("drill-crew", run.units[0].terminal.name)
    user_for_terminal("drill-nurse", run.hospitals[0].terminal.name)
    user_for_terminal("drill-medic", run.medics["MP1"].terminal.name)
    user_for_terminal("real-dispatcher", "command-1")
    user_for_terminal("real-nurse", "screen-TX1")
    return run


def _open(page: Page, base_url: str, username: str, path: str) -> None:
    page.goto(f"{base_url}/login/?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(path)


def test_every_screen_of_an_exercise_shows_the_banner_in_both_languages_and_real_ones_do_not(
    live_hub, drill_users
):
    with chromium() as browser:
        for username, path in SCREENS.items():
            page = browser.new_context(locale="en-GB").new_page()
            _open(page, live_hub.http_url, username, path)
            banner = page.get_by_test_id("exercise-banner")
            expect(banner).to_be_visible()
            expect(banner).to_contain_text("EXERCISE")
            expect(banner).to_have_attribute("data-event", drill_users.event)
            page.screenshot(path=screenshot_path(f"drill-banner{path.replace('/', '-')}"))
            page.context.close()
        for username, path in (("real-dispatcher", "/command/"), ("real-nurse", "/hospital/")):
            page = browser.new_context(locale="en-GB").new_page()
            _open(page, live_hub.http_url, username, path)
            page.wait_for_selector("[data-testid=connection]")
            expect(page.get_by_test_id("exercise-banner")).to_have_count(0)
            page.context.close()
        page = browser.new_context(locale="zh-CN").new_page()
        _open(page, live_hub.http_url, "drill-dispatcher", "/command/")
        banner = page.get_by_test_id("exercise-banner")
        expect(banner).to_contain_text("演练")
        expect(banner).to_contain_text("乌镇峰会大规模伤亡演习")
