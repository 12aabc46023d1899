"""Shared by the console and receiving-screen browser tests: users, login, a wire terminal."""

import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.db import connections
from playwright.sync_api import Browser, Page
from websockets.sync.client import ClientConnection, connect

from hub.models import Terminal

PASSWORD = "correct horse battery"
T = TypeVar("T")


def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """ORM work while Playwright's sync API runs its event loop in this thread."""

    def run() -> T:
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def user_for_terminal(username: str, terminal_name: str) -> User:
    user = User.objects.create_user(username, password=PASSWORD)
    terminal = Terminal.objects.get(name=terminal_name)
    terminal.user = user
    terminal.save(update_fields=["user"])
    return user


def open_screen(browser: Browser, base_url: str, username: str, path: str,
                locale: str = "en-GB") -> Page:
    """Log in in a fresh browser context and open `path`, waiting for the live connection."""
    context = browser.new_context(locale=locale, viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    log_in_and_open(page, base_url, username, path)
    return page


def log_in_and_open(page: Page, base_url: str, username: str, path: str) -> None:
    page.goto(f"{base_url}/login/?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=connection][data-state=open]", timeout=10000)


class WireTerminal:
    """A device on the bare wire (no Origin, token hello), synchronous for browser tests."""

    def __init__(self, url: str, token: str) -> None:
        # Entered by hand: the terminal lives across a test, not inside one with-block.
        self._opened = connect(url, open_timeout=10)
        self.connection: ClientConnection = self._opened.__enter__()
        assert self.request({"type": "hello", "id": f"hello-{uuid.uuid4()}",
                             "data": {"token": token}})["type"] == "welcome"

    def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        self.connection.send(json.dumps(frame))
        while True:
            reply = json.loads(self.connection.recv(timeout=10))
            if reply.get("id") == frame["id"] and reply["type"] in ("welcome", "ack", "error"):
                return reply

    def send(self, type: str, topic: str, data: dict[str, Any]) -> dict[str, Any]:
        reply = self.request({"type": type, "id": str(uuid.uuid4()), "topic": topic,
                              "data": data})
        assert reply["type"] == "ack", reply
        return reply

    def close(self) -> None:
        self._opened.__exit__(None, None, None)
