"""PROTOCOL.md, Topics: every terminal kind x every topic kind x read and write."""

import uuid

import pytest
from django.utils import timezone

from tests.conftest import casualty_report_data
from tests.support.db import in_db
from tests.support.protocol import connect_terminal

pytestmark = pytest.mark.asyncio

VITALS = {"t": "2019-10-20T09:00:00Z", "hr": 90}
POSITION = {"t": "2019-10-20T09:00:00Z", "lat": 30.74, "lon": 120.49}
CAPACITY = {"beds": {"red": 1, "yellow": 2, "green": 3}, "diversion": False}

# Who may do what on the scene built below: a casualty reported by medic-1, assigned to unit
# WZ01 for hospital TX1, in a consult with expert-1.
ACTIONS = [
    ("read", "event"), ("report", "event"),
    ("read", "casualty"), ("vitals", "casualty"), ("triage", "casualty"), ("note", "casualty"),
    ("read", "unit"), ("position", "unit"), ("status", "unit"),
    ("read", "hospital"), ("capacity", "hospital"),
    ("read", "consult"), ("note", "consult"),
    ("read", "own-terminal"), ("read", "other-terminal"),
]
ALLOWED = {
    "medic-1": {("report", "event"), ("read", "casualty"), ("vitals", "casualty"),
                ("triage", "casualty"), ("note", "casualty"), ("read", "own-terminal")},
    "amb-WZ01": {("report", "event"), ("read", "casualty"), ("vitals", "casualty"),
                 ("triage", "casualty"), ("note", "casualty"), ("read", "unit"),
                 ("position", "unit"), ("status", "unit"), ("read", "own-terminal")},
    "expert-1": {("read", "casualty"), ("note", "casualty"), ("read", "consult"),
                 ("note", "consult"), ("read", "own-terminal")},
    "screen-TX1": {("read", "casualty"), ("note", "casualty"), ("read", "unit"),
                   ("read", "hospital"), ("capacity", "hospital"), ("read", "own-terminal")},
    "command-1": {("read", "event"), ("report", "event"), ("read", "casualty"),
                  ("triage", "casualty"), ("note", "casualty"), ("read", "unit"),
                  ("status", "unit"), ("read", "hospital"), ("capacity", "hospital"),
                  ("read", "consult"), ("note", "consult"), ("read", "own-terminal")},
    "medic-2": {("report", "event"), ("read", "own-terminal")},
    "amb-WZ02": {("report", "event"), ("read", "own-terminal")},
    "screen-JX1": {("read", "own-terminal")},
}


def _build_scene(roles):
    from ambulance.services import transport_assign
    from hub.models import Terminal
    from teleconsult.models import Consult, ConsultParticipant

    medic = Terminal.objects.get(name="medic-1")
    from field_terminal.schemas import CasualtyReport
    from field_terminal.services import casualty_report

    data = casualty_report_data()
    casualty_report(terminal=medic, event_slug="wic-test", client_id="scene-report",
                    payload=CasualtyReport.model_validate(data))
    transport_assign(casualty_id=data["casualty"], callsign="WZ01", hospital_code="TX1",
                     assigned_by="command-1")
    consult = Consult.objects.create(casualty_id=data["casualty"], specialty="trauma",
                                     requested_by=medic, requested_at=timezone.now())
    ConsultParticipant.objects.create(consult=consult, terminal=Terminal.objects.get(
        name="expert-1"), role="expert", joined_at=timezone.now())
    return data["casualty"], str(consult.pk)


def _frame(action, topic_kind, name, casualty, consult):
    topic = {"event": "event:wic-test", "casualty": f"casualty:{casualty}", "unit": "unit:WZ01",
             "hospital": "hospital:TX1", "consult": f"consult:{consult}",
             "own-terminal": f"terminal:{name}", "other-terminal": "terminal:somebody-else"
             }[topic_kind]
    frame_id = str(uuid.uuid4())
    if action == "read":
        return {"type": "subscribe", "id": frame_id, "topic": topic}
    type_and_data = {
        "report": ("casualty.report", casualty_report_data()),
        "vitals": ("vitals", VITALS),
        "triage": ("triage.update", {"category": "yellow", "method": "manual"}),
        "note": ("note", {"text": "checked"}),
        "position": ("position", POSITION),
        "status": ("unit.status", {"status": "on_scene"}),
        "capacity": ("capacity", CAPACITY),
    }[action]
    return {"type": type_and_data[0], "id": frame_id, "topic": topic, "data": type_and_data[1]}


@pytest.mark.parametrize("name", sorted(ALLOWED))
async def test_each_terminal_reads_and_writes_exactly_what_the_topics_table_allows(
        live_hub, roles, name):
    casualty, consult = await in_db(_build_scene, roles)
    tokens = {"medic-1": roles.field, "amb-WZ01": roles.ambulance, "expert-1": roles.expert,
              "screen-TX1": roles.hospital_screen, "command-1": roles.command,
              "medic-2": roles.other_field, "amb-WZ02": roles.other_ambulance,
              "screen-JX1": roles.other_hospital_screen}
    terminal = await connect_terminal(live_hub.ws_url, tokens[name])
    wrong = []
    for action, topic_kind in ACTIONS:
        reply = await terminal.request(_frame(action, topic_kind, name, casualty, consult))
        permitted = reply["type"] == "ack" or reply.get("code") not in ("forbidden",)
        expected = (action, topic_kind) in ALLOWED[name]
        if permitted != expected:
            wrong.append(f"{action} {topic_kind}: expected {'allowed' if expected else 'forbidden'}"
                         f", got {reply}")
    await terminal.close()
    assert not wrong, "\n".join(wrong)


async def test_subscribing_to_a_casualty_writes_an_audit_entry(live_hub, roles):
    from hub.models import AuditEntry

    casualty, _ = await in_db(_build_scene, roles)
    hospital = await connect_terminal(live_hub.ws_url, roles.hospital_screen)
    assert (await hospital.subscribe(f"casualty:{casualty}"))["type"] == "ack"
    entries = await in_db(lambda: list(AuditEntry.objects.filter(
        action="casualty.subscribe", target=f"casualty:{casualty}").values_list("actor",
                                                                                flat=True)))
    assert entries == ["screen-TX1"]
    await hospital.close()


async def test_a_hospital_loses_the_casualty_when_its_transport_is_cancelled(live_hub, roles):
    casualty, _ = await in_db(_build_scene, roles)
    hospital = await connect_terminal(live_hub.ws_url, roles.hospital_screen)
    assert (await hospital.subscribe(f"casualty:{casualty}"))["type"] == "ack"
    crew = await connect_terminal(live_hub.ws_url, roles.ambulance)
    # dispatched -> available: the order is cancelled and the casualty leaves TX1's inbound list.
    assert (await crew.send("unit.status", "unit:WZ01", {"status": "available"}))["type"] == "ack"
    while True:
        message = await hospital.next_message(timeout=5)
        if message["type"] == "subscription.ended":
            break
    assert message == {"type": "subscription.ended", "topic": f"casualty:{casualty}"}
    again = await hospital.subscribe(f"casualty:{casualty}")
    assert again["code"] == "forbidden"
    await hospital.close()
    await crew.close()
