"""Coalesced publishing: many messages per Redis round trip, each topic still in order."""

import asyncio
import json
import uuid
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from tests.conftest import casualty_report_data
from tests.support.db import in_db
from tests.support.protocol import connect_terminal

T = "2019-10-20T09:00:00Z"


def _message(topic: str, seq: int) -> Any:
    from hub.journal import StoredMessage

    return StoredMessage(topic=topic, seq=seq, type="vitals", id=f"m-{seq}", sender="medic-1",
                         data={"t": T, "hr": seq % 200}, stored_at=timezone.now())


async def _subscribed_channel(topics: list[str]) -> tuple[Any, str]:
    from channels.layers import get_channel_layer

    from hub.broadcast import group_for_topic

    layer = get_channel_layer()
    channel = await layer.new_channel()
    for topic in topics:
        await layer.group_add(group_for_topic(topic), channel)
    return layer, channel


@pytest.mark.asyncio
async def test_messages_from_many_threads_reach_subscribers_in_rounds_and_in_order_per_topic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hub import broadcast

    topics = [f"casualty:{uuid.uuid4()}" for _ in range(3)]
    layer, channel = await _subscribed_channel(topics)
    monkeypatch.setattr(broadcast, "_server_loop", asyncio.get_running_loop())
    rounds: list[int] = []
    publish_round = broadcast._CoalescingPublisher._publish_round

    async def counted(self: Any, batch: list[Any]) -> None:
        rounds.append(len(batch))
        await publish_round(self, batch)

    monkeypatch.setattr(broadcast._CoalescingPublisher, "_publish_round", counted)

    def commit_thread(index: int) -> None:
        # Each thread is one topic's committer: its seqs are that topic's commit order.
        for seq in range(1, 201):
            broadcast.broadcast(_message(topics[index], seq))

    await asyncio.gather(*(asyncio.to_thread(commit_thread, index) for index in range(3)))
    received: dict[str, list[int]] = {topic: [] for topic in topics}
    for _ in range(600):
        event = await asyncio.wait_for(layer.receive(channel), 10)
        assert event["type"] == "journal.message"
        frame = json.loads(event["text"])
        assert (frame["topic"], frame["seq"], frame["id"]) == (
            event["topic"], event["seq"], f"m-{event['seq']}")
        received[event["topic"]].append(event["seq"])
    assert received == {topic: list(range(1, 201)) for topic in topics}
    assert sum(rounds) == 600 and max(rounds) > 1, rounds


@pytest.mark.asyncio
async def test_a_failed_round_is_logged_and_the_next_messages_still_go_out(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from redis import asyncio as aioredis

    from hub import broadcast

    topic = f"casualty:{uuid.uuid4()}"
    layer, channel = await _subscribed_channel([topic])
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(broadcast, "_server_loop", loop)
    publisher = broadcast._publisher_for(loop)
    assert publisher is not None
    # Nothing listens on port 9: the round's pipeline fails as with Redis down.
    unreachable = aioredis.Redis(host="127.0.0.1", port=9, socket_connect_timeout=1)
    monkeypatch.setitem(publisher.clients, 0, unreachable)
    broadcast.broadcast(_message(topic, 1))
    for _ in range(100):
        if not publisher.scheduled:
            break
        await asyncio.sleep(0.05)
    assert not publisher.scheduled
    assert "publish of 1 messages failed" in caplog.text
    publisher.clients.pop(0)
    broadcast.broadcast(_message(topic, 2))
    event = await asyncio.wait_for(layer.receive(channel), 10)
    assert (event["topic"], event["seq"]) == (topic, 2)
    await unreachable.aclose()


def _journal_note(topic: str, terminal_name: str) -> int:
    from hub.journal import journal_append
    from hub.models import Terminal

    terminal = Terminal.objects.get(name=terminal_name)
    with transaction.atomic():
        message = journal_append(topic=topic, type="note", data={"text": "lost publish"},
                                 terminal=terminal, client_id=str(uuid.uuid4()))
    return message.seq


@pytest.mark.asyncio
async def test_a_message_whose_publish_was_lost_is_filled_in_from_the_journal_in_order(
    live_hub: Any, roles: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub import broadcast

    medic = await connect_terminal(live_hub.ws_url, roles.field)
    data = casualty_report_data()
    assert (await medic.send("casualty.report", "event:wic-test", data))["type"] == "ack"
    topic = f"casualty:{data['casualty']}"
    viewer = await connect_terminal(live_hub.ws_url, roles.command)
    head = (await viewer.subscribe(topic))["seq"]
    with monkeypatch.context() as patch:
        # Stored, but its publish is lost: in the journal, never on the layer.
        patch.setattr(broadcast, "broadcast", lambda message: None)
        lost = await in_db(_journal_note, topic, "medic-1")
    assert lost == head + 1
    acks = await asyncio.gather(*(medic.send("vitals", topic, {"t": T, "hr": 60 + i})
                                  for i in range(10)))
    assert sorted(ack["seq"] for ack in acks) == list(range(head + 2, head + 12))
    streamed = await viewer.messages_until(topic, head + 11)
    assert [message["seq"] for message in streamed] == list(range(head + 1, head + 12))
    assert streamed[0]["data"] == {"text": "lost publish"}
    for terminal in (medic, viewer):
        await terminal.close()
