"""The landing page logs a user in by role, in Chinese by default and in English on request."""

import pytest
from django.contrib.auth.models import Group, User

from hub.models import Terminal
from tests.support.browser import chromium, screenshot_path

pytestmark = pytest.mark.browser


@pytest.fixture
def dispatcher(roles):
    group, _ = Group.objects.get_or_create(name="dispatcher")
    user = User.objects.create_user("dispatcher", password="correct horse battery")
    user.groups.add(group)
    terminal = Terminal.objects.get(name="command-1")
    terminal.user = user
    terminal.save(update_fields=["user"])
    return user


def test_a_dispatcher_logs_in_and_lands_on_the_command_console_link(live_hub, dispatcher):
    with chromium() as browser:
        page = browser.new_page(locale="zh-CN")
        page.goto(f"{live_hub.http_url}/")
        assert "/login/" in page.url
        assert page.locator("h1").inner_text() == "登录"
        page.screenshot(path=screenshot_path("login-zh"))
        page.fill("#id_username", "dispatcher")
        page.fill("#id_password", "wrong")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "用户名或密码不正确" in page.locator("p.error").inner_text()
        page.fill("#id_username", "dispatcher")
        page.fill("#id_password", "correct horse battery")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.wait_for_selector("[data-testid=terminal-name]")
        assert page.locator("[data-testid=terminal-name]").inner_text() == "command-1"
        assert page.locator("[data-testid=roles]").inner_text() == "dispatcher"
        assert page.locator("[data-testid=open-screen]").get_attribute("href") == "/command/"
        page.screenshot(path=screenshot_path("home-dispatcher-zh"))
        page.select_option("#language-select", "en")
        page.wait_for_function("document.documentElement.lang === 'en'")
        assert "Welcome" in page.locator("h1").inner_text()
        page.screenshot(path=screenshot_path("home-dispatcher-en"))
