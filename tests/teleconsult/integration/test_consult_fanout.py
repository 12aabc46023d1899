"""Fan-out over a live hub: the crew sends one uplink to the aiortc bridge, which relays it to
every viewer that offers to it."""

import asyncio
import uuid

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack
from av import VideoFrame

from hub.client import Frame, TerminalClient
from tests.conftest import casualty_report_data
from tests.support.db import in_db

pytestmark = pytest.mark.asyncio


def _experts(*names: str) -> list[str]:
    """Make the named terminals trauma experts; the tokens of those that had to be created."""
    from hub.models import Terminal
    from hub.services import terminal_token_issue
    from teleconsult.models import ExpertSpecialty

    tokens = []
    for name in names:
        if not Terminal.objects.filter(name=name).exists():
            tokens.append(terminal_token_issue(kind="expert", name=name).token)
        ExpertSpecialty.objects.create(terminal=Terminal.objects.get(name=name),
                                       specialty="trauma")
    return tokens


async def _next(client: TerminalClient, type: str, *, to: str, timeout: float = 20) -> Frame:
    async with asyncio.timeout(timeout):
        async for frame in client.messages():
            if frame.get("type") == type and frame["data"].get("to") == to:
                return frame
    raise AssertionError(f"no {type} to {to}")


async def _until_bridge_joined(client: TerminalClient) -> None:
    async with asyncio.timeout(20):
        async for frame in client.messages():
            participants = frame.get("data", {}).get("participants", [])
            if frame.get("type") == "consult.state" and any(
                    p["role"] == "bridge" for p in participants):
                return


async def _offer_to_bridge(client: TerminalClient, consult: str, pc: RTCPeerConnection,
                           me: str) -> None:
    await pc.setLocalDescription(await pc.createOffer())
    await client.send("rtc.offer", f"consult:{consult}",
                      {"sdp": pc.localDescription.sdp, "to": "media-bridge"})
    answer = await _next(client, "rtc.answer", to=me)
    assert answer["from"] == "media-bridge"
    await pc.setRemoteDescription(RTCSessionDescription(answer["data"]["sdp"], "answer"))


async def test_the_bridge_relays_one_crew_uplink_to_two_viewers(live_hub, roles, tmp_path):
    from hub.services import terminal_token_issue
    from teleconsult.bridge import MediaBridge

    bridge_token = await in_db(lambda: terminal_token_issue(kind="command",
                                                           name="media-bridge").token)
    (second_expert,) = await in_db(_experts, "expert-1", "expert-2")
    async with TerminalClient([live_hub.ws_url], token=roles.field) as medic, \
            TerminalClient([live_hub.ws_url], token=bridge_token) as bridge_client, \
            TerminalClient([live_hub.ws_url], token=roles.expert) as expert_1, \
            TerminalClient([live_hub.ws_url], token=second_expert) as expert_2:
        bridge = MediaBridge(bridge_client, http_url=live_hub.http_url, token=bridge_token,
                             name="media-bridge", workdir=tmp_path)
        running = asyncio.create_task(bridge.run())
        report = casualty_report_data()
        await medic.send("casualty.report", "event:wic-test", report)
        consult = str(uuid.uuid4())
        await medic.send("consult.request", f"casualty:{report['casualty']}", {
            "consult": consult, "specialty": "trauma", "urgency": "immediate", "fanout": True})
        await medic.subscribe(f"consult:{consult}")
        await _until_bridge_joined(medic)

        uplink = RTCPeerConnection()
        uplink.addTrack(AudioStreamTrack())
        uplink.addTrack(VideoStreamTrack())
        await _offer_to_bridge(medic, consult, uplink, "medic-1")

        viewers: list[RTCPeerConnection] = []
        relayed: list[asyncio.Future[MediaStreamTrack]] = []
        for name, client in (("expert-1", expert_1), ("expert-2", expert_2)):
            await client.send("consult.join", f"consult:{consult}", {})
            await client.subscribe(f"consult:{consult}")
            viewer = RTCPeerConnection()
            viewer.addTransceiver("video", direction="recvonly")
            arrived: asyncio.Future[MediaStreamTrack] = (
                asyncio.get_running_loop().create_future())
            viewer.on("track", lambda track, arrived=arrived: arrived.set_result(track))
            await _offer_to_bridge(client, consult, viewer, name)
            viewers.append(viewer)
            relayed.append(arrived)

        tracks = [await asyncio.wait_for(arrived, 20) for arrived in relayed]
        for track in tracks:
            first = await asyncio.wait_for(track.recv(), 20)
            later = await asyncio.wait_for(track.recv(), 20)
            assert isinstance(first, VideoFrame) and isinstance(later, VideoFrame)
            assert (first.width, first.height) == (640, 480)  # the crew's frames, relayed
            assert later.pts is not None and first.pts is not None and later.pts > first.pts
        # Both viewers hang off the bridge; the crew has its one link, to the bridge alone.
        bridged = bridge.consults[consult]
        assert sorted(bridged.peers) == ["expert-1", "expert-2", "medic-1"]

        await medic.send("consult.end", f"consult:{consult}", {})
        finished, media_id = await asyncio.wait_for(bridge.finished.get(), 30)
        assert (finished, media_id) == (consult, None)  # fan-out only: nothing recorded
        for pc in (uplink, *viewers):
            await pc.close()
        running.cancel()
