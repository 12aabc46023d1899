"""Over a live hub: offers leave the experts' queues live (`consult.withdrawn`) when a
one-expert consult is taken, ends or is cancelled; an offer on a drill's casualty is marked."""

import asyncio
import uuid
from typing import Any

import pytest
import requests

from tests.conftest import casualty_report_data
from tests.support.db import in_db
from tests.support.protocol import RawTerminal, connect_terminal

pytestmark = pytest.mark.asyncio


def _trauma_experts(*names: str) -> dict[str, str]:
    """Make the named terminals trauma experts; the tokens of those that had to be created."""
    from hub.models import Terminal
    from hub.services import terminal_token_issue
    from teleconsult.models import ExpertSpecialty

    tokens = {}
    for name in names:
        if not Terminal.objects.filter(name=name).exists():
            tokens[name] = terminal_token_issue(kind="expert", name=name).token
        ExpertSpecialty.objects.create(terminal=Terminal.objects.get(name=name),
                                       specialty="trauma")
    return tokens


def _exercise_medic() -> str:
    from command_center.models import MassEvent
    from hub.services import terminal_token_issue

    drill = MassEvent.objects.create(slug="drill-x-1", name="Drill X #1", is_exercise=True,
                                     status="active")
    return terminal_token_issue(kind="field", name="drill-medic", event=drill).token


async def _expert(live_hub: Any, token: str, name: str) -> RawTerminal:
    expert = await connect_terminal(live_hub.ws_url, token)
    assert (await expert.subscribe(f"terminal:{name}"))["type"] == "ack"
    return expert


async def _request(medic: RawTerminal, event: str, **extra: Any) -> str:
    report = casualty_report_data()
    assert (await medic.send("casualty.report", f"event:{event}", report))["type"] == "ack"
    consult = str(uuid.uuid4())
    reply = await medic.send("consult.request", f"casualty:{report['casualty']}", {
        "consult": consult, "specialty": "trauma", "urgency": "urgent", **extra})
    assert reply["type"] == "ack", reply
    return consult


async def _next_on(terminal: RawTerminal, topic: str) -> dict[str, Any]:
    """The next stored message of `topic` (the consult topics' frames are skipped)."""
    while True:
        message = await terminal.next_message(timeout=10)
        if message.get("topic") == topic:
            return message


