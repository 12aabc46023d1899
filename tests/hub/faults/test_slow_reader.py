"""A terminal that stops reading is cut off; everyone else keeps their stream, memory stays."""

import asyncio
import json
import socket
import uuid

import pytest
import websockets

from tests.conftest import casualty_report_data
from tests.support.hubs import DaphneProcess
from tests.support.protocol import connect_terminal

pytestmark = [pytest.mark.asyncio, pytest.mark.faults]


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture
def roomy_hub(hub_env):
    hub = DaphneProcess(env={**hub_env, "HUB_SLOW_READER_BYTES": str(1024 * 1024),
                             "HUB_RATE_LIMIT_PER_SECOND": "5000",
                             "HUB_RATE_LIMIT_BURST": "5000"}).start()
    yield hub
    hub.stop()


async def test_a_reader_that_stops_reading_is_closed_and_others_get_every_message(
        roomy_hub, roles):
    field = await connect_terminal(roomy_hub.ws_url, roles.field)
    data = casualty_report_data()
    await field.send("casualty.report", "event:wic-test", data)
    topic = f"casualty:{data['casualty']}"
    healthy = await connect_terminal(roomy_hub.ws_url, roles.command)
    await healthy.subscribe(topic)

    # The stalled reader: a small receive buffer, and websockets stops reading the socket
    # once its one-message queue is full, so the hub's side has to hold what it sends.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.connect(("127.0.0.1", roomy_hub.port))
    sock.setblocking(False)
    stalled = await websockets.connect(roomy_hub.ws_url, sock=sock, max_queue=1,
                                       max_size=None, ping_interval=None)
    await stalled.send(json.dumps({"type": "hello", "id": "h",
                                   "data": {"token": roles.command}}))
    await stalled.recv()
    await stalled.send(json.dumps({"type": "subscribe", "id": "s", "topic": topic}))
    rss_before = _rss_kib(roomy_hub.process.pid)

    segment = {"t0": "2019-10-20T09:00:00Z", "hz": 250, "signal": "ecg_ii", "unit": "mV",
               "samples": [0.123456] * 4000}
    frames = 300  # about 11 MB of ECG: far beyond the 1 MiB limit and the socket buffers
    acks = await asyncio.gather(*(
        field.request({"type": "waveform", "id": str(uuid.uuid4()), "topic": topic,
                       "data": segment}, timeout=120)
        for _ in range(frames)))
    assert all(ack["type"] == "ack" for ack in acks)
    received = await healthy.messages_until(topic, frames, timeout=60)
    assert [m["seq"] for m in received] == list(range(1, frames + 1))

    # The stalled terminal now reads what reached it: the hub cut it off part way (close
    # 4008, or a dropped connection when the close handshake timed out).
    drained = 0
    with pytest.raises(websockets.ConnectionClosed) as cut_off:
        while True:
            await asyncio.wait_for(stalled.recv(), 10)
            drained += 1
    assert drained < frames
    assert cut_off.value.rcvd is None or cut_off.value.rcvd.code == 4008
    growth_mib = (_rss_kib(roomy_hub.process.pid) - rss_before) / 1024
    assert growth_mib < 80, f"server grew {growth_mib:.0f} MiB for one stalled reader"
    await field.close()
    await healthy.close()
