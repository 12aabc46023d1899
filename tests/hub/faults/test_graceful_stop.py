"""SIGTERM to a loaded Daphne: it stops within seconds, acknowledges what it stored, and says
goodbye (1001) to every socket so the terminals move to another server."""

import asyncio
import contextlib
import signal
import subprocess
import time
import uuid
from typing import Any

import pytest

from tests.conftest import casualty_report_data
from tests.support.db import in_db
from tests.support.hubs import DaphneProcess
from tests.support.protocol import RawTerminal, connect_terminal

pytestmark = [pytest.mark.asyncio, pytest.mark.faults]

T = "2019-10-20T09:00:00Z"
SOCKETS = 40
FRAMES_IN_FLIGHT_PER_SOCKET = 3
STOP_WITHIN_SECONDS = 10.0


class Monitor:
    """One casualty monitor's socket streaming vitals with a few frames always in flight."""

    def __init__(self, terminal: RawTerminal, topic: str) -> None:
        self.terminal = terminal
        self.topic = topic
        self.acked: set[str] = set()
        self.refused: dict[str, str] = {}

    async def stream(self) -> None:
        async def one_lane(lane: int) -> None:
            beat = 0
            while not self.terminal.closed.done():
                frame_id = f"v-{lane}-{beat}-{uuid.uuid4()}"
                beat += 1
                try:
                    reply = await self.terminal.send("vitals", self.topic,
                                                     {"t": T, "hr": 60 + beat % 90}, id=frame_id)
                except Exception:
                    return  # the socket closed before the reply: the terminal resends it
                if reply["type"] == "ack":
                    self.acked.add(frame_id)
                else:
                    self.refused[frame_id] = reply["code"]

        await asyncio.gather(*(one_lane(lane) for lane in range(FRAMES_IN_FLIGHT_PER_SOCKET)))


def _stored_ids(topics: list[str]) -> set[str]:
    from hub.models import JournalEntry

    return set(JournalEntry.objects.filter(topic__in=topics, type="vitals")
               .values_list("client_id", flat=True))


async def _monitor(hub: DaphneProcess, token: str) -> Monitor:
    terminal = await connect_terminal(hub.ws_url, token)
    data = casualty_report_data()
    ack = await terminal.send("casualty.report", "event:wic-test", data)
    assert ack["type"] == "ack", ack
    return Monitor(terminal, f"casualty:{data['casualty']}")


async def test_sigterm_under_load_stops_within_seconds_acknowledging_every_stored_frame(
        hub_env: dict[str, str], roles: Any) -> None:
    hub = DaphneProcess(env={**hub_env, "HUB_RATE_LIMIT_PER_SECOND": "100000",
                             "HUB_RATE_LIMIT_BURST": "100000"}).start()
    monitors: list[Monitor] = []
    try:
        monitors = list(await asyncio.gather(*(_monitor(hub, roles.field)
                                               for _ in range(SOCKETS))))
        streams = [asyncio.create_task(monitor.stream()) for monitor in monitors]
        await asyncio.sleep(2.0)
        assert hub.process is not None
        assert all(monitor.acked for monitor in monitors), "the load never got going"
        signalled = time.monotonic()
        hub.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(hub.process.wait, STOP_WITHIN_SECONDS)
        stopped_after = time.monotonic() - signalled
        assert hub.process.poll() is not None, \
            f"still running {STOP_WITHIN_SECONDS} s after SIGTERM under load"
        assert hub.process.returncode == 0
        close_codes = [await monitor.terminal.wait_closed(5) for monitor in monitors]
        # Every reply that came is counted; a frame still waiting has no socket to answer it.
        for stream in streams:
            stream.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
    finally:
        hub.stop()
        for monitor in monitors:
            with contextlib.suppress(Exception):
                await monitor.terminal.close()

    print(f"stopped {stopped_after:.2f} s after SIGTERM with {SOCKETS} busy sockets")
    assert close_codes == [1001] * SOCKETS
    acked = set().union(*(monitor.acked for monitor in monitors))
    stored = await in_db(_stored_ids, [monitor.topic for monitor in monitors])
    assert acked <= stored, "an acknowledged frame is missing from the journal"
    # The frames in flight when the signal came committed and were acknowledged before the
    # sockets closed; the ones that came later were refused, so nothing stored went unanswered.
    assert stored == acked, f"{len(stored - acked)} stored frame(s) never acknowledged"
    refusals = {code for monitor in monitors for code in monitor.refused.values()}
    assert refusals <= {"unavailable"}, refusals
