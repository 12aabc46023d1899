"""One load generator process: many protocol terminals on one asyncio loop.

Driven by bench/load_bench.py over stdin/stdout, one JSON object per line:

1. it reads its plan (senders with their streams, viewers with their topics, idle terminals),
   connects every terminal, says hello with its token, subscribes the viewers, and prints
   {"ready": ...};
2. it reads {"start": <time.monotonic() of the first send>} and runs: every stream sends on
   its own fixed schedule (pipelined: a frame does not wait for the previous ack, as a
   monitor does not wait either), viewers record every stored message they receive;
3. after `duration` it stops sending, waits until its acks are in and its viewers have been
   quiet for a second (at most `drain` seconds), and prints what it saw.

Times are `time.monotonic()`, which on Linux is one clock for every process on the machine,
so the parent can subtract a sender's send time from a viewer's receipt time.

The generator measures itself: its event loop's lateness (a 10 ms ticker) and each send's
lateness against its schedule. A late loop means the figures describe the generator, not
the server, and the parent says so.
"""

import asyncio
import json
import math
import os
import random
import sys
import time
from datetime import UTC, datetime
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

REPLY_TYPES = {"welcome", "ack", "error", "pong"}
CONNECT_CONCURRENCY = 32
QUIET_SECONDS = 1.0
# Setup replies (welcome, subscribe acks) from a loaded hub may be slow, but not this slow.
REPLY_TIMEOUT_SECONDS = 120.0


def iso_now() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def ecg_template(samples_per_second: int = 250, heart_rate: float = 75.0) -> list[float]:
    """One second of a plausible lead II trace in mV (P, QRS, T as Gaussian bumps)."""
    beat = 60.0 / heart_rate
    trace = []
    for index in range(samples_per_second):
        phase = (index / samples_per_second) % beat / beat
        value = (0.12 * math.exp(-((phase - 0.18) / 0.025) ** 2)
                 - 0.10 * math.exp(-((phase - 0.29) / 0.008) ** 2)
                 + 1.10 * math.exp(-((phase - 0.31) / 0.010) ** 2)
                 - 0.20 * math.exp(-((phase - 0.33) / 0.010) ** 2)
                 + 0.30 * math.exp(-((phase - 0.55) / 0.040) ** 2))
        trace.append(round(value, 3))
    return trace


ECG = ecg_template()


def stream_data(kind: str, counter: int) -> dict[str, Any]:
    if kind == "vitals":
        return {"t": iso_now(), "hr": 70 + counter % 20, "spo2": 95 + counter % 5,
                "rr": 14 + counter % 6, "sbp": 110 + counter % 25, "dbp": 70 + counter % 15}
    if kind == "waveform":
        start = (counter % 10) * 25
        return {"t0": iso_now(), "hz": 250, "signal": "ecg_ii", "unit": "mV",
                "samples": ECG[start:start + 25]}
    if kind == "position":
        drift = (counter % 600) * 1e-5
        return {"t": iso_now(), "lat": 30.74 + drift, "lon": 120.49 + drift,
                "heading": float(counter * 7 % 360), "speed": 12.5, "accuracy": 8.0}
    raise ValueError(f"unknown stream kind {kind}")


