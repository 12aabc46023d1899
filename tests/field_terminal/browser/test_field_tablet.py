"""The field tablet in a real browser against a live hub: offline triage, wizards, photos."""

import os
import random
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.db import connections
from playwright.sync_api import BrowserContext, Geolocation, Page, WebSocketRoute, expect

from command_center.models import MedicalPost
from field_terminal.models import Casualty, CasualtyMedia
from hub.models import JournalEntry, Terminal
from tests.support.browser import SCREENSHOTS, chromium, screenshot_path

pytestmark = pytest.mark.browser

PASSWORD = "field medic password 42"
SCENE: Geolocation = {"latitude": 30.7431, "longitude": 120.4870, "accuracy": 8}
T = TypeVar("T")
# The measured figures, printed at the end of the session for the closing note.
MEASURED: dict[str, str] = {}


def orm(query: Callable[[], T]) -> T:
    """Run ORM code off the thread where Playwright's event loop runs (Django refuses it)."""
    def run() -> T:
        try:
            return query()
        finally:
            connections.close_all()
    with ThreadPoolExecutor(1) as executor:
        return executor.submit(run).result()


class Network:
    """Cuts the tablet's network: HTTP through Playwright's offline mode, and the open
    WebSocket by hand, which offline mode leaves alone (microsoft/playwright#4910)."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.offline = False
        self.sockets: list[tuple[WebSocketRoute, WebSocketRoute]] = []
        context.route_web_socket("**/ws/terminal/", self._route)

    def _route(self, route: WebSocketRoute) -> None:
        if self.offline:
            route.close(code=1006)
            return
        self.sockets.append((route, route.connect_to_server()))

    def cut(self) -> None:
        self.offline = True
        self.context.set_offline(True)
        for page_side, server_side in self.sockets:
            server_side.close()
            page_side.close(code=1006)
        self.sockets.clear()

    def restore(self) -> None:
        self.offline = False
        self.context.set_offline(False)


@pytest.fixture(scope="module", autouse=True)
def measurements() -> Iterator[None]:
    yield
    if MEASURED:
        path = SCREENSHOTS.parent / "field-tablet-measurements.txt"
        path.write_text("".join(f"{name}: {value}\n" for name, value in MEASURED.items()))


@pytest.fixture
def medic(roles: Any) -> User:
    user = User.objects.create_user("medic", password=PASSWORD)
    Terminal.objects.filter(name="medic-1").update(user=user)
    MedicalPost.objects.create(event=roles.event, code="MP1", name="Main hall medical post",
                               name_zh="主会场医疗点", location=Point(120.487, 30.7431, srid=4326))
    return user


@pytest.fixture
def tablet(live_hub: Any, medic: User) -> Iterator[tuple[Network, Page]]:
    with chromium() as browser:
        context = browser.new_context(locale="en-US", permissions=["geolocation"],
                                      geolocation=SCENE, viewport={"width": 800, "height": 1280})
        network = Network(context)
        page = context.new_page()
        page.goto(f"{live_hub.http_url}/login/?next=/field/")
        page.fill("#id_username", "medic")
        page.fill("#id_password", PASSWORD)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "open")
        yield network, page
        context.close()


class Taps:
    """Counts the medic's taps, so the fast paths' tap counts are measured, not assumed."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.count = 0

    def tap(self, selector: str) -> None:
        self.page.click(selector)
        self.count += 1

    def answer(self, question: str, answer: str) -> None:
        expect(self.page.get_by_test_id("wizard-question")).to_have_attribute("data-question", question)
        self.tap(f"#wizard-options [data-answer='{answer}']")


def triage(page: Page, method: str, path: list[tuple[str, str]]) -> tuple[str, int]:
    """Walk a wizard path from the start screen; returns the proposed category and the taps."""
    taps = Taps(page)
    taps.tap(f"[data-start-method='{method}']")
    for question, answer in path:
        taps.answer(question, answer)
    expect(page.get_by_test_id("proposal")).to_be_visible()
    return page.get_by_test_id("proposal").get_attribute("data-category") or "", taps.count


def report(page: Page, method: str, path: list[tuple[str, str]], tag: str | None = None
           ) -> tuple[str, int, float]:
    started = time.perf_counter()
    category, taps = triage(page, method, path)
    if tag is not None:
        page.fill("#tag", tag)  # typed with the on-screen keyboard: not a tap on the path
    expect(page.get_by_test_id("location-status")).to_have_attribute("data-source", "gps")
    page.click("#report-send")
    expect(page.locator("#screen-home")).to_be_visible()
    return category, taps + 1, time.perf_counter() - started


