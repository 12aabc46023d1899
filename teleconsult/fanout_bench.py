"""CPU of fan-out relaying: one synthetic uplink, relayed with MediaRelay as the bridge does,
to 0, 1, 2, 4 ... viewers over loopback; prints process CPU per viewer count and the slope.

`python -m teleconsult.fanout_bench [--seconds 10] [--viewers 0,1,2,4]`. The viewers run in
this process too, so the slope is an upper bound on the bridge's own cost per viewer: it
includes each viewer's VP8 decoding next to the bridge's per-viewer VP8 encoding.
"""

import argparse
import asyncio
import resource
import time

from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaBlackhole, MediaRelay
from aiortc.mediastreams import MediaStreamTrack, VideoStreamTrack


async def _connect(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(viewers: int, seconds: float) -> float:
    """Process CPU (fraction of one core) while the uplink is relayed to `viewers` peers."""
    relay = MediaRelay()
    crew, bridge_in = RTCPeerConnection(), RTCPeerConnection()
    uplink: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()

    @bridge_in.on("track")
    def on_uplink(track: MediaStreamTrack) -> None:
        if not uplink.done():
            uplink.set_result(track)

    crew.addTrack(VideoStreamTrack())
    await _connect(crew, bridge_in)
    track = await asyncio.wait_for(uplink, 15)
    sink = MediaBlackhole()  # keeps the uplink drained when no viewer is connected
    sink.addTrack(relay.subscribe(track))
    await sink.start()
    pcs = [crew, bridge_in]
    sinks = [sink]
    for _ in range(viewers):
        bridge_out, viewer = RTCPeerConnection(), RTCPeerConnection()
        bridge_out.addTrack(relay.subscribe(track))
        received: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
        viewer.on("track", received.set_result)
        await _connect(bridge_out, viewer)
        viewer_sink = MediaBlackhole()
        viewer_sink.addTrack(await asyncio.wait_for(received, 15))
        await viewer_sink.start()
        pcs += [bridge_out, viewer]
        sinks.append(viewer_sink)
    await asyncio.sleep(2)  # past ICE, DTLS and the encoder's first keyframes
    cpu, wall = _cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    share = (_cpu_seconds() - cpu) / (time.monotonic() - wall)
    for each in sinks:
        await each.stop()
    for pc in pcs:
        await pc.close()
    return share


async def main(counts: list[int], seconds: float) -> None:
    results = [(count, await measure(count, seconds)) for count in counts]
    for count, share in results:
        print(f"viewers={count} cpu={share * 100:.1f}% of one core")
    (n0, c0), (n1, c1) = results[0], results[-1]
    if n1 > n0:
        print(f"per viewer: {(c1 - c0) / (n1 - n0) * 100:.1f}% of one core")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--viewers", default="0,1,2,4")
    args = parser.parse_args()
    asyncio.run(main([int(n) for n in args.viewers.split(",")], args.seconds))
