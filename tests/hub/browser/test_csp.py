"""Every screen under the hub's Content-Security-Policy in headless Chromium: each page is
served with the header, and no `securitypolicyviolation` event and no console CSP error
happens while it loads and runs.

The violations are reported to the test through an exposed function added before any page
script runs, so a violation on a page that navigates on is not lost with its window.
"""

from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page

from tests.command_center.browser.screens import PASSWORD, user_for_terminal
from tests.support.browser import chromium, screenshot_path

pytestmark = pytest.mark.browser

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation([event.violatedDirective, event.blockedURI,
                             event.sourceFile + ":" + event.lineNumber, event.sample].join(" | "));
});
"""

# (user, path, a selector that shows the screen's scripts ran)
LIVE_SCREENS = [
    ("csp-dispatcher", "/command/", "[data-testid=connection][data-state=open]"),
    ("csp-medic", "/field/", "[data-testid=connection][data-state=open]"),
    ("csp-crew", "/ambulance/", "[data-testid=connection][data-state=open]"),
    ("csp-nurse", "/hospital/", "[data-testid=connection][data-state=open]"),
    ("csp-expert", "/expert/", "[data-testid=connection][data-state=open]"),
]
STAFF_PAGES = [
    ("/", "[data-testid=terminal-name]"),
    ("/api/docs/", ".swagger-ui .information-container"),
    ("/admin/", "#content"),
    ("/admin/hub/auditentry/", "#changelist"),
    ("/admin/hub/auditentry/verify/", "#content"),
    ("/admin/auth/user/add/", "#user_form"),
    ("/admin/hospital_intake/hospital/", "#changelist"),
]


@pytest.fixture
def users(roles: Any) -> None:
    for username, terminal in (("csp-dispatcher", "command-1"), ("csp-medic", "medic-1"),
                               ("csp-crew", "amb-WZ01"), ("csp-nurse", "screen-TX1"),
                               ("csp-expert", "expert-1")):
        user_for_terminal(username, terminal)
    User.objects.filter(username="csp-dispatcher").update(is_staff=True, is_superuser=True)


def _watched_page(browser: Browser, violations: list[str]) -> Page:
    context = browser.new_context(locale="en-GB", viewport={"width": 1400, "height": 900})
    context.expose_function("reportCspViolation", lambda text: violations.append(text))
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()

    def on_console(message: Any) -> None:
        text = message.text
        if message.type == "error" and ("Content Security Policy" in text
                                        or "Refused to" in text):
            violations.append(f"console: {text}")

    def on_response(response: Any) -> None:
        # A page served without the header would pass the checks above for nothing.
        if (response.request.resource_type == "document"
                and "content-security-policy" not in response.headers):
            violations.append(f"no Content-Security-Policy header: {response.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    return page


def _log_in(page: Page, base_url: str, username: str, path: str) -> None:
    page.goto(f"{base_url}/login/?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def _settled(page: Page, ready: str, name: str) -> None:
    page.wait_for_selector(ready, timeout=15000)
    # Scripts that run after the first paint (map tiles, charts, late style changes).
    page.wait_for_timeout(750)
    page.screenshot(path=screenshot_path(f"csp-{name}"))


def _staff_pages(browser: Browser, base_url: str, pages: list[tuple[str, str]]
                 ) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    violations: list[str] = []
    page = _watched_page(browser, violations)
    _log_in(page, base_url, "csp-dispatcher", "/")
    for path, ready in pages:
        before = len(violations)
        page.goto(f"{base_url}{path}")
        _settled(page, ready, path.strip("/").replace("/", "-") or "home")
        found[path] = violations[before:]
    page.context.close()
    return found


def test_no_screen_violates_the_content_security_policy(live_hub, users):
    found: dict[str, list[str]] = {}
    with chromium() as browser:
        violations: list[str] = []
        page = _watched_page(browser, violations)
        page.goto(f"{live_hub.http_url}/login/")
        _settled(page, "#id_username", "login")
        found["/login/"] = violations
        page.context.close()

        for username, path, ready in LIVE_SCREENS:
            violations = []
            page = _watched_page(browser, violations)
            _log_in(page, live_hub.http_url, username, path)
            _settled(page, ready, path.strip("/"))
            found[path] = violations
            page.context.close()

        found |= _staff_pages(browser, live_hub.http_url, STAFF_PAGES)
    assert {path: seen for path, seen in found.items() if seen} == {}
    assert len(found) == 1 + len(LIVE_SCREENS) + len(STAFF_PAGES)


def test_admin_geometry_form_draws_its_map_within_the_content_security_policy(live_hub, roles,
                                                                             users):
    with chromium() as browser:
        found = _staff_pages(browser, live_hub.http_url, [
            (f"/admin/hospital_intake/hospital/{roles.hospital.pk}/change/",
             "#hospital_form .geometry-widget .leaflet-marker-icon")])
    assert {path: seen for path, seen in found.items() if seen} == {}
