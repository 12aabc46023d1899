"""PROTOCOL.md, seq and idempotency: ordered, gap-free topics and exactly-once storage."""

import asyncio
import json
import uuid

import pytest

from tests.conftest import casualty_report_data
from tests.support.db import in_db
from tests.support.protocol import connect_terminal

pytestmark = pytest.mark.asyncio


async def _report(terminal, data=None):
    data = data or casualty_report_data()
    ack = await terminal.send("casualty.report", "event:wic-test", data)
    assert ack["type"] == "ack", ack
    return data["casualty"]


async def test_twenty_writers_on_one_topic_get_seq_one_to_n_without_gap(live_hub, roles):
    field = await connect_terminal(live_hub.ws_url, roles.field)
    casualty = await _report(field)
    topic = f"casualty:{casualty}"
    writers = [await connect_terminal(live_hub.ws_url, roles.field) for _ in range(20)]

    async def write(terminal, n):
        acks = []
        for i in range(n):
            acks.append(await terminal.send("vitals", topic, {"t": "2019-10-20T09:00:00Z",
                                                              "hr": 60 + i}))
        return acks

    results = await asyncio.gather(*(write(w, 10) for w in writers))
    seqs = sorted(ack["seq"] for acks in results for ack in acks)
    assert seqs == list(range(1, 201))
    from hub.models import JournalEntry

    stored = await in_db(lambda: list(
        JournalEntry.objects.filter(topic=topic).order_by("seq").values_list("seq", flat=True)
    ))
    assert stored == list(range(1, 201))
    for terminal in [field, *writers]:
        await terminal.close()


async def test_one_frame_sent_on_two_sockets_at_once_is_stored_once(live_hub, roles):
    first = await connect_terminal(live_hub.ws_url, roles.field)
    second = await connect_terminal(live_hub.ws_url, roles.field)
    casualty = await _report(first)
    topic = f"casualty:{casualty}"
    for _ in range(10):
        frame_id = str(uuid.uuid4())
        frame = {"type": "vitals", "id": frame_id, "topic": topic,
                 "data": {"t": "2019-10-20T09:00:00+08:00", "spo2": 91}}
        a, b = await asyncio.gather(first.request(frame), second.request(frame))
        assert a["type"] == b["type"] == "ack" and a["seq"] == b["seq"]
    from field_terminal.models import VitalSigns
    from hub.models import JournalEntry

    assert await in_db(JournalEntry.objects.filter(topic=topic).count) == 10
    assert await in_db(VitalSigns.objects.filter(casualty_id=casualty).count) == 10
    await first.close()
    await second.close()


async def test_a_frame_that_got_an_error_may_reuse_its_id(live_hub, roles):
    field = await connect_terminal(live_hub.ws_url, roles.field)
    casualty = await _report(field)
    topic = f"casualty:{casualty}"
    frame_id = "reused-id"
    bad = await field.send("vitals", topic, {"t": "2019-10-20T09:00:00Z", "hr": 301}, id=frame_id)
    assert bad == {"type": "error", "id": frame_id, "code": "invalid",
                   "message": "data.hr: must be 0..300"}
    good = await field.send("vitals", topic, {"t": "2019-10-20T09:00:00Z", "hr": 80}, id=frame_id)
    assert good["type"] == "ack"
    await field.close()


async def test_reporting_a_casualty_twice_is_a_conflict(live_hub, roles):
    field = await connect_terminal(live_hub.ws_url, roles.field)
    data = casualty_report_data()
    await _report(field, data)
    again = await field.send("casualty.report", "event:wic-test", data)
    assert again["code"] == "conflict" and "data.casualty" in again["message"]
    await field.close()


async def test_subscribe_replays_after_since_then_streams_live_without_gap(live_hub, roles):
    field = await connect_terminal(live_hub.ws_url, roles.field)
    casualty = await _report(field)
    topic = f"casualty:{casualty}"
    for i in range(5):
        await field.send("vitals", topic, {"t": "2019-10-20T09:00:00Z", "hr": 70 + i})
    viewer = await connect_terminal(live_hub.ws_url, roles.command)

    async def publish_more():
        for i in range(40):
            await field.send("vitals", topic, {"t": "2019-10-20T09:00:01Z", "hr": 100 + i})

    publisher = asyncio.create_task(publish_more())
    ack = await viewer.subscribe(topic, since=2)
    await publisher
    received = await viewer.messages_until(topic, 45)
    seqs = [m["seq"] for m in received]
    assert seqs == list(range(3, 46))
    replayed = [m for m in received if m["seq"] <= ack["seq"]]
    assert [m["seq"] for m in replayed] == list(range(3, ack["seq"] + 1))
    assert received[0]["from"] == "medic-1" and received[0]["ts"].endswith("Z")
    await field.close()
    await viewer.close()