GREEN_WALKING = [("walks", "yes")]
BLACK_APNEIC = [("walks", "no"), ("breathing", "no"), ("breathing_after_airway", "no")]
CHILD_FAST_BREATHING = [("walks", "no"), ("breathing", "yes"), ("child_rr", "over_45")]


def casualty_reports(terminal_name: str) -> list[str]:
    return [entry.data["casualty"] for entry in
            JournalEntry.objects.filter(type="casualty.report", sender=terminal_name)]


def test_three_casualties_triaged_offline_reach_the_hub_exactly_once(tablet):
    network, page = tablet
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    network.cut()
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "reconnecting")
    for method, path, tag in [("START", GREEN_WALKING, "T-001"), ("START", BLACK_APNEIC, "T-002"),
                              ("JumpSTART", CHILD_FAST_BREATHING, "T-003")]:
        report(page, method, path, tag)
    rows = page.get_by_test_id("my-casualties").locator(".saved-state")
    expect(rows).to_have_count(3)
    for index in range(3):
        expect(rows.nth(index)).to_have_attribute("data-state", "pending")
    assert orm(lambda: casualty_reports("medic-1")) == []
    # The outbox is IndexedDB, so the frames and the list survive a reload made offline,
    # from the service worker's cache.
    page.reload()
    expect(rows).to_have_count(3)
    for index in range(3):
        expect(rows.nth(index)).to_have_attribute("data-state", "pending")
    page.screenshot(path=screenshot_path("field-offline-pending"))
    restored = time.perf_counter()
    network.restore()
    for index in range(3):
        expect(rows.nth(index)).to_have_attribute("data-state", "saved", timeout=20000)
    MEASURED["offline backlog of 3 saved after the network returned"] = (
        f"{time.perf_counter() - restored:.2f} s")
    page.screenshot(path=screenshot_path("field-offline-saved"))
    reported = orm(lambda: casualty_reports("medic-1"))
    assert len(reported) == 3 and len(set(reported)) == 3
    tags = orm(lambda: sorted(Casualty.objects.filter(reported_by__name="medic-1")
                              .values_list("tag", flat=True)))
    assert tags == ["T-001", "T-002", "T-003"]
    categories = orm(lambda: dict(Casualty.objects.values_list("tag", "category")))
    assert categories == {"T-001": "green", "T-002": "black", "T-003": "red"}
    # Reloading online re-sends nothing: the hub still holds each casualty once.
    page.reload()
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "open")
    expect(rows).to_have_count(3)
    assert len(orm(lambda: casualty_reports("medic-1"))) == 3


# Decision paths through the wizards with the category each published algorithm gives.
WIZARD_TABLE = [
    ("START", GREEN_WALKING, "green"),
    ("START", BLACK_APNEIC, "black"),
    ("START", [("walks", "no"), ("breathing", "no"), ("breathing_after_airway", "yes")], "red"),
    ("START", [("walks", "no"), ("breathing", "yes"), ("rr_over_30", "yes")], "red"),
    ("START", [("walks", "no"), ("breathing", "yes"), ("rr_over_30", "no"),
               ("poor_perfusion", "yes")], "red"),
    ("START", [("walks", "no"), ("breathing", "yes"), ("rr_over_30", "no"),
               ("poor_perfusion", "no"), ("obeys_commands", "no")], "red"),
    ("START", [("walks", "no"), ("breathing", "yes"), ("rr_over_30", "no"),
               ("poor_perfusion", "no"), ("obeys_commands", "yes")], "yellow"),
    ("JumpSTART", GREEN_WALKING, "green"),
    ("JumpSTART", [("walks", "no"), ("breathing", "no"), ("breathing_after_airway", "no"),
                   ("pulse_while_apneic", "no")], "black"),
    ("JumpSTART", [("walks", "no"), ("breathing", "no"), ("breathing_after_airway", "no"),
                   ("pulse_while_apneic", "yes"), ("breathing_after_rescue_breaths", "no")],
     "black"),
    ("JumpSTART", [("walks", "no"), ("breathing", "no"), ("breathing_after_airway", "no"),
                   ("pulse_while_apneic", "yes"), ("breathing_after_rescue_breaths", "yes")],
     "red"),
    ("JumpSTART", CHILD_FAST_BREATHING, "red"),
    ("JumpSTART", [("walks", "no"), ("breathing", "yes"), ("child_rr", "15_to_45"),
                   ("peripheral_pulse", "no")], "red"),
    ("JumpSTART", [("walks", "no"), ("breathing", "yes"), ("child_rr", "15_to_45"),
                   ("peripheral_pulse", "yes"), ("avpu", "P_inappropriate")], "red"),
    ("JumpSTART", [("walks", "no"), ("breathing", "yes"), ("child_rr", "15_to_45"),
                   ("peripheral_pulse", "yes"), ("avpu", "V")], "yellow"),
]


