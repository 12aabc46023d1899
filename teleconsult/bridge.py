"""The aiortc media bridge: a peer of its own in consults that asked for it.

It runs as the command terminal named by TELECONSULT_BRIDGE_TERMINAL, reads the hub-made
`consult.offered` on its own `terminal:` topic, joins with `role: bridge`, and answers every
offer addressed to it. What the requester (the crew) sends is

- recorded, when the requester consented (`record`), to a WebM file that is uploaded with
  POST /api/v1/media/ and attached to the casualty's record with a `media` message once the
  consult ends;
- relayed, in fan-out mode, to every other participant that offers to the bridge, so the
  crew's uplink carries one copy of its video whatever the number of viewers.

No Django: like hub.client it talks to the hub only over the protocol and HTTP, so it can
run on another host.
"""

import asyncio
import contextlib
import json
import logging
import tempfile
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRecorder, MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from hub.client import Frame, TerminalClient

logger = logging.getLogger(__name__)

# How long a viewer's offer waits for the crew's uplink before it is answered without it.
UPLINK_WAIT_SECONDS = 10.0


@dataclass
class BridgedConsult:
    consult: str
    casualty: str
    record: bool
    fanout: bool
    requester: str
    peers: dict[str, RTCPeerConnection] = field(default_factory=dict)
    uplink: list[MediaStreamTrack] = field(default_factory=list)
    uplink_ready: asyncio.Event = field(default_factory=asyncio.Event)
    recorder: MediaRecorder | None = None
    recording: Path | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class MediaBridge:
    def __init__(self, client: TerminalClient, *, http_url: str, token: str,
                 name: str, workdir: Path) -> None:
        self.client = client
        self.http_url = http_url.rstrip("/")
        self.token = token
        self.name = name
        self.workdir = workdir
        self.relay = MediaRelay()
        self.consults: dict[str, BridgedConsult] = {}
        self.finished: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        await self.client.subscribe(f"terminal:{self.name}")
        async for frame in self.client.messages():
            await self.handle(frame)

    async def handle(self, frame: Frame) -> None:
        kind, data = frame.get("type"), frame.get("data", {})
        if kind == "consult.offered" and (data.get("record") or data.get("fanout")):
            await self._join(data)
            return
        topic = str(frame.get("topic", ""))
        bridged = self.consults.get(topic.removeprefix("consult:"))
        if bridged is None:
            return
        if kind == "rtc.offer" and data.get("to") == self.name:
            # A viewer's answer may wait for the uplink; the loop must go on reading meanwhile.
            task = asyncio.create_task(self._answer(bridged, str(frame["from"]), data["sdp"]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif kind == "consult.state" and data.get("status") == "ended":
            await self._finish(bridged)

    async def _join(self, offer: dict[str, Any]) -> None:
        consult = offer["consult"]
        if consult in self.consults:
            return
        self.consults[consult] = BridgedConsult(
            consult=consult, casualty=offer["casualty"], record=bool(offer.get("record")),
            fanout=bool(offer.get("fanout")), requester=offer["requested_by"],
        )
        await self.client.send("consult.join", f"consult:{consult}", {"role": "bridge"})
        await self.client.subscribe(f"consult:{consult}")

    async def _answer(self, bridged: BridgedConsult, peer: str, sdp: str) -> None:
        old = bridged.peers.pop(peer, None)
        if old is not None:
            await old.close()
        pc = RTCPeerConnection()
        bridged.peers[peer] = pc
        from_requester = peer == bridged.requester
        if from_requester:
            pc.on("track", lambda track: self._uplink_track(bridged, track))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        if from_requester:
            # on("track") fired during setRemoteDescription; the recorder needs them all.
            await self._start_recording(bridged)
        elif bridged.fanout:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(bridged.uplink_ready.wait(), UPLINK_WAIT_SECONDS)
            # Only the kinds the viewer's offer has room for: an answer cannot add m-lines.
            offered = {transceiver.kind for transceiver in pc.getTransceivers()}
            for track in bridged.uplink:
                if track.kind in offered:
                    pc.addTrack(self.relay.subscribe(track))
        await pc.setLocalDescription(await pc.createAnswer())
        await self.client.send("rtc.answer", f"consult:{bridged.consult}",
                               {"sdp": pc.localDescription.sdp, "to": peer})

    def _uplink_track(self, bridged: BridgedConsult, track: MediaStreamTrack) -> None:
        bridged.uplink.append(track)

    async def _start_recording(self, bridged: BridgedConsult) -> None:
        if bridged.uplink:
            bridged.uplink_ready.set()
        if not bridged.record or bridged.recorder is not None or not bridged.uplink:
            return
        bridged.recording = self.workdir / f"consult-{bridged.consult}.webm"
        bridged.recorder = MediaRecorder(str(bridged.recording), format="webm")
        for track in bridged.uplink:
            # The recorder reads its own copy so that relaying and recording never compete
            # for frames of one track.
            bridged.recorder.addTrack(self.relay.subscribe(track) if bridged.fanout else track)
        await bridged.recorder.start()

    async def _finish(self, bridged: BridgedConsult) -> None:
        self.consults.pop(bridged.consult, None)
        if bridged.recorder is not None:
            await bridged.recorder.stop()
        for pc in bridged.peers.values():
            await pc.close()
        media_id = None
        if bridged.recording is not None and bridged.recording.stat().st_size > 0:
            media_id = await asyncio.to_thread(self._upload, bridged.recording)
            await self.client.send("media", f"casualty:{bridged.casualty}", {
                "media": media_id, "kind": "video",
                "caption": f"Teleconsult recording {bridged.consult}",
            })
            bridged.recording.unlink()
        await self.finished.put((bridged.consult, media_id))

    def _upload(self, path: Path) -> str:
        boundary = uuid.uuid4().hex
        body = b"".join([
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nvideo\r\n"
            .encode(),
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{path.name}\"\r\nContent-Type: video/webm\r\n\r\n".encode(),
            path.read_bytes(), f"\r\n--{boundary}--\r\n".encode(),
        ])
        request = urllib.request.Request(
            f"{self.http_url}/api/v1/media/", data=body, method="POST",
            headers={"Authorization": f"Bearer {self.token}",
                     "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return str(json.loads(response.read())["id"])


async def run_bridge(*, ws_url: str, http_url: str, token: str, name: str) -> None:
    async with TerminalClient([ws_url], token=token) as client:
        with tempfile.TemporaryDirectory(prefix="media-bridge-") as workdir:
            await MediaBridge(client, http_url=http_url, token=token, name=name,
                              workdir=Path(workdir)).run()
