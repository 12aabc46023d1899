"""The ambulance app asks for an expert with the casualty's consent to record: the crew's
browser uplink goes to the expert console and to the aiortc bridge, whose recording of it
joins the casualty's record."""

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from ambulance.services import transport_assign
from field_terminal.models import CasualtyMedia
from hub.models import Terminal
from hub.services import terminal_token_issue
from teleconsult.models import ConsultParticipant, ExpertSpecialty
from tests.command_center.browser.screens import (
    WireTerminal,
    in_thread,
    log_in_and_open,
    user_for_terminal,
)
from tests.conftest import casualty_report_data
from tests.support.browser import chromium, screenshot_path

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[3]


class BridgeProcess:
    """`manage.py media_bridge` in a process of its own, as it is deployed: its decoding and
    re-encoding must not compete with the test for one interpreter."""

    def __init__(self, env: dict[str, str], ws_url: str, http_url: str, token: str) -> None:
        self.command = [sys.executable, str(ROOT / "manage.py"), "media_bridge",
                        "--hub", ws_url, "--http", http_url]
        self.env = {**env, "MEDIA_BRIDGE_TOKEN": token}
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "BridgeProcess":
        self.process = subprocess.Popen(self.command, env=self.env, cwd=ROOT)
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(15)


def wait_for_recording(casualty: str, timeout: float) -> CasualtyMedia:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attached = in_thread(lambda: CasualtyMedia.objects.select_related("media")
                             .filter(casualty_id=casualty, media__kind="video").first())
        if attached is not None:
            return attached
        time.sleep(0.5)
    raise AssertionError(f"no recording attached to {casualty} within {timeout} s")


def bridge_joined(consult: str) -> bool:
    return ConsultParticipant.objects.filter(consult_id=consult, role="bridge").exists()


@pytest.fixture
def assigned(live_hub: Any, roles: Any) -> dict[str, Any]:
    user_for_terminal("crew", "amb-WZ01")
    user_for_terminal("doctor", "expert-1")
    ExpertSpecialty.objects.create(terminal=Terminal.objects.get(name="expert-1"),
                                   specialty="emergency")
    field = WireTerminal(live_hub.ws_url, roles.field)
    report = casualty_report_data(tag="A-9", category="red", complaint="chest pain")
    field.send("casualty.report", "event:wic-test", report)
    field.close()
    transport_assign(casualty_id=report["casualty"], callsign="WZ01", hospital_code="TX1",
                     assigned_by="command-1")
    token = terminal_token_issue(kind="command", name="media-bridge").token
    return {"casualty": report["casualty"], "bridge_token": token}


def _duration_seconds(path: str) -> float:
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type",
         "-of", "json", path], capture_output=True, text=True, check=True, timeout=30)
    info = json.loads(probe.stdout)
    assert {s["codec_type"] for s in info["streams"]} == {"audio", "video"}
    return float(info["format"]["duration"])


def test_the_crews_consult_is_seen_by_the_expert_and_recorded_by_the_bridge(
        live_hub, hub_env, assigned):
    with BridgeProcess(hub_env, live_hub.ws_url, live_hub.http_url, assigned["bridge_token"]), \
            chromium(fake_media=True) as browser:
        contexts = [browser.new_context(locale="en-GB", viewport={"width": 1400, "height": 1300},
                                        permissions=["camera", "microphone", "geolocation"],
                                        geolocation={"latitude": 30.7425, "longitude": 120.488})
                    for _ in range(2)]
        expert, crew = (context.new_page() for context in contexts)
        log_in_and_open(expert, live_hub.http_url, "doctor", "/expert/")
        log_in_and_open(crew, live_hub.http_url, "crew", "/ambulance/")
        panel = crew.get_by_test_id("consult-panel")
        expect(panel.get_by_test_id("consult-casualty")).to_contain_text("A-9")
        crew.get_by_test_id("monitor-start").click()
        panel.locator("#consult-specialty").select_option("emergency")
        panel.locator("#consult-reason").fill("ST elevation on the monitor?")
        panel.locator("input[name=record]").check()
        panel.get_by_test_id("consult-request-send").click()
        expect(panel.get_by_test_id("consult-recording")).to_be_visible(timeout=20000)

        request = expert.locator("[data-testid=queue] li[data-consult]")
        expect(request).to_contain_text("ST elevation")
        consult = request.get_attribute("data-consult") or ""
        assert in_thread(bridge_joined, consult)
        request.get_by_role("button", name="Join").click()
        for page, video in ((expert, "remote-video"), (crew, "consult-remote-video")):
            page.wait_for_function(
                f"() => document.querySelector('[data-testid={video}]').videoWidth > 0",
                timeout=30000)
        expect(expert.get_by_test_id("recording")).to_be_visible()
        # The monitor the crew started streams into the record the expert watches.
        expect(expert.get_by_test_id("vitals-last")).to_contain_text("HR")
        time.sleep(4)  # seconds of the crew's uplink for the recording
        crew.screenshot(path=screenshot_path("ambulance-consult-en"), full_page=True)
        panel.get_by_test_id("consult-end").click()
        # The crew's socket also carries the monitor's ten frames a second: allow for a queue.
        expect(panel).to_have_attribute("data-state", "ended", timeout=20000)
        expect(expert.get_by_test_id("consult")).to_have_attribute("data-state", "ended")
        attached = wait_for_recording(assigned["casualty"], 60)

    assert consult in attached.caption
    assert _duration_seconds(attached.media.file.path) >= 3.0
