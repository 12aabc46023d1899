"""A short drill at high speed against the live hub and a real dispatch worker: every terminal
kind over the real protocol, and nothing of it reaching a real event."""

import asyncio
import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from ambulance.models import Transport, Unit, UnitPosition, UnitStatusChange
from command_center.models import MassEvent
from command_center.selectors import dispatch_instance_for
from command_center.travel import estimated_travel_times
from field_terminal.models import Casualty, TriageAssessment, VitalSigns, WaveformSegment
from hospital_intake.fhir import casualty_bundle
from hospital_intake.models import CapacityReport, Hospital, PreArrivalNotice
from hub.models import JournalEntry, Terminal
from hub.services import terminal_token_issue
from tests.support.hubs import dispatch_worker_process
from tests.support.protocol import connect_terminal

ROOT = Path(__file__).resolve().parents[3]
TRIAGE = {"red": 2, "yellow": 2, "green": 1, "black": 1}


@pytest.fixture(scope="module")
def any_event_dispatch_worker(hub_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A worker for every active event: a drill's event is made by the run itself."""
    with dispatch_worker_process(hub_env, log_name="drill-dispatch-worker.log") as process:
        yield process


def _drill_files(tmp_path: Path) -> Path:
    """A small venue a few km from two hospitals, so a whole drill takes seconds at 150x."""
    scenario = {
        "format": "mci-scenario/1",
        "event": {"slug": "drill-town", "name": "Drill town", "status": "active"},
        "medical_posts": [{"code": "P1", "name": "Post 1", "lat": 30.7431, "lon": 120.487},
                          {"code": "P2", "name": "Post 2", "lat": 30.7418, "lon": 120.4901}],
        "stations": [{"code": "S1", "name": "Station", "lat": 30.7446, "lon": 120.4935}],
        "units": [{"callsign": f"U{i}", "station": "S1", "level": level, "capacity": capacity}
                  for i, (level, capacity) in enumerate(
                      [("ALS", 1), ("ALS", 1), ("ALS", 1), ("BLS", 2)], start=1)],
        "hospitals": [
            {"code": "H1", "name": "Near trauma", "lat": 30.7601, "lon": 120.5012,
             "capabilities": ["trauma", "burns"], "beds": {"red": 4, "yellow": 4, "green": 4}},
            {"code": "H2", "name": "Near general", "lat": 30.7300, "lon": 120.4700,
             "capabilities": ["trauma"], "beds": {"red": 2, "yellow": 4, "green": 6}},
        ],
    }
    (tmp_path / "town.json").write_text(json.dumps(scenario))
    drill = {
        "format": "mci-drill/1", "scenario": "town.json",
        "exercise": {"slug": "town-drill", "name": "Town drill", "name_zh": "小镇演习",
                     "prefix": "TD"},
        "incidents": [{
            "code": "crush", "name": "Crush at post 1", "at_minute": 0, "over_minutes": 1,
            "location": {"lat": 30.7433, "lon": 120.4868}, "spread_m": 20,
            "medical_posts": ["P1", "P2"], "triage": TRIAGE,
            "injuries": {"red": [{"complaint": "traumatic asphyxia", "needs": ["trauma"]}],
                         "yellow": [{"complaint": "rib fractures", "needs": ["trauma"]}],
                         "green": [{"complaint": "bruises"}],
                         "black": [{"complaint": "no breathing after airway opening"}]},
        }],
    }
    path = tmp_path / "town-drill.json"
    path.write_text(json.dumps(drill))
    return path


def _real_picture(event: MassEvent) -> dict:
    return {
        "hospitals": sorted(Hospital.objects.filter(exercise_event__isnull=True).values_list(
            "code", "beds_red", "beds_yellow", "beds_green", "diversion")),
        "capacity_reports": CapacityReport.objects.filter(
            hospital__exercise_event__isnull=True).count(),
        "real_hospital_topics": JournalEntry.objects.filter(
            topic__in=[f"hospital:{c}" for c in ("TX1", "JX1")]).count(),
        "snapshot_hospitals": [h["id"] for h in dispatch_instance_for(
            event, travel=estimated_travel_times()).instance["hospitals"]],
    }


def test_a_drill_drives_every_terminal_kind_and_leaves_real_operations_alone(
    live_hub, roles, any_event_dispatch_worker, tmp_path
):
    before = _real_picture(roles.event)
    assert before["snapshot_hospitals"] == ["JX1", "TX1"]
    started = time.monotonic()
    call_command("run_drill", str(_drill_files(tmp_path)), speed=150, hub=live_hub.ws_url,
                 seed=3, wait_for_hub=5)
    drill_seconds = time.monotonic() - started

    event = MassEvent.objects.get(slug="town-drill-1")
    assert event.is_exercise and event.status == "closed"
    casualties = list(Casualty.objects.filter(event=event))
    assert len(casualties) == sum(TRIAGE.values())
    assert len({c.tag for c in casualties}) == len(casualties)
    first_triage = Counter(
        TriageAssessment.objects.filter(casualty=c).order_by("assessed_at", "id")
        .values_list("category", flat=True)[0] for c in casualties)
    assert first_triage == Counter(TRIAGE)
    assert all(VitalSigns.objects.filter(casualty=c).exists() for c in casualties)
    assert WaveformSegment.objects.filter(casualty__event=event, signal="ecg_ii").exists()

    transports = list(Transport.objects.filter(casualty__event=event).select_related("unit"))
    assert {t.status for t in transports} == {"handed_over"}
    assert len(transports) == sum(TRIAGE.values()) - TRIAGE["black"]
    for unit in {t.unit for t in transports}:
        moves = list(UnitStatusChange.objects.filter(unit=unit).values_list(
            "to_status", flat=True))
        assert moves[:4] == ["dispatched", "on_scene", "transporting", "at_hospital"], moves
        fixes = UnitPosition.objects.filter(unit=unit).values_list("location", flat=True)
        assert len({(p.x, p.y) for p in fixes}) >= 3  # it moved, fix after fix
    notices = PreArrivalNotice.objects.filter(hospital__exercise_event=event)
    assert notices.count() == len(transports)
    assert all(n.received_at is not None and n.acknowledged_at is not None
               and n.acknowledged_at >= n.received_at for n in notices)
    drill_hospitals = Hospital.objects.filter(exercise_event=event)
    assert {h.code for h in drill_hospitals} == {"TD1-H1", "TD1-H2"}
    assert CapacityReport.objects.filter(hospital__in=drill_hospitals).count() == len(transports)
    beds = sum(sum(h.free_beds().values()) for h in drill_hospitals)
    assert beds == 4 + 4 + 4 + 2 + 4 + 6 - len(transports)
    assert not Terminal.objects.filter(name__startswith="town-drill-1.",
                                       revoked_at__isnull=True).exists()

    assert _real_picture(roles.event) == before
    assert not Unit.objects.filter(event=roles.event, status_history__isnull=False).exists()
    assert asyncio.run(_real_console_reaches(live_hub.ws_url, roles.command)) == {
        "hospital:TD1-H1": "forbidden", "hospital:TX1": "ack"}

    # The record carries the exercise mark wherever it goes: REST and FHIR.
    reader = terminal_token_issue(kind="command", name="drill-reader", event=event).token
    listed = requests.get(f"{live_hub.http_url}/api/v1/casualties/", timeout=10,
                          headers={"Authorization": f"Bearer {reader}"}).json()
    assert {f["properties"]["exercise"] for f in listed["features"]} == {True}
    bundle = casualty_bundle(casualties[0], base_url="")
    labels = [bundle["meta"]["security"],
              *(entry["resource"]["meta"]["security"] for entry in bundle["entry"])]
    assert all(label[0]["code"] == "HTEST" for label in labels)
    print(f"drill of {len(casualties)} casualties at 150x: {drill_seconds:.1f} s")


async def _real_console_reaches(url: str, token: str) -> dict[str, str]:
    console = await connect_terminal(url, token)
    try:
        answers = {}
        for topic in ("hospital:TD1-H1", "hospital:TX1"):
            reply = await console.subscribe(topic)
            answers[topic] = reply.get("code", reply["type"])
        return answers
    finally:
        await console.close()


def test_a_rerun_is_a_fresh_run_and_leaves_the_earlier_one_as_it_was(
    live_hub, roles, any_event_dispatch_worker, tmp_path
):
    drill = _drill_files(tmp_path)
    call_command("run_drill", str(drill), speed=150, hub=live_hub.ws_url, minutes=2,
                 wait_for_hub=5)
    first = MassEvent.objects.get(slug="town-drill-1")
    first_rows = sorted(Casualty.objects.filter(event=first).values_list("id", "status"))
    assert first_rows
    call_command("run_drill", str(drill), speed=150, hub=live_hub.ws_url, minutes=2,
                 wait_for_hub=5)
    second = MassEvent.objects.get(slug="town-drill-2")
    assert sorted(Casualty.objects.filter(event=first).values_list("id", "status")) == first_rows
    assert Casualty.objects.filter(event=second).count() == len(first_rows)
    assert not {c for c, _ in first_rows} & set(
        Casualty.objects.filter(event=second).values_list("id", flat=True))
    assert Unit.objects.filter(event=second, callsign__startswith="TD2-").count() == 4


def test_a_bad_drill_file_is_refused_before_anything_is_made(tmp_path, transactional_db):
    path = _drill_files(tmp_path)
    document = json.loads(path.read_text())
    document["incidents"][0]["triage"]["red"] = "many"
    path.write_text(json.dumps(document))
    with pytest.raises(CommandError, match=r"^incidents\[0\]\.triage\.red: "):
        call_command("run_drill", str(path), hub="ws://127.0.0.1:9/ws/terminal/")
    assert not MassEvent.objects.filter(is_exercise=True).exists()
