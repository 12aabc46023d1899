"""The expert console and the field tablet in real Chromium with fake camera and microphone:
a consult from request to end, with the video actually flowing both ways."""

import random
import struct
import time
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, FilePayload, Geolocation, Page, expect

from field_terminal.models import CasualtyNote
from hub.models import Terminal
from hub.services import terminal_token_issue
from teleconsult.models import Consult, ExpertSpecialty
from tests.command_center.browser.screens import (
    WireTerminal,
    in_thread,
    log_in_and_open,
    user_for_terminal,
)
from tests.conftest import casualty_report_data
from tests.support.browser import SCREENSHOTS, chromium, screenshot_path

pytestmark = pytest.mark.browser

SCENE: Geolocation = {"latitude": 30.7431, "longitude": 120.4870, "accuracy": 8}
# The measured figures, written next to the screenshots for the closing note.
MEASURED: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def measurements() -> Iterator[None]:
    yield
    if MEASURED:
        path = SCREENSHOTS.parent / "teleconsult-measurements.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{name}: {value}\n" for name, value in MEASURED.items()))


@pytest.fixture
def staff(roles: Any) -> None:
    user_for_terminal("medic", "medic-1")
    user_for_terminal("doctor", "expert-1")
    ExpertSpecialty.objects.create(terminal=Terminal.objects.get(name="expert-1"),
                                   specialty="trauma")


def open_page(browser: Browser, base_url: str, username: str, path: str, *,
              locale: str = "en-GB", media: bool = True) -> Page:
    permissions = ["geolocation", "camera", "microphone"] if media else []
    context = browser.new_context(locale=locale, viewport={"width": 1500, "height": 1100},
                                  permissions=permissions, geolocation=SCENE)
    page = context.new_page()
    log_in_and_open(page, base_url, username, path)
    return page


def report_on_tablet(page: Page, tag: str) -> None:
    page.click("[data-start-method='START']")
    page.click("#wizard-options [data-answer='yes']")
    page.fill("#tag", tag)
    expect(page.get_by_test_id("location-status")).to_have_attribute("data-source", "gps")
    page.click("#report-send")
    page.get_by_test_id("my-casualties").locator("button").first.click()
    expect(page.get_by_test_id("record-items").locator("li").first).to_have_attribute(
        "data-state", "saved")


def video_playing(page: Page, testid: str, timeout_ms: int = 30000) -> None:
    page.wait_for_function(
        f"() => {{ const v = document.querySelector('[data-testid={testid}]');"
        " return v && v.videoWidth > 0 && !v.paused && v.currentTime > 0; }",
        timeout=timeout_ms)


