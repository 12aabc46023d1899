"""Dispatch in the hub, end to end: a report, the worker's recommendation on the event topic,
the dispatcher's accept / override / release, the order on the unit topic, the pre-arrival
notice on the hospital topic, and the notice's way to the handover."""

import asyncio

import pytest

from tests.conftest import casualty_report_data
from tests.support.db import in_db
from tests.support.protocol import RawTerminal, connect_terminal

# The terminals fixture opens its sockets in the session loop; the tests must run there too.
pytestmark = pytest.mark.asyncio(loop_scope="session")

EVENT = "event:wic-test"
ATMIST = {"age": "about 40", "time": "09:02", "mechanism": "crowd crush at gate 3",
          "injuries": "chest, left ribs", "signs": "HR 118, SpO2 91", "treatment": "O2 15 l/min"}


async def wait_for(terminal: RawTerminal, type: str, topic: str, where=lambda data: True,
                   timeout: float = 20.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        message = await terminal.next_message(max(remaining, 0.01))
        if message["type"] == type and message["topic"] == topic and where(message["data"]):
            return message


def assignment_of(recommendation: dict, casualty: str) -> dict | None:
    return next((a for a in recommendation["data"]["assignments"] if a["casualty"] == casualty),
                None)


async def report(field: RawTerminal, **data) -> str:
    payload = casualty_report_data(**data)
    ack = await field.send("casualty.report", EVENT, payload)
    assert ack["type"] == "ack", ack
    return payload["casualty"]


async def recommendation_with(command: RawTerminal, *casualties: str) -> dict:
    return await wait_for(command, "dispatch.recommendation", EVENT, lambda data: all(
        any(a["casualty"] == c for a in data["assignments"]) for c in casualties))


async def journal_types(topic: str) -> list[str]:
    from hub.models import JournalEntry

    return await in_db(lambda: list(
        JournalEntry.objects.filter(topic=topic).order_by("seq").values_list("type", flat=True)))


async def set_fields(model_object, **fields) -> None:
    def save():
        for name, value in fields.items():
            setattr(model_object, name, value)
        model_object.save(update_fields=list(fields))

    await in_db(save)


@pytest.fixture
async def terminals(live_hub, roles):
    opened = {
        "field": await connect_terminal(live_hub.ws_url, roles.field),
        "command": await connect_terminal(live_hub.ws_url, roles.command),
        "tx1": await connect_terminal(live_hub.ws_url, roles.hospital_screen),
        "jx1": await connect_terminal(live_hub.ws_url, roles.other_hospital_screen),
        "wz01": await connect_terminal(live_hub.ws_url, roles.ambulance),
        "wz02": await connect_terminal(live_hub.ws_url, roles.other_ambulance),
    }
    for name, topic in [("command", EVENT), ("tx1", "hospital:TX1"), ("jx1", "hospital:JX1"),
                        ("wz01", "unit:WZ01"), ("wz02", "unit:WZ02")]:
        ack = await opened[name].subscribe(topic)
        assert ack["type"] == "ack", ack
    yield opened
    for terminal in opened.values():
        await terminal.close()


async def test_report_to_order_on_the_unit_and_notice_at_that_hospital_only(
        dispatch_worker, terminals):
    casualty = await report(terminals["field"], category="red", needs=["trauma"],
                            complaint="chest pain", age_group="adult")
    recommendation = await recommendation_with(terminals["command"], casualty)
    assert recommendation["from"] == "hub"
    assignment = assignment_of(recommendation, casualty)
    assert assignment is not None
    # Red needs ALS: WZ01 is the only ALS unit; TX1 is the nearer trauma hospital.
    assert assignment["unit"] == "WZ01" and assignment["hospital"] == "TX1"
    assert assignment["category"] == "red"
    assert "WZ01" in assignment["explain"] and "TX1" in assignment["explain"]
    assert assignment["pickup_eta"] < assignment["arrival_eta"]
    assert 0 < assignment["survival"] <= 1
    data = recommendation["data"]
    assert data["unassigned"] == [] and data["solve_ms"] >= 0
    assert data["objective"] == pytest.approx(assignment["survival"], abs=1e-3)
    assert data["baseline"] <= data["objective"] + 1e-9

    ack = await terminals["command"].send(
        "dispatch.accept", EVENT,
        {"recommendation": data["recommendation"], "casualties": [casualty]})
    assert ack["type"] == "ack", ack

    order = await wait_for(terminals["wz01"], "order.assigned", "unit:WZ01")
    assert order["from"] == "hub"
    assert order["data"]["casualty"] == casualty and order["data"]["hospital"] == "TX1"
    assert order["data"]["eta"] == assignment["arrival_eta"]
    assert order["data"]["pickup_eta"] == assignment["pickup_eta"]
    notice = await wait_for(terminals["tx1"], "prearrival.notice", "hospital:TX1")
    assert notice["data"]["casualty"] == casualty and notice["data"]["unit"] == "WZ01"
    assert notice["data"]["state"] == "sent" and notice["data"]["needs"] == ["trauma"]
    assert notice["data"]["complaint"] == "chest pain"
    assert notice["data"]["eta"] == assignment["arrival_eta"]
    assert notice["data"]["transport"] == order["data"]["transport"]
    # The other hospital hears nothing, and TX1 no longer gets a transport.assigned copy.
    assert await journal_types("hospital:JX1") == []
    assert await journal_types("hospital:TX1") == ["prearrival.notice"]
    with pytest.raises(asyncio.TimeoutError):
        await terminals["jx1"].next_message(0.5)


async def test_accept_all_dispatches_every_free_units_next_trip(dispatch_worker, terminals):
    red = await report(terminals["field"], category="red")
    yellow = await report(terminals["field"], category="yellow",
                          location={"lat": 30.7440, "lon": 120.4880})
    recommendation = await recommendation_with(terminals["command"], red, yellow)
    ack = await terminals["command"].send(
        "dispatch.accept", EVENT, {"recommendation": recommendation["data"]["recommendation"]})
    assert ack["type"] == "ack", ack
    orders = {
        (await wait_for(terminals["wz01"], "order.assigned", "unit:WZ01"))["data"]["casualty"],
        (await wait_for(terminals["wz02"], "order.assigned", "unit:WZ02"))["data"]["casualty"],
    }
    assert orders == {red, yellow}
    from ambulance.models import Transport

    assert await in_db(lambda: Transport.objects.filter(status="assigned").count()) == 2
    # Accepting the same recommendation again finds nothing left to do and changes nothing.
    again = await terminals["command"].send(
        "dispatch.accept", EVENT,
        {"recommendation": recommendation["data"]["recommendation"], "casualties": [red]})
    assert again["type"] == "error" and again["code"] == "conflict"
    assert "already accepted" in again["message"]


async def test_overrides_that_break_a_rule_are_refused_with_the_reason(terminals, roles):
    command = terminals["command"]
    red = await report(terminals["field"], category="red")
    burns = await report(terminals["field"], category="yellow", needs=["burns"])
    yellow = await report(terminals["field"], category="yellow")

    async def refused(casualty, unit, hospital, reason):
        reply = await command.send("dispatch.override", EVENT,
                                   {"casualty": casualty, "unit": unit, "hospital": hospital})
        assert reply["type"] == "error" and reply["code"] == "conflict", reply
        assert reason in reply["message"], reply["message"]
        return reply["message"]

    assert (await refused(red, "WZ02", "TX1", "needs an ALS unit")).startswith("data.unit:")
    assert (await refused(burns, "WZ02", "TX1", "hospital TX1 lacks capability burns")
            ).startswith("data.hospital:")
    await set_fields(roles.hospital, beds_yellow=0)
    await refused(yellow, "WZ02", "TX1", "hospital TX1 has no free yellow bed")
    await set_fields(roles.other_hospital, diversion=True)
    await refused(yellow, "WZ02", "JX1", "hospital JX1 is on diversion")
    ack = await terminals["wz01"].send("unit.status", "unit:WZ01", {"status": "out_of_service"})
    assert ack["type"] == "ack", ack
    await refused(red, "WZ01", "TX1", "unit WZ01 cannot take an order in state 'out_of_service'")
    unknown = await command.send("dispatch.override", EVENT,
                                 {"casualty": red, "unit": "NOPE", "hospital": "TX1"})
    assert unknown["code"] == "invalid" and unknown["message"].startswith("data.unit:")
    # A refusal stores nothing: no transport, no override in the journal.
    from ambulance.models import Transport

    assert await in_db(Transport.objects.count) == 0
    assert "dispatch.override" not in await journal_types(EVENT)

    # One that fits is carried out: the dispatcher's hospital, not the optimizer's.
    await set_fields(roles.other_hospital, diversion=False)
    ack = await command.send("dispatch.override", EVENT,
                             {"casualty": burns, "unit": "WZ02", "hospital": "JX1"})
    assert ack["type"] == "ack", ack
    notice = await wait_for(terminals["jx1"], "prearrival.notice", "hospital:JX1")
    assert notice["data"]["casualty"] == burns


async def test_override_by_a_field_terminal_is_forbidden(terminals):
    casualty = await report(terminals["field"], category="green")
    reply = await terminals["field"].send("dispatch.override", EVENT,
                                          {"casualty": casualty, "unit": "WZ02",
                                           "hospital": "TX1"})
    assert reply["code"] == "forbidden"


async def test_release_returns_the_casualty_to_the_queue(dispatch_worker, terminals):
    command = terminals["command"]
    casualty = await report(terminals["field"], category="red")
    ack = await command.send("dispatch.override", EVENT,
                             {"casualty": casualty, "unit": "WZ01", "hospital": "TX1"})
    assert ack["type"] == "ack", ack
    await wait_for(terminals["wz01"], "order.assigned", "unit:WZ01")
    ack = await command.send("dispatch.release", EVENT, {"casualty": casualty})
    assert ack["type"] == "ack", ack
    cancelled = await wait_for(terminals["wz01"], "transport.cancelled", "unit:WZ01")
    assert cancelled["data"]["casualty"] == casualty
    await wait_for(terminals["tx1"], "transport.cancelled", "hospital:TX1")
    from ambulance.models import Transport, Unit
    from field_terminal.models import Casualty
    from hospital_intake.models import PreArrivalNotice

    assert await in_db(lambda: Casualty.objects.get(pk=casualty).status) == "awaiting_transport"
    assert await in_db(lambda: Unit.objects.get(callsign="WZ01").status) == "available"
    assert await in_db(lambda: Transport.objects.get().status) == "cancelled"
    assert await in_db(lambda: PreArrivalNotice.objects.get().state) == "cancelled"
    # Back in the queue: the next recommendation plans it again.
    await recommendation_with(command, casualty)
    again = await command.send("dispatch.release", EVENT, {"casualty": casualty})
    assert again["code"] == "conflict" and "no accepted transport" in again["message"]


async def test_auto_dispatch_accepts_by_itself(dispatch_worker, terminals, roles):
    await set_fields(roles.event, auto_dispatch=True)
    casualty = await report(terminals["field"], category="red")
    order = await wait_for(terminals["wz01"], "order.assigned", "unit:WZ01")
    assert order["data"]["casualty"] == casualty
    from ambulance.models import Transport

    assert await in_db(lambda: Transport.objects.get().assigned_by) == "hub (auto-dispatch)"
    assert "dispatch.accept" not in await journal_types(EVENT)


async def test_a_later_resolve_does_not_move_an_accepted_assignment(dispatch_worker, terminals):
    command = terminals["command"]
    first = await report(terminals["field"], category="red")
    recommendation = await recommendation_with(command, first)
    ack = await command.send("dispatch.accept", EVENT,
                             {"recommendation": recommendation["data"]["recommendation"]})
    assert ack["type"] == "ack", ack
    second = await report(terminals["field"], category="red",
                          location={"lat": 30.7450, "lon": 120.4890})
    later = await recommendation_with(command, second)
    assert later["data"]["recommendation"] > recommendation["data"]["recommendation"]
    assert assignment_of(later, first) is None and first not in later["data"]["unassigned"]
    from ambulance.models import Transport

    transport = await in_db(lambda: Transport.objects.select_related("unit", "hospital").get(
        casualty_id=first))
    assert (transport.unit.callsign, transport.hospital.code, transport.status) == \
        ("WZ01", "TX1", "assigned")


async def test_notice_goes_received_acknowledged_arrived_handed_over(terminals, roles):
    command, tx1, wz01 = terminals["command"], terminals["tx1"], terminals["wz01"]
    casualty = await report(terminals["field"], category="yellow")
    ack = await command.send("dispatch.override", EVENT,
                             {"casualty": casualty, "unit": "WZ01", "hospital": "TX1"})
    assert ack["type"] == "ack", ack
    notice_id = (await wait_for(tx1, "prearrival.notice", "hospital:TX1"))["data"]["notice"]

    async def state_seen(state):
        at_hospital = await wait_for(tx1, "prearrival.state", "hospital:TX1",
                                     lambda d: d["state"] == state)
        at_command = await wait_for(command, "prearrival.state", EVENT,
                                    lambda d: d["state"] == state)
        assert at_hospital["data"] == at_command["data"]
        assert at_hospital["data"]["notice"] == notice_id
        assert at_hospital["data"]["casualty"] == casualty
        return at_hospital["data"]

    # Only that hospital's screens may answer its notices.
    other = await terminals["jx1"].send("prearrival.ack", "hospital:TX1",
                                        {"notice": notice_id, "state": "received"})
    assert other["code"] == "forbidden"
    by_command = await command.send("prearrival.ack", "hospital:TX1",
                                    {"notice": notice_id, "state": "received"})
    assert by_command["code"] == "forbidden"
    wrong = await terminals["jx1"].send("prearrival.ack", "hospital:JX1",
                                        {"notice": notice_id, "state": "received"})
    assert wrong["code"] == "invalid" and wrong["message"].startswith("data.notice:")

    assert (await tx1.send("prearrival.ack", "hospital:TX1",
                           {"notice": notice_id, "state": "received"}))["type"] == "ack"
    assert (await state_seen("received"))["by"] == "screen-TX1"
    assert (await tx1.send("prearrival.ack", "hospital:TX1",
                           {"notice": notice_id, "state": "acknowledged"}))["type"] == "ack"
    await state_seen("acknowledged")
    # A reloaded screen saying "received" again is acknowledged and changes nothing.
    assert (await tx1.send("prearrival.ack", "hospital:TX1",
                           {"notice": notice_id, "state": "received"}))["type"] == "ack"

    early = await tx1.send("handover.accept", "hospital:TX1", {"casualty": casualty})
    assert early["code"] == "conflict" and "'assigned'" in early["message"]
    for status in ("on_scene", "transporting", "at_hospital"):
        assert (await wz01.send("unit.status", "unit:WZ01", {"status": status}))["type"] == "ack"
    assert (await state_seen("arrived"))["by"] == "amb-WZ01"

    handover = await wz01.send("handover", f"casualty:{casualty}",
                               {"atmist": ATMIST, "notes": "wife informed"})
    assert handover["type"] == "ack", handover
    not_carrier = await terminals["wz02"].send("handover", f"casualty:{casualty}",
                                               {"atmist": ATMIST})
    assert not_carrier["code"] == "forbidden"
    missing = await wz01.send("handover", f"casualty:{casualty}",
                              {"atmist": {k: v for k, v in ATMIST.items() if k != "signs"}})
    assert missing["code"] == "invalid" and missing["message"] == "data.atmist.signs: is required"
    assert (await tx1.send("handover.accept", "hospital:TX1",
                           {"casualty": casualty}))["type"] == "ack"
    await state_seen("handed_over")

    from ambulance.models import Transport
    from field_terminal.models import Casualty
    from hospital_intake.models import Handover, PreArrivalNotice

    assert await in_db(lambda: Transport.objects.get().status) == "handed_over"
    assert await in_db(lambda: Casualty.objects.get(pk=casualty).status) == "handed_over"
    history = await in_db(lambda: list(PreArrivalNotice.objects.get().history.values_list(
        "to_state", flat=True)))
    assert history == ["sent", "received", "acknowledged", "arrived", "handed_over"]
    given = await in_db(Handover.objects.get)
    assert given.atmist == ATMIST and given.notes == "wife informed"
    assert given.given_by == "amb-WZ01"
    again = await tx1.send("handover.accept", "hospital:TX1", {"casualty": casualty})
    assert again["code"] == "conflict" and "'handed_over'" in again["message"]


async def test_positions_update_the_eta_and_tell_the_hospital_only_when_it_moved(
        terminals, roles):
    wz01 = terminals["wz01"]
    casualty = await report(terminals["field"], category="yellow")
    ack = await terminals["command"].send(
        "dispatch.override", EVENT, {"casualty": casualty, "unit": "WZ01", "hospital": "TX1"})
    assert ack["type"] == "ack", ack
    notice = await wait_for(terminals["tx1"], "prearrival.notice", "hospital:TX1")

    async def position(lat, lon):
        reply = await wz01.send("position", "unit:WZ01",
                                {"t": "2019-10-20T09:00:00Z", "lat": lat, "lon": lon})
        assert reply["type"] == "ack", reply

    # Far north of the scene: the ride gets much longer than planned from the station.
    await position(30.90, 120.49)
    update = await wait_for(terminals["tx1"], "transport.eta", "hospital:TX1")
    assert update["data"]["casualty"] == casualty and update["data"]["unit"] == "WZ01"
    assert update["data"]["eta"] > notice["data"]["eta"]
    # The same place again (seconds later): the ETA moved by less than a minute, no news.
    await position(30.90, 120.49)
    assert (await journal_types("hospital:TX1")).count("transport.eta") == 1
    from ambulance.models import Transport

    stored = await in_db(lambda: Transport.objects.get().eta)
    assert stored is not None and stored.isoformat(timespec="milliseconds").replace("+00:00", "Z") == \
        update["data"]["eta"]


async def test_dispatch_accept_of_an_unknown_recommendation_is_invalid(terminals):
    reply = await terminals["command"].send("dispatch.accept", EVENT, {"recommendation": 999999})
    assert reply["code"] == "invalid" and reply["message"].startswith("data.recommendation:")
    bad = await terminals["command"].send("dispatch.accept", EVENT,
                                          {"recommendation": 1, "casualties": ["x"]})
    assert bad == {"type": "error", "id": bad["id"], "code": "invalid",
                   "message": "data.casualties: item 0 must be a UUID string"}
