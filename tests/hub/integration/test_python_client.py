"""The project's Python client against the real hub: replay, live, pipelining, errors."""

import asyncio

import pytest

from hub.client import ConnectionRejected, ProtocolError, TerminalClient
from tests.conftest import casualty_report_data

pytestmark = pytest.mark.asyncio

T = "2019-10-20T09:00:00Z"


async def _next(client, topic, timeout=5.0):
    async with asyncio.timeout(timeout):
        async for message in client.messages():
            if message.get("topic") == topic:
                return message
    raise AssertionError("stream ended")


async def test_client_reports_subscribes_and_receives_in_order(live_hub, roles):
    data = casualty_report_data()
    topic = f"casualty:{data['casualty']}"
    async with TerminalClient([live_hub.ws_url], token=roles.field) as medic, \
               TerminalClient([live_hub.ws_url], token=roles.command) as command:
        assert command.welcome is not None
        assert command.welcome["terminal"]["kind"] == "command"
        await medic.send("casualty.report", "event:wic-test", data)
        acks = await asyncio.gather(*(medic.send("vitals", topic, {"t": T, "hr": 60 + i})
                                      for i in range(30)))
        assert sorted(a.seq or 0 for a in acks) == list(range(1, 31))
        await command.subscribe(topic, since=10)
        seqs = [(await _next(command, topic))["seq"] for _ in range(20)]
        assert seqs == list(range(11, 31))
        assert command.last_seq[topic] == 30


async def test_client_raises_the_hub_s_error_naming_the_field(live_hub, roles):
    data = casualty_report_data()
    async with TerminalClient([live_hub.ws_url], token=roles.field) as medic:
        await medic.send("casualty.report", "event:wic-test", data)
        with pytest.raises(ProtocolError) as refused:
            await medic.send("vitals", f"casualty:{data['casualty']}", {"t": T, "spo2": 101})
        assert refused.value.code == "invalid" and "data.spo2" in refused.value.message


async def test_client_with_a_bad_token_stops_with_4401(live_hub, roles):
    client = TerminalClient([live_hub.ws_url], token="not-a-token")
    with pytest.raises(ConnectionRejected) as rejected:
        await client.connect()
    assert rejected.value.code == 4401
    await client.close()