def noise_png(width: int, height: int) -> bytes:
    """A real PNG of random pixels (incompressible, so its upload has bytes to report)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + random.randbytes(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 1))
            + chunk(b"IEND", b""))


def inbound_bytes(page: Page, testid: str) -> int:
    return int(page.get_by_test_id(testid).get_attribute("data-bytes") or 0)


def test_a_field_request_reaches_the_expert_who_joins_advises_and_ends_with_video_both_ways(
        live_hub, roles, staff):
    wire = WireTerminal(live_hub.ws_url, roles.field)
    try:
        with chromium(fake_media=True) as browser:
            expert = open_page(browser, live_hub.http_url, "doctor", "/expert/")
            expect(expert.get_by_test_id("queue")).to_contain_text(
                "No open requests for your specialties")
            field = open_page(browser, live_hub.http_url, "medic", "/field/")
            report_on_tablet(field, "TC-1")
            panel = field.get_by_test_id("consult-panel")
            expect(panel.get_by_test_id("consult-casualty")).to_contain_text("TC-1")
            panel.locator("#consult-specialty").select_option("trauma")
            panel.locator("#consult-urgency").select_option("immediate")
            panel.locator("#consult-reason").fill("open femur fracture, pale and sweaty")

            requested = time.perf_counter()
            panel.get_by_test_id("consult-request-send").click()
            request = expert.locator("[data-testid=queue] li[data-consult]")
            expect(request).to_have_count(1)
            MEASURED["request to the expert's queue"] = (
                f"{(time.perf_counter() - requested) * 1000:.0f} ms")
            expect(request).to_have_attribute("data-urgency", "immediate")
            expect(request).to_contain_text("open femur fracture")
            expect(request).to_contain_text("Minor")  # the casualty's triage: green walker
            expect(request).to_have_attribute("data-exercise", "false")  # a real event
            expect(request.get_by_test_id("exercise-mark")).to_be_hidden()
            expect(expert.get_by_test_id("new-request")).to_be_visible()
            expect(panel).to_have_attribute("data-state", "offered")
            expect(field.get_by_test_id("consult-local-video")).to_be_visible()
            consult_id = request.get_attribute("data-consult") or ""

            joined = time.perf_counter()
            request.get_by_role("button", name="Join").click()
            expect(panel).to_have_attribute("data-state", "joined")
            video_playing(expert, "remote-video")
            video_playing(field, "consult-remote-video")
            MEASURED["join to remote video playing on both sides"] = (
                f"{(time.perf_counter() - joined) * 1000:.0f} ms")
            expect(expert.get_by_test_id("peer-state")).to_have_attribute("data-state",
                                                                          "connected")
            expect(field.get_by_test_id("consult-peer")).to_have_attribute("data-state",
                                                                           "connected")
            expect(expert.get_by_test_id("media-problem")).to_be_hidden()

            # Inbound RTP bytes (getStats) keep growing on both sides: media flows, not
            # just a first frame.
            expert.wait_for_function(
                "() => Number(document.querySelector('[data-testid=received]')"
                ".dataset.bytes || 0) > 0")
            field.wait_for_function(
                "() => Number(document.querySelector('[data-testid=consult-received]')"
                ".dataset.bytes || 0) > 0")
            before = (inbound_bytes(expert, "received"), inbound_bytes(field, "consult-received"))
            started = time.perf_counter()
            time.sleep(2.5)
            after = (inbound_bytes(expert, "received"), inbound_bytes(field, "consult-received"))
            elapsed = time.perf_counter() - started
            assert after[0] > before[0] and after[1] > before[1], (before, after)
            MEASURED["inbound rate at the expert"] = (
                f"{(after[0] - before[0]) * 8 / elapsed / 1000:.0f} kbit/s")

            expect(expert.get_by_test_id("recording")).to_be_hidden()  # no consent asked

            # A reload of the tablet takes a fresh seat in the consult and calls again.
            field.reload()
            expect(field.get_by_test_id("connection")).to_have_attribute("data-state", "open")
            rejoined = time.perf_counter()
            field.get_by_test_id("my-casualties").locator("button").first.click()
            expect(panel).to_have_attribute("data-state", "joined")
            video_playing(field, "consult-remote-video")
            expert.wait_for_function(
                "() => document.querySelector('[data-testid=remote-video]').srcObject"
                ".getVideoTracks().some((track) => track.readyState === 'live' && !track.muted)")
            MEASURED["tablet reload to video again"] = (
                f"{(time.perf_counter() - rejoined) * 1000:.0f} ms after the page was open")

            # The casualty's vitals, streamed by the crew, show beside the video.
            casualty = in_thread(lambda: str(Consult.objects.get(pk=consult_id).casualty_id))
            wire.send("vitals", f"casualty:{casualty}",
                      {"t": datetime.now(UTC).isoformat(), "hr": 128, "spo2": 91, "sbp": 88})
            expect(expert.get_by_test_id("vitals-last")).to_contain_text("HR 128")
            beat = [0.0] * 40 + [0.2, 1.2, -0.3] + [0.0] * 30 + [0.25] * 15 + [0.0] * 37
            wire.send("waveform", f"casualty:{casualty}", {
                "t0": datetime.now(UTC).isoformat(), "hz": 250, "signal": "ecg_ii",
                "unit": "mV", "samples": beat * 6})
            # The strip is drawn: dark trace pixels on the pink paper.
            expert.wait_for_function(
                "() => { const c = document.querySelector('[data-testid=ecg]');"
                " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                " let dark = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 80) dark += 1;"
                " return dark > 100; }")

            field.get_by_test_id("consult-chat").locator("input").fill("BP dropping")
            field.get_by_test_id("consult-chat").locator("input").press("Enter")
            expect(expert.get_by_test_id("messages")).to_contain_text("BP dropping")

            expert.locator("#advice-text").fill("Traction splint, two large-bore IVs, permissive hypotension.")
            expert.get_by_test_id("advice-form").get_by_role("button").click()
            advice = field.get_by_test_id("consult-messages").locator("[data-kind=advice]")
            expect(advice).to_contain_text("Traction splint")
            expect(advice).to_contain_text("expert-1")

            # The expert's own image: uploaded with a progress bar, then on the consult topic
            # it reaches the crew; a file that is no image gets a clear error.
            expert.locator("#image-caption").fill("Splint position")
            image: FilePayload = {"name": "splint.png", "mimeType": "image/png",
                                  "buffer": noise_png(300, 300)}
            expert.get_by_test_id("image-file").set_input_files(files=[image])
            expect(expert.get_by_test_id("image-status")).to_have_attribute("data-state",
                                                                            "shared")
            assert expert.get_by_test_id("image-progress").evaluate("bar => bar.value") == 100
            expect(expert.get_by_test_id("image-progress")).to_be_visible()
            expect(expert.get_by_test_id("images").locator("img")).to_have_count(1)
            expect(expert.get_by_test_id("images").locator("img")).to_have_attribute(
                "alt", "Splint position")
            shared = field.get_by_test_id("consult-messages").locator("img")
            expect(shared).to_have_attribute("alt", "Splint position")
            field.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=consult-messages] img')]"
                ".some((img) => img.complete && img.naturalWidth === 300)")
            not_an_image: FilePayload = {"name": "notes.png", "mimeType": "image/png",
                                         "buffer": b"just some text"}
            expert.get_by_test_id("image-file").set_input_files(files=[not_an_image])
            status = expert.get_by_test_id("image-status")
            expect(status).to_have_attribute("data-state", "failed")
            expect(status).to_contain_text("Upload failed: file: is not an accepted image")
            expect(expert.get_by_test_id("image-progress")).to_be_hidden()

            expert.screenshot(path=screenshot_path("expert-console-en"), full_page=True)
            field.screenshot(path=screenshot_path("field-tablet-consult-en"), full_page=True)

            # A reload of the console rejoins the consult it sat in and calls the crew again.
            expert.reload()
            expect(expert.get_by_test_id("connection")).to_have_attribute("data-state", "open")
            reloaded = time.perf_counter()
            expect(expert.get_by_test_id("consult")).to_have_attribute("data-state", "joined")
            expect(expert.get_by_test_id("consult")).to_have_attribute("data-consult",
                                                                       consult_id)
            video_playing(expert, "remote-video")
            expect(expert.get_by_test_id("peer-state")).to_have_attribute("data-state",
                                                                          "connected")
            MEASURED["console reload to video again"] = (
                f"{(time.perf_counter() - reloaded) * 1000:.0f} ms after the page was open")
            # What was said and shown before is read again from the consult topic.
            expect(expert.get_by_test_id("images").locator("img")).to_have_count(1)
            expect(expert.get_by_test_id("messages")).to_contain_text("BP dropping")

            expert.locator("#end-summary").fill("Splinted, transport to trauma centre.")
            ending = time.perf_counter()
            expert.get_by_test_id("end-form").get_by_role("button").click()
            expect(expert.get_by_test_id("consult")).to_have_attribute("data-state", "ended")
            expect(panel).to_have_attribute("data-state", "ended")
            MEASURED["end to both sides closed"] = f"{(time.perf_counter() - ending) * 1000:.0f} ms"
            expect(panel.get_by_test_id("consult-peer")).to_have_attribute("data-state", "closed")
            expect(panel.get_by_test_id("consult-messages")).to_contain_text("Ended by expert-1")
            expect(expert.locator("[data-testid=queue] li[data-consult]")).to_have_count(0)
            field.wait_for_function(
                "() => document.querySelector('[data-testid=consult-remote-video]').srcObject"
                " === null && document.querySelector('[data-testid=consult-local-video]')"
                ".srcObject === null")
    finally:
        wire.close()

    consult = in_thread(lambda: Consult.objects.get(pk=consult_id))
    notes = in_thread(lambda: list(CasualtyNote.objects.filter(casualty_id=consult.casualty_id)
                                   .order_by("journal_seq").values_list("author", "text")))
    assert consult.status == "ended"
    assert ("medic-1", "BP dropping") in notes
    assert ("expert-1", "Traction splint, two large-bore IVs, permissive hypotension.") in notes
    assert notes[-1] == ("expert-1", "Splinted, transport to trauma centre.")


def test_the_console_in_chinese_marks_a_drill_sorts_by_urgency_drops_a_taken_request_live(
        live_hub, roles, staff):
    roles.event.is_exercise = True
    roles.event.save(update_fields=["is_exercise"])
    colleague = terminal_token_issue(kind="expert", name="expert-2").token
    ExpertSpecialty.objects.create(terminal=Terminal.objects.get(name="expert-2"),
                                   specialty="trauma")
    crew = WireTerminal(live_hub.ws_url, roles.field)
    other_expert = WireTerminal(live_hub.ws_url, colleague)
    try:
        casualty = casualty_report_data(category="red")
        crew.send("casualty.report", "event:wic-test", casualty)
        topic = f"casualty:{casualty['casualty']}"
        routine, immediate = str(uuid.uuid4()), str(uuid.uuid4())
        crew.send("consult.request", topic, {"consult": routine, "specialty": "trauma",
                                             "urgency": "routine", "reason": "wound check"})
        with chromium(fake_media=True, media_prompt_accepted=False) as browser:
            expert = open_page(browser, live_hub.http_url, "doctor", "/expert/",
                               locale="zh-CN", media=False)
            # The REST refresh is cut off: what leaves the queue below can only go live.
            expert.route("**/api/v1/consults/queue", lambda route: route.abort())
            queue = expert.locator("[data-testid=queue] li[data-consult]")
            expect(queue).to_have_count(1)
            # A newer but more urgent request arrives live and goes to the top.
            crew.send("consult.request", topic, {"consult": immediate, "specialty": "trauma",
                                                 "urgency": "immediate", "reason": "airway"})
            expect(queue).to_have_count(2)
            expect(queue.first).to_have_attribute("data-consult", immediate)
            expect(queue.nth(1)).to_have_attribute("data-consult", routine)
            expect(expert.get_by_test_id("new-request")).to_be_visible()
            expect(expert.get_by_test_id("new-request")).to_contain_text("演练")
            for row in (queue.first, queue.nth(1)):
                expect(row).to_have_attribute("data-exercise", "true")
                expect(row.get_by_test_id("exercise-mark")).to_have_text("演练 EXERCISE")
            expect(expert.get_by_test_id("connection")).not_to_contain_text("Hub")
            expert.get_by_test_id("mute").click()
            expect(expert.get_by_test_id("mute")).to_have_attribute("aria-pressed", "true")

            # Another expert takes the routine request: it leaves this queue at once.
            other_expert.send("consult.join", f"consult:{routine}", {})
            expect(queue).to_have_count(1, timeout=5000)
            expect(queue.first).to_have_attribute("data-consult", immediate)
            expect(expert.get_by_test_id("queue-feedback")).to_contain_text("expert-2")

            queue.first.get_by_role("button").click()
            expect(expert.get_by_test_id("consult-exercise")).to_be_visible()
            expect(expert.get_by_test_id("consult-exercise")).to_contain_text("演练伤员")
            problem = expert.get_by_test_id("media-problem")
            expect(problem).to_be_visible()
            expect(problem).to_contain_text("摄像头和麦克风的使用被拒绝")
            crew.send("vitals", topic, {"t": datetime.now(UTC).isoformat(), "hr": 140})
            expect(expert.get_by_test_id("vitals-last")).to_contain_text("140")
            expert.screenshot(path=screenshot_path("expert-console-zh"), full_page=True)
    finally:
        crew.close()
        other_expert.close()
