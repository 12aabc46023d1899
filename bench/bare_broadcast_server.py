"""The yardstick for the hub: a bare `websockets` relay speaking the same frames, storing nothing.

    python bench/bare_broadcast_server.py --port 8765

Same wire shapes as PROTOCOL.md (hello -> welcome, subscribe -> ack, a message with a topic ->
ack to its sender and `{type, topic, seq, ts, from, id, data}` to every subscriber of that
topic, seq counted per topic in memory), but no authentication, no validation beyond JSON,
no permission checks, no journal and no replay (`since` is ignored). Whatever the hub costs on
top of this is the price of what it promises.
"""

import argparse
import asyncio
import json
import signal
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed


def iso_millis(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Relay:
    def __init__(self) -> None:
        self.subscribers: defaultdict[str, set[ServerConnection]] = defaultdict(set)
        self.heads: defaultdict[str, int] = defaultdict(int)

    def reply(self, connection: ServerConnection, frame: dict[str, Any]) -> None:
        broadcast([connection], json.dumps(frame, separators=(",", ":")))

    async def serve(self, connection: ServerConnection) -> None:
        name = "bare"
        subscribed: set[str] = set()
        try:
            async for text in connection:
                frame = json.loads(text)
                kind, frame_id, topic = frame.get("type"), frame.get("id"), frame.get("topic")
                if kind == "hello":
                    name = f"bare-{id(connection):x}"
                    self.reply(connection, {"type": "welcome", "id": frame_id, "data": {
                        "terminal": {"kind": "field", "name": name, "unit": None,
                                     "hospital": None},
                        "event": "bench", "server_time": iso_millis(datetime.now(UTC))}})
                elif kind == "ping":
                    self.reply(connection, {"type": "pong", "id": frame_id, "data": {
                        "server_time": iso_millis(datetime.now(UTC))}})
                elif kind == "subscribe":
                    self.subscribers[topic].add(connection)
                    subscribed.add(topic)
                    self.reply(connection, {"type": "ack", "id": frame_id, "topic": topic,
                                            "seq": self.heads[topic]})
                elif kind == "unsubscribe":
                    self.subscribers[topic].discard(connection)
                    subscribed.discard(topic)
                    self.reply(connection, {"type": "ack", "id": frame_id, "topic": topic,
                                            "seq": self.heads[topic]})
                else:
                    self.heads[topic] += 1
                    seq = self.heads[topic]
                    broadcast(self.subscribers[topic], json.dumps({
                        "type": kind, "topic": topic, "seq": seq,
                        "ts": iso_millis(datetime.now(UTC)), "from": name, "id": frame_id,
                        "data": frame.get("data")}, ensure_ascii=False, separators=(",", ":")))
                    self.reply(connection, {"type": "ack", "id": frame_id, "topic": topic,
                                            "seq": seq})
        except ConnectionClosed:
            pass
        finally:
            for topic in subscribed:
                self.subscribers[topic].discard(connection)


async def main(host: str, port: int) -> None:
    relay = Relay()
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with serve(relay.serve, host, port, max_size=None, ping_interval=None):
        print(f"bare broadcast server on ws://{host}:{port}/", flush=True)
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.host, arguments.port))
