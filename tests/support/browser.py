"""Headless Debian Chromium driven by Playwright (no browser download: executable_path)."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
# A camera and a microphone that need no hardware (a test pattern with a moving timer, and
# a beep), and a permission prompt that accepts by itself; without it a headless prompt is
# dismissed, which the page sees as the user refusing.
FAKE_DEVICE_ARG = "--use-fake-device-for-media-stream"
ACCEPT_PROMPT_ARG = "--use-fake-ui-for-media-stream"


@contextmanager
def chromium(*, fake_media: bool = False, media_prompt_accepted: bool = True
             ) -> Iterator[Browser]:
    """`fake_media`: opt in to the fake camera and microphone (off by default)."""
    args = list(CHROMIUM_ARGS)
    if fake_media:
        args += [FAKE_DEVICE_ARG, *([ACCEPT_PROMPT_ARG] if media_prompt_accepted else [])]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=args)
        try:
            yield browser
        finally:
            browser.close()


def screenshot_path(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")