def _queue(base: str, token: str) -> list[dict[str, Any]]:
    response = requests.get(f"{base}/api/v1/consults/queue", timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    return response.json()["consults"]


async def test_a_one_expert_consult_taken_by_one_expert_leaves_the_others_queue_at_once(
        live_hub, roles):
    tokens = await in_db(_trauma_experts, "expert-1", "expert-2")
    medic = await connect_terminal(live_hub.ws_url, roles.field)
    first = await _expert(live_hub, roles.expert, "expert-1")
    second = await _expert(live_hub, tokens["expert-2"], "expert-2")
    try:
        consult = await _request(medic, "wic-test")
        for expert, name in ((first, "expert-1"), (second, "expert-2")):
            offered = await _next_on(expert, f"terminal:{name}")
            assert offered["type"] == "consult.offered"
            assert offered["data"]["consult"] == consult
            assert offered["data"]["exercise"] is False

        assert (await first.send("consult.join", f"consult:{consult}", {}))["type"] == "ack"
        for expert, name in ((first, "expert-1"), (second, "expert-2")):
            taken = await _next_on(expert, f"terminal:{name}")
            assert (taken["type"], taken["from"]) == ("consult.withdrawn", "hub")
            assert taken["data"] == {"consult": consult, "reason": "taken", "by": "expert-1"}

        refused = await second.send("consult.join", f"consult:{consult}", {})
        assert refused["type"] == "error" and refused["code"] == "conflict", refused
        assert "expert-1 has taken this consult" in refused["message"]
        mine = await asyncio.to_thread(_queue, live_hub.http_url, roles.expert)
        others = await asyncio.to_thread(_queue, live_hub.http_url, tokens["expert-2"])
        assert [row["consult"] for row in mine] == [consult]
        assert others == []

        assert (await medic.send("consult.end", f"consult:{consult}", {}))["type"] == "ack"
        for expert, name in ((first, "expert-1"), (second, "expert-2")):
            ended = await _next_on(expert, f"terminal:{name}")
            assert ended["data"] == {"consult": consult, "reason": "ended", "by": "medic-1"}

        forged = await medic.send("consult.withdrawn", "terminal:expert-2", {
            "consult": consult, "reason": "taken", "by": "medic-1"})
        assert forged["type"] == "error" and forged["code"] == "unknown_type"
    finally:
        for terminal in (medic, first, second):
            await terminal.close()


async def test_a_request_ended_before_any_expert_joined_is_withdrawn_as_cancelled(
        live_hub, roles):
    await in_db(_trauma_experts, "expert-1")
    medic = await connect_terminal(live_hub.ws_url, roles.field)
    expert = await _expert(live_hub, roles.expert, "expert-1")
    try:
        consult = await _request(medic, "wic-test")
        assert (await _next_on(expert, "terminal:expert-1"))["type"] == "consult.offered"
        # Given the specialty after the request, expert-2 reads it in its REST queue: the
        # withdrawal reaches it as well.
        tokens = await in_db(_trauma_experts, "expert-2")
        late = await _expert(live_hub, tokens["expert-2"], "expert-2")
        listed = await asyncio.to_thread(_queue, live_hub.http_url, tokens["expert-2"])
        assert [row["consult"] for row in listed] == [consult]

        assert (await medic.send("consult.end", f"consult:{consult}", {}))["type"] == "ack"
        for terminal, name in ((expert, "expert-1"), (late, "expert-2")):
            cancelled = await _next_on(terminal, f"terminal:{name}")
            assert cancelled["type"] == "consult.withdrawn"
            assert cancelled["data"] == {"consult": consult, "reason": "cancelled",
                                         "by": "medic-1"}
        await late.close()
    finally:
        for terminal in (medic, expert):
            await terminal.close()


async def test_a_fan_out_consult_stays_open_to_every_expert_after_one_joins(live_hub, roles):
    tokens = await in_db(_trauma_experts, "expert-1", "expert-2")
    medic = await connect_terminal(live_hub.ws_url, roles.field)
    first = await connect_terminal(live_hub.ws_url, roles.expert)
    second = await _expert(live_hub, tokens["expert-2"], "expert-2")
    try:
        consult = await _request(medic, "wic-test", fanout=True)
        assert (await _next_on(second, "terminal:expert-2"))["type"] == "consult.offered"
        assert (await first.send("consult.join", f"consult:{consult}", {}))["type"] == "ack"
        others = await asyncio.to_thread(_queue, live_hub.http_url, tokens["expert-2"])
        assert [row["consult"] for row in others] == [consult]
        assert (await second.send("consult.join", f"consult:{consult}", {}))["type"] == "ack"
        assert (await medic.send("consult.end", f"consult:{consult}", {}))["type"] == "ack"
        # No `taken` came before: the first withdrawal expert-2 hears is the end.
        withdrawal = await _next_on(second, "terminal:expert-2")
        assert withdrawal["data"] == {"consult": consult, "reason": "ended", "by": "medic-1"}
    finally:
        for terminal in (medic, first, second):
            await terminal.close()


async def test_an_offer_on_a_drill_casualty_is_marked_exercise_and_a_real_one_is_not(
        live_hub, roles):
    await in_db(_trauma_experts, "expert-1")
    drill_token = await in_db(_exercise_medic)
    expert = await _expert(live_hub, roles.expert, "expert-1")
    real_medic = await connect_terminal(live_hub.ws_url, roles.field)
    drill_medic = await connect_terminal(live_hub.ws_url, drill_token)
    try:
        drill = await _request(drill_medic, "drill-x-1")
        drill_offer = await _next_on(expert, "terminal:expert-1")
        real = await _request(real_medic, "wic-test")
        real_offer = await _next_on(expert, "terminal:expert-1")
        assert (drill_offer["data"]["consult"], drill_offer["data"]["exercise"]) == (drill, True)
        assert (real_offer["data"]["consult"], real_offer["data"]["exercise"]) == (real, False)
        rows = await asyncio.to_thread(_queue, live_hub.http_url, roles.expert)
        assert {row["consult"]: row["exercise"] for row in rows} == {drill: True, real: False}
    finally:
        for terminal in (expert, real_medic, drill_medic):
            await terminal.close()
