"""A raw protocol terminal for tests: frames exactly as written, replies matched by id.

The project's own client (hub.client) adds reconnects and outboxes; the protocol's
statements are tested here on the bare wire, so nothing the client does can hide a fault.
"""

import asyncio
import json
import uuid
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Origin

REPLY_TYPES = {"welcome", "ack", "error", "pong"}


class RawTerminal:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.replies: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self.unmatched_replies: list[dict[str, Any]] = []
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed = asyncio.get_running_loop().create_future()
        self.reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, url: str, *, origin: str | None = None,
                   headers: dict[str, str] | None = None) -> "RawTerminal":
        connection = await websockets.connect(
            url, origin=Origin(origin) if origin else None, additional_headers=headers, max_size=None, open_timeout=10,
            ping_interval=None,
        )
        return cls(connection)

    async def _read(self) -> None:
        try:
            async for text in self.connection:
                frame = json.loads(text)
                if frame.get("type") in REPLY_TYPES:
                    future = self.replies.pop(frame.get("id"), None)
                    if future is not None and not future.done():
                        future.set_result(frame)
                    else:
                        self.unmatched_replies.append(frame)
                else:
                    await self.messages.put(frame)
        except websockets.ConnectionClosed:
            pass
        finally:
            if not self.closed.done():
                rcvd = self.connection.close_code
                self.closed.set_result(rcvd)

    async def send_raw(self, frame: str | bytes) -> None:
        await self.connection.send(frame)

    async def request(self, frame: dict[str, Any] | str | bytes, *, reply_id: Any = None,
                      timeout: float = 10.0) -> dict[str, Any]:
        """Send a frame and wait for the one reply with its id (or `reply_id`)."""
        text: str | bytes
        if isinstance(frame, dict):
            key = frame.get("id") if reply_id is None else reply_id
            text = json.dumps(frame)
        else:
            key, text = reply_id, frame
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[key] = future
        await self.connection.send(text)
        return await asyncio.wait_for(future, timeout)

    async def hello(self, token: str | None) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "hello", "id": f"hello-{uuid.uuid4()}"}
        if token is not None:
            frame["data"] = {"token": token}
        return await self.request(frame)

    async def send(self, type: str, topic: str, data: dict[str, Any],
                   id: str | None = None) -> dict[str, Any]:
        return await self.request({"type": type, "id": id or str(uuid.uuid4()),
                                   "topic": topic, "data": data})

    async def subscribe(self, topic: str, since: int | None = None) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "subscribe", "id": str(uuid.uuid4()), "topic": topic}
        if since is not None:
            frame["since"] = since
        return await self.request(frame)

    async def next_message(self, timeout: float = 5.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.messages.get(), timeout)

    async def messages_until(self, topic: str, seq: int, timeout: float = 10.0
                             ) -> list[dict[str, Any]]:
        """Collect stored messages of `topic` until one with `seq` arrives."""
        collected: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            message = await asyncio.wait_for(self.messages.get(), max(remaining, 0.01))
            if message.get("topic") == topic:
                collected.append(message)
                if message.get("seq") == seq:
                    return collected

    async def wait_closed(self, timeout: float = 15.0) -> int | None:
        return await asyncio.wait_for(asyncio.shield(self.closed), timeout)

    async def close(self) -> None:
        await self.connection.close()
        self.reader.cancel()


async def connect_terminal(url: str, token: str) -> RawTerminal:
    terminal = await RawTerminal.open(url)
    welcome = await terminal.hello(token)
    assert welcome["type"] == "welcome", welcome
    return terminal
