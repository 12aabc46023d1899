"""Two ping-answering ASGI applications for the transport floor of bench/load_bench.py.

Served by Daphne like the hub, they answer `ping` with `pong` (and `hello` with `welcome`)
and do nothing else, so their CPU per frame is what Daphne (Twisted, Autobahn) and Channels
cost before the hub does any work of its own:

    python -m daphne -p PORT bench.daphne_echo:raw_echo          # ASGI straight on Daphne
    python -m daphne -p PORT bench.daphne_echo:channels_echo     # a Channels consumer
"""

import json
import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")

import django

django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


def _answer(text: str) -> str:
    frame = json.loads(text)
    return json.dumps({"type": "pong" if frame.get("type") == "ping" else "welcome",
                       "id": frame.get("id")})


class _EchoConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.send(text_data=_answer(text_data))


async def _raw(scope: dict[str, Any], receive: Any, send: Any) -> None:
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif event["type"] == "websocket.receive" and event.get("text") is not None:
            await send({"type": "websocket.send", "text": _answer(event["text"])})
        elif event["type"] == "websocket.disconnect":
            return


raw_echo = ProtocolTypeRouter({"websocket": _raw})
channels_echo = ProtocolTypeRouter(
    {"websocket": URLRouter([path("ws/terminal/", _EchoConsumer.as_asgi())])})
