"""PROTOCOL.md's only HTTP-level rule: an Origin header, when present, must be an allowed host.

A handshake without Origin (a device, a gateway) passes, but is marked so that it can only
authenticate with a token: session cookies are for browsers, and browsers always send Origin.
"""

from typing import Any
from urllib.parse import urlparse

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import validate_host


class OriginCheck:
    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        origin = None
        for name, value in scope.get("headers", []):
            if name == b"origin":
                origin = value.decode("latin1")
                break
        if origin is None:
            return await self.application({**scope, "hub.browser_origin": False}, receive, send)
        host = urlparse(origin).hostname
        if host is not None and ":" in host:
            host = f"[{host}]"
        if host is None or not validate_host(host, settings.ALLOWED_HOSTS):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.application({**scope, "hub.browser_origin": True}, receive, send)
