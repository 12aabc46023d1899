"""Protocol figures on this machine: acknowledged vitals/s from many terminals, ack latency,
and fan-out latency to subscribers, against a real Daphne on its own benchmark database.

    python bench/protocol_bench.py [--terminals 50] [--seconds 15] [--subscribers 10]

Prints figures; asserts nothing (the machine is shared and noisy). The hub runs with a raised
per-terminal rate limit so that the hub's capacity, not the limit, is measured.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.hubs import DaphneProcess  # noqa: E402
from tests.support.protocol import RawTerminal, connect_terminal  # noqa: E402

BENCH_DB = "mcihub_bench"
T = "2019-10-20T09:00:00Z"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def prepare_database(env: dict[str, str], terminals: int, subscribers: int) -> dict[str, list[str]]:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                    f"DROP DATABASE IF EXISTS {BENCH_DB}"], check=True, capture_output=True)
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                    f"CREATE DATABASE {BENCH_DB}"], check=True, capture_output=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    script = (
        "import json; from command_center.models import MassEvent;"
        "from hub.services import terminal_token_issue as issue;"
        "e = MassEvent.objects.create(slug='bench', name='bench', status='active',"
        " is_exercise=True);"
        f"f = [issue(kind='field', name=f'bench-medic-{{i}}', event=e).token"
        f" for i in range({terminals})];"
        f"c = [issue(kind='command', name=f'bench-view-{{i}}', event=e).token"
        f" for i in range({subscribers})];"
        "print(json.dumps({'field': f, 'command': c}))"
    )
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env,
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


async def report(terminal: RawTerminal) -> str:
    casualty = str(uuid.uuid4())
    ack = await terminal.send("casualty.report", "event:bench", {
        "casualty": casualty, "location": {"lat": 30.74, "lon": 120.49}, "category": "red",
        "method": "START"})
    assert ack["type"] == "ack", ack
    return f"casualty:{casualty}"


async def throughput(hub: DaphneProcess, tokens: list[str], seconds: float, window: int,
                     rate: float | None = None) -> None:
    """Flood with `window` frames in flight per terminal, or, with `rate`, send each
    terminal's frames at that many per second (the latency a steady load sees)."""
    terminals = [await connect_terminal(hub.ws_url, token) for token in tokens]
    topics = [await report(t) for t in terminals]
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def pump(terminal: RawTerminal, topic: str) -> None:
        nonlocal errors

        async def one() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                reply = await terminal.send("vitals", topic, {"t": T, "hr": 80, "spo2": 97})
                if reply["type"] == "ack":
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1
                if rate is not None:
                    await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - started)))

        await asyncio.gather(*(one() for _ in range(1 if rate else window)))

    started = time.perf_counter()
    await asyncio.gather(*(pump(t, topic) for t, topic in zip(terminals, topics, strict=True)))
    elapsed = time.perf_counter() - started
    load = f"{rate:g}/s each" if rate else f"{window} in flight each"
    print(f"acknowledged vitals from {len(terminals)} terminals ({load}): "
          f"{len(latencies) / elapsed:.0f}/s over {elapsed:.1f} s, errors {errors}")
    print(f"ack latency: p50 {percentile(latencies, .5) * 1000:.1f} ms, "
          f"p99 {percentile(latencies, .99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")
    for terminal in terminals:
        await terminal.close()


async def fanout(hub: DaphneProcess, sender_token: str, viewer_tokens: list[str], rate: float,
                 count: int) -> None:
    sender = await connect_terminal(hub.ws_url, sender_token)
    topic = await report(sender)
    viewers = [await connect_terminal(hub.ws_url, token) for token in viewer_tokens]
    for viewer in viewers:
        await viewer.subscribe(topic)
    sent_at: dict[str, float] = {}
    delays: list[float] = []

    async def watch(viewer: RawTerminal) -> None:
        seen = 0
        while seen < count:
            message = await viewer.next_message(timeout=30)
            if message.get("topic") == topic and message["id"] in sent_at:
                delays.append(time.perf_counter() - sent_at[message["id"]])
                seen += 1

    watchers = [asyncio.create_task(watch(v)) for v in viewers]
    for i in range(count):
        frame_id = str(uuid.uuid4())
        sent_at[frame_id] = time.perf_counter()
        await sender.send_raw(json.dumps({"type": "vitals", "id": frame_id, "topic": topic,
                                          "data": {"t": T, "hr": 60 + i % 60}}))
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*watchers)
    print(f"fan-out to {len(viewers)} subscribers at {rate:g} msg/s ({len(delays)} deliveries): "
          f"p50 {percentile(delays, .5) * 1000:.1f} ms, "
          f"p99 {percentile(delays, .99) * 1000:.1f} ms, max {max(delays) * 1000:.1f} ms, "
          f"mean {statistics.mean(delays) * 1000:.1f} ms")
    for terminal in (sender, *viewers):
        await terminal.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--terminals", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--subscribers", type=int, default=10)
    args = parser.parse_args()
    env = dict(os.environ)
    env.update({"DATABASE_URL": f"postgis://postgres@127.0.0.1:5432/{BENCH_DB}",
                "HUB_CHANNEL_PREFIX": f"bench-{uuid.uuid4().hex[:6]}", "DEBUG": "0",
                "SECRET_KEY": env.get("SECRET_KEY", "bench-secret-key-not-for-production-000000"),
                "HUB_RATE_LIMIT_PER_SECOND": "100000", "HUB_RATE_LIMIT_BURST": "100000",
                "LOG_LEVEL": "WARNING"})
    tokens = prepare_database(env, args.terminals, args.subscribers)
    hub = DaphneProcess(env=env).start()
    try:
        asyncio.run(throughput(hub, tokens["field"], args.seconds, args.window))
        asyncio.run(throughput(hub, tokens["field"], args.seconds, args.window, rate=2.0))
        asyncio.run(fanout(hub, tokens["field"][0], tokens["command"], rate=50, count=500))
    finally:
        hub.stop()


if __name__ == "__main__":
    main()
