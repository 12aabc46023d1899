"""Consults over a live hub: aiortc peers signal through the journal and exchange media; the
bridge records; terminals outside the consult cannot signal into it."""

import asyncio
import json
import subprocess
import uuid

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack
from av import VideoFrame

from hub.client import Frame, TerminalClient
from tests.conftest import casualty_report_data
from tests.support.db import in_db
from tests.support.protocol import connect_terminal

pytestmark = pytest.mark.asyncio


def _expert_of(name: str, specialty: str) -> None:
    from hub.models import Terminal
    from teleconsult.models import ExpertSpecialty

    ExpertSpecialty.objects.create(terminal=Terminal.objects.get(name=name), specialty=specialty)


class SmallVideoTrack(VideoStreamTrack):
    """A 160x120 test picture: the sender, bridge and recorder share this process, and at
    aiortc's default 640x480 a busy machine makes them fall seconds behind the wall clock."""

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=160, height=120)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.pts, frame.time_base = pts, time_base
        return frame


async def _casualty(client: TerminalClient) -> str:
    data = casualty_report_data()
    await client.send("casualty.report", "event:wic-test", data)
    return str(data["casualty"])


async def _next(client: TerminalClient, type: str, *, to: str | None = None,
                timeout: float = 15) -> Frame:
    async with asyncio.timeout(timeout):
        async for frame in client.messages():
            if frame.get("type") == type and (to is None or frame["data"].get("to") == to):
                return frame
    raise AssertionError(f"no {type}")


async def _received_frame(track: MediaStreamTrack) -> object:
    return await asyncio.wait_for(track.recv(), 15)


async def test_two_aiortc_peers_consult_through_the_hub_and_exchange_media(live_hub, roles):
    from field_terminal.models import CasualtyNote
    from teleconsult.models import Consult

    await in_db(_expert_of, "expert-1", "trauma")
    async with TerminalClient([live_hub.ws_url], token=roles.field) as medic, \
            TerminalClient([live_hub.ws_url], token=roles.expert) as expert:
        casualty = await _casualty(medic)
        consult = str(uuid.uuid4())
        await expert.subscribe("terminal:expert-1")
        await medic.send("consult.request", f"casualty:{casualty}", {
            "consult": consult, "specialty": "trauma", "urgency": "immediate",
            "reason": "tension pneumothorax?"})
        offered = await _next(expert, "consult.offered")
        assert offered["data"]["consult"] == consult
        assert offered["data"]["requested_by"] == "medic-1"
        await medic.subscribe(f"consult:{consult}")
        await expert.send("consult.join", f"consult:{consult}", {})
        await expert.subscribe(f"consult:{consult}")

        # The later joiner (the expert) offers to the earlier one (the medic).
        caller, callee = RTCPeerConnection(), RTCPeerConnection()
        at_medic: list[MediaStreamTrack] = []
        at_expert: list[MediaStreamTrack] = []
        callee.on("track", at_medic.append)
        caller.on("track", at_expert.append)
        caller.addTrack(AudioStreamTrack())
        caller.addTrack(VideoStreamTrack())
        callee.addTrack(VideoStreamTrack())
        await caller.setLocalDescription(await caller.createOffer())
        await expert.send("rtc.offer", f"consult:{consult}",
                          {"sdp": caller.localDescription.sdp, "to": "medic-1"})
        offer = await _next(medic, "rtc.offer", to="medic-1")
        assert offer["from"] == "expert-1"
        await callee.setRemoteDescription(RTCSessionDescription(offer["data"]["sdp"], "offer"))
        await callee.setLocalDescription(await callee.createAnswer())
        await medic.send("rtc.answer", f"consult:{consult}",
                         {"sdp": callee.localDescription.sdp, "to": "expert-1"})
        answer = await _next(expert, "rtc.answer", to="expert-1")
        await caller.setRemoteDescription(RTCSessionDescription(answer["data"]["sdp"], "answer"))

        assert sorted(t.kind for t in at_medic) == ["audio", "video"]
        assert [t.kind for t in at_expert] == ["video"]
        for track in (*at_medic, *at_expert):
            await _received_frame(track)
        assert caller.connectionState == "connected"

        await expert.send("advice", f"consult:{consult}", {"text": "Needle decompression now."})
        await medic.send("consult.end", f"consult:{consult}", {"summary": "decompressed"})
        await caller.close()
        await callee.close()

    status = await in_db(lambda: Consult.objects.get(pk=consult).status)
    notes = await in_db(lambda: sorted(CasualtyNote.objects.filter(casualty_id=casualty)
                                       .values_list("author", "text")))
    assert status == "ended"
    assert notes == [("expert-1", "Needle decompression now."), ("medic-1", "decompressed")]


