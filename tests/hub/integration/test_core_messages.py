"""Each core message type is applied by its owning service, in the journal's transaction."""

import asyncio
import uuid

import pytest

from tests.conftest import casualty_report_data
from tests.support.db import in_db
from tests.support.protocol import connect_terminal

pytestmark = pytest.mark.asyncio
T = "2019-10-20T09:00:00+08:00"


async def _reported(live_hub, roles, **overrides):
    medic = await connect_terminal(live_hub.ws_url, roles.field)
    data = casualty_report_data(**overrides)
    assert (await medic.send("casualty.report", "event:wic-test", data))["type"] == "ack"
    return medic, data["casualty"]


async def test_a_report_creates_the_casualty_queued_for_transport_with_its_history(live_hub, roles):
    from field_terminal.models import Casualty

    medic, casualty = await _reported(live_hub, roles, tag="R-17", needs=["trauma", "trauma"],
                                      age_group="child", complaint="胸痛")
    record = await in_db(Casualty.objects.get, pk=casualty)
    assert (record.tag, record.category, record.status, record.needs, record.complaint) == (
        "R-17", "red", "awaiting_transport", ["trauma"], "胸痛")
    history = await in_db(lambda: list(record.status_history.values_list("from_status",
                                                                         "to_status")))
    assert history == [("", "reported"), ("reported", "awaiting_transport")]
    await medic.close()


async def test_an_expectant_report_waits_on_scene_and_retriage_queues_it(live_hub, roles):
    from field_terminal.models import Casualty

    medic, casualty = await _reported(live_hub, roles, category="black")
    assert (await in_db(Casualty.objects.get, pk=casualty)).status == "reported"
    reply = await medic.send("triage.update", f"casualty:{casualty}",
                             {"category": "red", "method": "START", "reason": "pulse found"})
    assert reply["type"] == "ack"
    record = await in_db(Casualty.objects.get, pk=casualty)
    assert (record.category, record.status) == ("red", "awaiting_transport")
    triage = await in_db(lambda: list(record.triage_history.values_list("category", "reason")))
    assert triage == [("black", ""), ("red", "pulse found")]
    await medic.close()


async def test_command_sees_hub_made_summaries_of_triage_and_status(live_hub, roles):
    command = await connect_terminal(live_hub.ws_url, roles.command)
    await command.subscribe("event:wic-test")
    medic, casualty = await _reported(live_hub, roles)
    await medic.send("triage.update", f"casualty:{casualty}",
                     {"category": "yellow", "method": "manual"})
    received = await command.messages_until("event:wic-test", 3)
    assert [(m["type"], m["from"]) for m in received] == [
        ("casualty.report", "medic-1"), ("casualty.status", "hub"), ("triage.changed", "hub")]
    assert received[2]["data"] == {"casualty": casualty, "from": "red", "to": "yellow",
                                   "method": "manual", "by": "medic-1"}
    assert received[1]["id"].startswith("hub-")
    await command.close()
    await medic.close()


async def test_vitals_waveforms_notes_are_kept_with_the_record(live_hub, roles):
    from field_terminal.models import CasualtyNote, VitalSigns, WaveformSegment

    medic, casualty = await _reported(live_hub, roles)
    topic = f"casualty:{casualty}"
    assert (await medic.send("vitals", topic, {"t": T, "hr": 128, "sbp": 82, "gcs": 13}))["type"] == "ack"
    assert (await medic.send("waveform", topic, {"t0": T, "hz": 250, "signal": "ecg_ii",
                                                  "unit": "mV", "samples": [0.1, 1.2, -0.3]}))["type"] == "ack"
    assert (await medic.send("note", topic, {"text": "tourniquet 09:02"}))["type"] == "ack"
    vitals = await in_db(VitalSigns.objects.get, casualty_id=casualty)
    assert (vitals.hr, vitals.sbp, vitals.gcs, vitals.spo2) == (128, 82, 13, None)
    assert vitals.measured_at.isoformat() == "2019-10-20T01:00:00+00:00"
    segment = await in_db(WaveformSegment.objects.get, casualty_id=casualty)
    assert segment.samples == [0.1, 1.2, -0.3] and segment.journal_seq == 2
    assert (await in_db(CasualtyNote.objects.get, casualty_id=casualty)).text == "tourniquet 09:02"
    await medic.close()


