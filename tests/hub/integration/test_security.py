"""On a live hub: every page carries the CSP and Permissions-Policy, and failed logins are
limited per user name and address."""

import re

import pytest
import requests
from django.contrib.auth.models import User

from hub.security import tile_source


def test_a_page_carries_the_content_security_policy(live_hub):
    response = requests.get(f"{live_hub.http_url}/login/", timeout=5)
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy
    assert "connect-src 'self' ws: wss:" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["Permissions-Policy"] == (
        "camera=(self), microphone=(self), geolocation=(self)")
    assert response.headers["X-Frame-Options"] == "DENY"
    # The pages themselves carry no inline script the policy would block.
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", response.text)
    assert " onchange=" not in response.text


@pytest.mark.parametrize(("template", "source"), [
    ("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png", "https://*.tile.openstreetmap.org"),
    ("http://tiles.local:8080/{z}/{x}/{y}.png", "http://tiles.local:8080"),
    ("", None),
])
def test_the_tile_host_is_allowed_for_images(template, source):
    assert tile_source(template) == source


def _login(session: requests.Session, hub, username: str, password: str) -> requests.Response:
    session.get(f"{hub.http_url}/login/", timeout=5)
    return session.post(f"{hub.http_url}/login/", timeout=5, data={
        "username": username, "password": password,
        "csrfmiddlewaretoken": session.cookies["csrftoken"],
    }, headers={"Referer": f"{hub.http_url}/login/"})


def test_five_wrong_passwords_lock_the_user_name_out_even_with_the_right_one(live_hub,
                                                                            transactional_db):
    User.objects.create_user("medic7", password="correct horse battery")
    User.objects.create_user("medic8", password="correct horse battery")
    session = requests.Session()
    for _ in range(5):
        response = _login(session, live_hub, "medic7", "wrong")
        assert "用户名或密码不正确" in response.text
    locked = _login(session, live_hub, "Medic7", "correct horse battery")
    assert "登录失败次数过多" in locked.text and "15 分钟" in locked.text
    assert "sessionid" not in session.cookies
    # Another user from the same address is not locked out.
    other = _login(requests.Session(), live_hub, "medic8", "correct horse battery")
    assert other.url.rstrip("/") == live_hub.http_url
    assert "登录失败次数过多" not in other.text


def test_a_successful_login_clears_the_failures(live_hub, transactional_db):
    User.objects.create_user("medic9", password="correct horse battery")
    for _ in range(4):
        _login(requests.Session(), live_hub, "medic9", "wrong")
    assert _login(requests.Session(), live_hub, "medic9", "correct horse battery"
                  ).url.rstrip("/") == live_hub.http_url
    for _ in range(4):
        assert "登录失败次数过多" not in _login(requests.Session(), live_hub, "medic9",
                                               "wrong").text