class Generator:
    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.prefix = f"{plan['tag']}.{plan['worker']}."
        self.counter = 0
        # Per sent frame: [id, topic, sent_at, acked_at, error_code]
        self.sent: list[list[Any]] = []
        self.pending: dict[str, int] = {}
        # Per stored message a viewer received: [viewer, id, received_at, topic, seq]
        self.deliveries: list[list[Any]] = []
        self.last_delivery = 0.0
        self.schedule_lag: list[float] = []
        self.loop_lag: list[float] = []
        self.unexpected_closes: list[Any] = []
        self.setup_errors: list[str] = []
        self.replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.running = True
        # The loop keeps only weak references to tasks.
        self.readers: set[asyncio.Task[None]] = set()

    # --- connections -------------------------------------------------------------------------

    async def open(self, url: str, token: str, viewer: int | None,
                   limit: asyncio.Semaphore) -> tuple[ClientConnection, dict[str, Any]]:
        async with limit:
            connection = await websockets.connect(url, max_size=None, open_timeout=60,
                                                  ping_interval=20, ping_timeout=60,
                                                  close_timeout=2)
            self.readers.add(asyncio.get_running_loop().create_task(
                self.read(connection, viewer)))
            welcome = await self.request(connection, {"type": "hello", "id": self.new_id(),
                                                      "data": {"token": token}})
            if welcome["type"] != "welcome":
                raise RuntimeError(f"hello refused: {welcome}")
            return connection, welcome

    def new_id(self) -> str:
        self.counter += 1
        return f"{self.prefix}{self.counter}"

    async def request(self, connection: ClientConnection, frame: dict[str, Any]
                      ) -> dict[str, Any]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[frame["id"]] = future
        await connection.send(json.dumps(frame))
        return await asyncio.wait_for(future, REPLY_TIMEOUT_SECONDS)

    async def read(self, connection: ClientConnection, viewer: int | None) -> None:
        try:
            async for text in connection:
                received = time.monotonic()
                frame = json.loads(text)
                kind = frame.get("type")
                if kind in REPLY_TYPES:
                    frame_id = frame.get("id")
                    index = self.pending.pop(frame_id, None)
                    if index is not None:
                        self.sent[index][3] = received
                        if kind == "error":
                            self.sent[index][4] = frame.get("code")
                        continue
                    future = self.replies.pop(frame_id, None)
                    if future is not None and not future.done():
                        future.set_result(frame)
                elif viewer is not None and "seq" in frame:
                    self.deliveries.append([viewer, frame.get("id"), received, frame["topic"],
                                            frame["seq"]])
                    self.last_delivery = received
        except websockets.ConnectionClosed:
            pass
        if self.running:
            self.unexpected_closes.append(connection.close_code)

    async def subscribe(self, connection: ClientConnection, topics: dict[str, int]) -> None:
        async def one(topic: str, since: int) -> None:
            for _attempt in range(30):
                reply = await self.request(connection, {"type": "subscribe", "id": self.new_id(),
                                                        "topic": topic, "since": since})
                if reply["type"] == "ack":
                    return
                if reply.get("code") != "rate_limited":
                    self.setup_errors.append(f"subscribe {topic}: {reply}")
                    return
                await asyncio.sleep(1.0)
            self.setup_errors.append(f"subscribe {topic}: still rate limited")

        await asyncio.gather(*(one(topic, since) for topic, since in topics.items()))

    # --- load --------------------------------------------------------------------------------

    async def stream(self, connection: ClientConnection, kind: str, topic: str, hz: float,
                     start: float, stop: float) -> None:
        period = 1.0 / hz
        due = start + random.uniform(0, period)
        count = 0
        while due < stop:
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            frame_id = self.new_id()
            text = json.dumps({"type": kind, "id": frame_id, "topic": topic,
                               "data": stream_data(kind, count)}, separators=(",", ":"))
            now = time.monotonic()
            self.schedule_lag.append(now - due)
            self.pending[frame_id] = len(self.sent)
            self.sent.append([frame_id, topic, now, None, None])
            try:
                await connection.send(text)
            except websockets.ConnectionClosed:
                self.sent[-1][4] = "closed"
                return
            count += 1
            due += period

    async def tick(self) -> None:
        while self.running:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            self.loop_lag.append(time.monotonic() - before - 0.01)

    async def run(self) -> None:
        plan = self.plan
        limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
        connect_started = time.monotonic()
        senders = await asyncio.gather(*(self.open(s["url"], s["token"], None, limit)
                                         for s in plan["senders"]))
        viewers = await asyncio.gather(*(self.open(v["url"], v["token"], v["index"], limit)
                                         for v in plan["viewers"]))
        idle = await asyncio.gather(*(self.open(i["url"], i["token"], None, limit)
                                      for i in plan["idle"]))
        await asyncio.gather(*(self.subscribe(connection, v["topics"])
                               for (connection, _), v in zip(viewers, plan["viewers"],
                                                             strict=True)))
        # An idle terminal listens on its own topic, as every screen does.
        await asyncio.gather(*(self.subscribe(connection, {
            f"terminal:{welcome['data']['terminal']['name']}": 0}) for connection, welcome in idle))
        emit({"ready": True, "connect_seconds": time.monotonic() - connect_started,
              "connections": len(senders) + len(viewers) + len(idle),
              "setup_errors": self.setup_errors})

        start = json.loads(await asyncio.to_thread(sys.stdin.readline))["start"]
        stop = start + plan["duration"]
        ticker = asyncio.get_running_loop().create_task(self.tick())
        cpu_before = sum(os.times()[:2])
        await asyncio.gather(*(
            self.stream(connection, stream["type"], stream["topic"], stream["hz"], start, stop)
            for (connection, _), sender in zip(senders, plan["senders"], strict=True)
            for stream in sender["streams"]))
        deadline = stop + plan["drain"]
        while time.monotonic() < deadline:
            quiet = time.monotonic() - max(self.last_delivery, stop)
            if not self.pending and quiet >= QUIET_SECONDS:
                break
            await asyncio.sleep(0.1)
        cpu_seconds = sum(os.times()[:2]) - cpu_before
        window = time.monotonic() - start
        self.running = False
        ticker.cancel()
        emit({"sent": self.sent, "deliveries": self.deliveries,
              "schedule_lag": self.schedule_lag, "loop_lag": self.loop_lag,
              "cpu_percent": 100.0 * cpu_seconds / window,
              "unexpected_closes": self.unexpected_closes})
        await asyncio.gather(*(connection.close() for connection, _ in (*senders, *viewers, *idle)))


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def main() -> None:
    plan = json.loads(sys.stdin.readline())
    asyncio.run(Generator(plan).run())


if __name__ == "__main__":
    main()