async def test_positions_move_the_unit_keep_history_and_never_go_back_in_time(live_hub, roles):
    from ambulance.models import Unit, UnitPosition

    crew = await connect_terminal(live_hub.ws_url, roles.ambulance)
    for t, lat in (("2019-10-20T09:00:10Z", 30.70), ("2019-10-20T09:00:00Z", 30.60)):
        reply = await crew.send("position", "unit:WZ01", {"t": t, "lat": lat, "lon": 120.5,
                                                          "speed": 12.5, "heading": 90})
        assert reply["type"] == "ack"
    unit = await in_db(Unit.objects.get, callsign="WZ01")
    assert unit.position is not None
    assert (round(unit.position.y, 2), unit.speed) == (30.70, 12.5)
    assert await in_db(UnitPosition.objects.filter(unit=unit).count) == 2
    other = await crew.send("position", "unit:WZ02", {"t": T, "lat": 30.7, "lon": 120.5})
    assert other["code"] == "forbidden"
    await crew.close()


async def test_unit_status_follows_the_lifecycle_and_refuses_illegal_moves(live_hub, roles):
    from ambulance.models import Unit

    crew = await connect_terminal(live_hub.ws_url, roles.ambulance)
    illegal = await crew.send("unit.status", "unit:WZ01", {"status": "transporting"})
    assert illegal == {"type": "error", "id": illegal["id"], "code": "conflict",
                       "message": "unit status: cannot go from 'available' to 'transporting'"}
    assert (await crew.send("unit.status", "unit:WZ01", {"status": "out_of_service"}))["type"] == "ack"
    assert (await crew.send("unit.status", "unit:WZ01", {"status": "available"}))["type"] == "ack"
    unit = await in_db(Unit.objects.get, callsign="WZ01")
    moves = await in_db(lambda: list(unit.status_history.values_list("from_status", "to_status")))
    assert moves == [("available", "out_of_service"), ("out_of_service", "available")]
    await crew.close()


async def test_capacity_updates_the_hospital_and_its_history(live_hub, roles):
    from hospital_intake.models import CapacityReport, Hospital

    screen = await connect_terminal(live_hub.ws_url, roles.hospital_screen)
    reply = await screen.send("capacity", "hospital:TX1", {
        "beds": {"red": 0, "yellow": 3, "green": 11}, "diversion": True, "note": "CT down"})
    assert reply["type"] == "ack"
    hospital = await in_db(Hospital.objects.get, code="TX1")
    assert (hospital.beds_red, hospital.beds_yellow, hospital.diversion, hospital.capacity_note) == (
        0, 3, True, "CT down")
    report = await in_db(CapacityReport.objects.get, hospital=hospital)
    assert (report.reported_by, report.beds_green) == ("screen-TX1", 11)
    await screen.close()


async def test_media_refers_to_an_upload_and_joins_the_record(live_hub, roles):
    import requests

    from field_terminal.models import CasualtyMedia
    from tests.hub.integration.test_api import _png

    medic, casualty = await _reported(live_hub, roles)
    response = await asyncio.to_thread(
        requests.post, f"{live_hub.http_url}/api/v1/media/",
        headers={"Authorization": f"Bearer {roles.field}"},
        files={"file": ("wound.png", _png(), "image/png")}, timeout=10)
    uploaded = response.json()
    bad = await medic.send("media", f"casualty:{casualty}",
                           {"media": str(uuid.uuid4()), "kind": "image"})
    assert bad["code"] == "invalid" and bad["message"].startswith("data.media")
    wrong_kind = await medic.send("media", f"casualty:{casualty}",
                                  {"media": uploaded["id"], "kind": "video"})
    assert wrong_kind["code"] == "invalid" and wrong_kind["message"].startswith("data.kind")
    reply = await medic.send("media", f"casualty:{casualty}",
                             {"media": uploaded["id"], "kind": "image", "caption": "left leg"})
    assert reply["type"] == "ack"
    attached = await in_db(CasualtyMedia.objects.get, casualty_id=casualty)
    assert (str(attached.media_id), attached.caption) == (uploaded["id"], "left leg")
    await medic.close()


async def test_two_sockets_with_one_token_are_equal(live_hub, roles):
    first = await connect_terminal(live_hub.ws_url, roles.command)
    second = await connect_terminal(live_hub.ws_url, roles.command)
    await first.subscribe("event:wic-test")
    await second.subscribe("event:wic-test")
    medic, _ = await _reported(live_hub, roles)
    for socket in (first, second):
        assert (await socket.messages_until("event:wic-test", 1))[0]["type"] == "casualty.report"
    for socket in (first, second, medic):
        await socket.close()


async def test_subscribing_again_replaces_the_subscription(live_hub, roles):
    medic, _ = await _reported(live_hub, roles)
    await _reported(live_hub, roles)  # event topic now holds 4 messages
    command = await connect_terminal(live_hub.ws_url, roles.command)
    assert (await command.subscribe("event:wic-test", since=4))["seq"] == 4
    again = await command.subscribe("event:wic-test", since=1)
    assert again["seq"] == 4
    replayed = await command.messages_until("event:wic-test", 4)
    assert [m["seq"] for m in replayed] == [2, 3, 4]
    await command.close()
    await medic.close()
