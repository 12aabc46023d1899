"""The REST side of teleconsult against the live hub: the expert's queue, the ICE servers."""

import asyncio
import base64
import hashlib
import hmac
import uuid

import pytest
import requests

from tests.conftest import casualty_report_data
from tests.support.db import in_db
from tests.support.hubs import DaphneProcess
from tests.support.protocol import connect_terminal

pytestmark = pytest.mark.asyncio


def _get(base: str, path: str, token: str) -> requests.Response:
    return requests.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"},
                        timeout=10)


def _specialties(name: str, *specialties: str) -> None:
    from hub.models import Terminal
    from teleconsult.models import ExpertSpecialty

    for specialty in specialties:
        ExpertSpecialty.objects.create(terminal=Terminal.objects.get(name=name),
                                       specialty=specialty)


async def _request_consult(live_hub, roles, specialty: str, urgency: str) -> str:
    medic = await connect_terminal(live_hub.ws_url, roles.field)
    data = casualty_report_data()
    assert (await medic.send("casualty.report", "event:wic-test", data))["type"] == "ack"
    consult = str(uuid.uuid4())
    reply = await medic.send("consult.request", f"casualty:{data['casualty']}",
                             {"consult": consult, "specialty": specialty, "urgency": urgency})
    assert reply["type"] == "ack", reply
    await medic.close()
    return consult


async def test_an_expert_sees_open_consults_of_its_specialties_most_urgent_first(
        live_hub, roles):
    await in_db(_specialties, "expert-1", "trauma", "burns")
    routine = await _request_consult(live_hub, roles, "trauma", "routine")
    immediate = await _request_consult(live_hub, roles, "burns", "immediate")
    await _request_consult(live_hub, roles, "cardiology", "immediate")  # not its specialty
    response = await asyncio.to_thread(_get, live_hub.http_url, "/api/v1/consults/queue",
                                       roles.expert)
    assert response.status_code == 200
    assert [row["consult"] for row in response.json()["consults"]] == [immediate, routine]


async def test_only_experts_have_a_consult_queue(live_hub, roles):
    response = await asyncio.to_thread(_get, live_hub.http_url, "/api/v1/consults/queue",
                                       roles.field)
    assert response.status_code == 403


async def test_ice_servers_carry_a_coturn_credential_that_the_shared_secret_verifies(
        hub_env, roles):
    hub = DaphneProcess(env={**hub_env, "TELECONSULT_STUN_URLS": "stun:turn.example:3478",
                             "TELECONSULT_TURN_URLS": "turn:turn.example:3478?transport=udp",
                             "TELECONSULT_TURN_SECRET": "s3cret",
                             "TELECONSULT_TURN_TTL_SECONDS": "600"}).start()
    try:
        response = await asyncio.to_thread(_get, hub.http_url, "/api/v1/consults/ice-servers",
                                           roles.ambulance)
        assert response.status_code == 200
        body = response.json()
        stun, turn = body["iceServers"]
        assert stun == {"urls": ["stun:turn.example:3478"]}
        expiry, name = turn["username"].split(":")
        assert name == "amb-WZ01" and body["ttl"] == 600
        expected = base64.b64encode(hmac.new(b"s3cret", turn["username"].encode(),
                                             hashlib.sha1).digest()).decode()
        assert turn["credential"] == expected
        refused = await asyncio.to_thread(_get, hub.http_url, "/api/v1/consults/ice-servers",
                                          roles.hospital_screen)
        assert refused.status_code == 403
        assert int(expiry) > 0
    finally:
        hub.stop()