async def test_a_non_participant_cannot_signal_join_or_read_a_consult(live_hub, roles):
    await in_db(_expert_of, "expert-1", "burns")
    medic = await connect_terminal(live_hub.ws_url, roles.field)
    data = casualty_report_data()
    await medic.send("casualty.report", "event:wic-test", data)
    consult = str(uuid.uuid4())
    reply = await medic.send("consult.request", f"casualty:{data['casualty']}", {
        "consult": consult, "specialty": "trauma", "urgency": "urgent"})
    assert reply["type"] == "ack"
    outsider = await connect_terminal(live_hub.ws_url, roles.other_field)
    topic = f"consult:{consult}"
    offer = await outsider.send("rtc.offer", topic, {"sdp": "v=0", "to": "medic-1"})
    ice = await outsider.send("rtc.ice", topic, {"candidate": "", "to": "medic-1"})
    join = await outsider.send("consult.join", topic, {})
    sub = await outsider.request({"type": "subscribe", "id": "s1", "topic": topic})
    assert [r["code"] for r in (offer, ice, join, sub)] == ["forbidden"] * 4
    # An expert of another specialty is not offered the consult and may not join it.
    expert = await connect_terminal(live_hub.ws_url, roles.expert)
    assert (await expert.send("consult.join", topic, {}))["code"] == "forbidden"
    # A participant cannot address a terminal outside the consult.
    stray = await medic.send("rtc.offer", topic, {"sdp": "v=0", "to": "medic-2"})
    assert (stray["code"], stray["message"]) == ("invalid", "data.to: medic-2 is not in this consult")
    bad = await medic.send("rtc.ice", topic, {"candidate": "", "sdpMLineIndex": -1,
                                              "to": "medic-2"})
    assert (bad["code"], bad["message"]) == ("invalid", "data.sdpMLineIndex: must be 0..64")


def _duration_seconds(path: str) -> float:
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-show_entries",
         "format=duration:stream=codec_type,nb_read_packets", "-of", "json", path],
        capture_output=True, text=True, check=True, timeout=30)
    info = json.loads(probe.stdout)
    assert {s["codec_type"] for s in info["streams"]} == {"audio", "video"}
    return float(info["format"]["duration"])


async def test_the_bridge_records_the_uplink_into_the_casualty_record(live_hub, roles, tmp_path):
    from field_terminal.models import CasualtyMedia
    from hub.services import terminal_token_issue
    from teleconsult.bridge import MediaBridge

    bridge_token = await in_db(lambda: terminal_token_issue(kind="command",
                                                           name="media-bridge").token)
    async with TerminalClient([live_hub.ws_url], token=roles.field) as medic, \
            TerminalClient([live_hub.ws_url], token=bridge_token) as bridge_client:
        bridge = MediaBridge(bridge_client, http_url=live_hub.http_url, token=bridge_token,
                             name="media-bridge", workdir=tmp_path)
        running = asyncio.create_task(bridge.run())
        casualty = await _casualty(medic)
        consult = str(uuid.uuid4())
        await medic.send("consult.request", f"casualty:{casualty}", {
            "consult": consult, "specialty": "trauma", "urgency": "urgent", "record": True})
        await medic.subscribe(f"consult:{consult}")
        async with asyncio.timeout(15):
            async for frame in medic.messages():
                roles_now = [p["role"] for p in frame.get("data", {}).get("participants", [])]
                if frame.get("type") == "consult.state" and "bridge" in roles_now:
                    break
        uplink = RTCPeerConnection()
        connected = asyncio.Event()

        @uplink.on("connectionstatechange")
        def on_state() -> None:
            if uplink.connectionState == "connected":
                connected.set()

        uplink.addTrack(AudioStreamTrack())
        uplink.addTrack(SmallVideoTrack())
        await uplink.setLocalDescription(await uplink.createOffer())
        await medic.send("rtc.offer", f"consult:{consult}",
                         {"sdp": uplink.localDescription.sdp, "to": "media-bridge"})
        answer = await _next(medic, "rtc.answer", to="medic-1")
        await uplink.setRemoteDescription(RTCSessionDescription(answer["data"]["sdp"], "answer"))
        await asyncio.wait_for(connected.wait(), 15)
        await asyncio.sleep(3.0)
        await medic.send("consult.end", f"consult:{consult}", {})
        finished, media_id = await asyncio.wait_for(bridge.finished.get(), 30)
        await uplink.close()
        running.cancel()

    assert (finished, media_id is not None) == (consult, True)
    attached = await in_db(lambda: CasualtyMedia.objects.select_related("media")
                           .get(casualty_id=casualty))
    assert (str(attached.media_id), attached.media.kind) == (media_id, "video")
    duration = await asyncio.to_thread(_duration_seconds, attached.media.file.path)
    assert 2.0 <= duration <= 5.0