def test_start_and_jumpstart_wizards_propose_the_published_category(tablet):
    _, page = tablet
    for method, path, expected in WIZARD_TABLE:
        category, _taps = triage(page, method, path)
        assert category == expected, (method, path)
        page.click("#report-cancel")
        expect(page.locator("#screen-home")).to_be_visible()


def test_walking_green_and_apneic_black_take_at_most_five_taps(tablet):
    _, page = tablet
    green, green_taps, green_seconds = report(page, "START", GREEN_WALKING)
    black, black_taps, black_seconds = report(page, "START", BLACK_APNEIC)
    assert (green, black) == ("green", "black")
    assert green_taps <= 5 and black_taps <= 5
    rows = page.get_by_test_id("my-casualties").locator(".saved-state")
    for index in range(2):
        expect(rows.nth(index)).to_have_attribute("data-state", "saved")
    MEASURED["walking green (START)"] = f"{green_taps} taps, {green_seconds:.2f} s scripted"
    MEASURED["not breathing after airway black (START)"] = (
        f"{black_taps} taps, {black_seconds:.2f} s scripted")
    assert orm(lambda: Casualty.objects.filter(reported_by__name="medic-1").count()) == 2


def noise_png(width: int, height: int) -> bytes:
    """A real PNG of random pixels: big enough that the upload takes visible time."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + random.randbytes(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 1))
            + chunk(b"IEND", b""))


def test_a_photo_upload_shows_progress_and_becomes_a_media_message(tablet, tmp_path):
    network, page = tablet
    report(page, "START", GREEN_WALKING, "T-PHOTO")
    page.get_by_test_id("my-casualties").locator("button").first.click()
    expect(page.get_by_test_id("record-items").locator("li").first).to_have_attribute(
        "data-state", "saved")
    photo = tmp_path / "wound.png"
    photo.write_bytes(noise_png(900, 900))
    # Throttle the upload to 1.5 MB/s so the progress bar has time to move.
    cdp = network.context.new_cdp_session(page)
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 1_500_000})
    page.fill("#photo-caption", "left forearm laceration")
    page.get_by_test_id("photo-file").set_input_files(str(photo))
    seen: set[int] = set()
    deadline = time.monotonic() + 20
    progress = page.get_by_test_id("photo-progress")
    while time.monotonic() < deadline:
        seen.add(int(progress.evaluate("element => element.value")))
        if page.get_by_test_id("photo-status").inner_text():
            break
        time.sleep(0.05)
    assert any(0 < value < 100 for value in seen), sorted(seen)
    expect(page.get_by_test_id("photo-status")).to_have_text("Uploaded")
    media_item = page.get_by_test_id("record-items").locator("li[data-type='media']")
    expect(media_item).to_have_attribute("data-state", "saved")
    page.screenshot(path=screenshot_path("field-casualty-photo"))
    attachment = orm(lambda: CasualtyMedia.objects.select_related("media", "casualty")
                     .get(casualty__tag="T-PHOTO"))
    assert attachment.caption == "left forearm laceration"
    assert attachment.media.size == os.path.getsize(photo)
    entry = orm(lambda: JournalEntry.objects.get(topic=f"casualty:{attachment.casualty_id}",
                                                 type="media"))
    assert entry.data["kind"] == "image" and entry.data["media"] == str(attachment.media_id)


def test_vitals_outside_the_contract_ranges_are_refused_before_sending(tablet):
    _, page = tablet
    report(page, "START", GREEN_WALKING, "T-VITALS")
    page.get_by_test_id("my-casualties").locator("button").first.click()
    page.get_by_test_id("vital-hr").fill("301")
    page.click("#vitals-form button[type=submit]")
    expect(page.locator("#vitals-error")).to_contain_text("0 to 300")
    page.get_by_test_id("vital-hr").fill("118")
    page.get_by_test_id("vital-spo2").fill("93")
    page.get_by_test_id("vital-gcs").fill("14")
    page.click("#vitals-form button[type=submit]")
    item = page.get_by_test_id("record-items").locator("li[data-type='vitals']")
    expect(item).to_have_attribute("data-state", "saved")
    entry = orm(lambda: JournalEntry.objects.get(type="vitals", sender="medic-1"))
    assert {key: entry.data[key] for key in ("hr", "spo2", "gcs")} == {"hr": 118, "spo2": 93, "gcs": 14}