async def test_since_beyond_the_head_replays_nothing(live_hub, roles):
    field = await connect_terminal(live_hub.ws_url, roles.field)
    casualty = await _report(field)
    ack = await field.subscribe(f"casualty:{casualty}", since=99)
    assert ack["type"] == "ack" and ack["seq"] == 99
    with pytest.raises(asyncio.TimeoutError):
        await field.next_message(timeout=0.5)
    await field.close()


async def test_invalid_since_is_invalid(live_hub, roles):
    field = await connect_terminal(live_hub.ws_url, roles.command)
    for since in (-1, "3", 1.5, True):
        reply = await field.request({"type": "subscribe", "id": str(uuid.uuid4()),
                                     "topic": "event:wic-test", "since": since})
        assert reply["code"] == "invalid" and reply["message"].startswith("since")
    await field.close()


async def test_unsubscribe_stops_delivery_and_unknown_unsubscribe_is_acked(live_hub, roles):
    command = await connect_terminal(live_hub.ws_url, roles.command)
    field = await connect_terminal(live_hub.ws_url, roles.field)
    await command.subscribe("event:wic-test")
    await _report(field)
    received = await command.messages_until("event:wic-test", 2)  # the report, its status
    assert [m["type"] for m in received] == ["casualty.report", "casualty.status"]
    ack = await command.request({"type": "unsubscribe", "id": "u1", "topic": "event:wic-test"})
    assert ack["type"] == "ack"
    await _report(field)
    with pytest.raises(asyncio.TimeoutError):
        await command.next_message(timeout=1.0)
    ack = await command.request({"type": "unsubscribe", "id": "u2", "topic": "event:other"})
    assert ack["type"] == "ack"
    await command.close()
    await field.close()


async def test_a_message_published_on_one_hub_reaches_subscribers_on_the_other(
        live_hub, second_hub, roles):
    viewer = await connect_terminal(second_hub.ws_url, roles.command)
    await viewer.subscribe("event:wic-test")
    field = await connect_terminal(live_hub.ws_url, roles.field)
    ack = await field.send("casualty.report", "event:wic-test", casualty_report_data())
    received = await viewer.messages_until("event:wic-test", ack["seq"], timeout=5)
    assert received[0]["type"] == "casualty.report"
    await viewer.close()
    await field.close()


async def test_rotating_a_token_closes_its_sockets_with_4403_within_five_seconds(live_hub, roles):
    from hub.services import terminal_token_issue

    field = await connect_terminal(live_hub.ws_url, roles.field)
    started = asyncio.get_running_loop().time()
    await in_db(terminal_token_issue, kind="field", name="medic-1")
    assert await field.wait_closed(timeout=6) == 4403
    assert asyncio.get_running_loop().time() - started < 5


async def test_revoked_token_is_closed_and_cannot_hello_again(live_hub, roles):
    from hub.services import terminal_token_revoke

    field = await connect_terminal(live_hub.ws_url, roles.field)
    await in_db(terminal_token_revoke, name="medic-1")
    assert await field.wait_closed(timeout=6) == 4403
    from tests.support.protocol import RawTerminal

    again = await RawTerminal.open(live_hub.ws_url)
    await again.send_raw(json.dumps({"type": "hello", "id": "h", "data": {"token": roles.field}}))
    assert await again.wait_closed() == 4401


async def test_a_flood_beyond_the_rate_limit_is_answered_rate_limited(live_hub, roles):
    command = await connect_terminal(live_hub.ws_url, roles.command)
    replies = await asyncio.gather(*(command.request({"type": "ping", "id": f"p{i}"})
                                     for i in range(600)))
    codes = {reply.get("code") for reply in replies if reply["type"] == "error"}
    assert codes == {"rate_limited"}
    assert sum(reply["type"] == "pong" for reply in replies) >= 240
    await asyncio.sleep(1.0)
    assert (await command.request({"type": "ping", "id": "after"}))["type"] == "pong"
    await command.close()
