"""Sessions on terminal sockets, read once: a socket's browser user without a wrapper of every send.

Channels' SessionMiddleware wraps a connection's `send` so that it can save the session and
set its cookie on a response. A socket sends no response that carries a cookie, and the hub
never changes a session over a socket: the session is read once, to find a browser's user at
hello. Yet the wrapper looked at the session on every send, every ack and every delivery,
about 5 % of a loaded server loop (docs/performance.md). This middleware puts the same lazily
loaded session in the scope and leaves `send` alone.
"""

from importlib import import_module
from typing import Any

from channels.auth import AuthMiddleware
from channels.sessions import CookieMiddleware
from django.conf import settings


class SocketSessionMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if "cookies" not in scope:
            raise ValueError("SocketSessionMiddleware needs CookieMiddleware above it")
        # The store reads the session row only when something asks for it (AuthMiddleware,
        # for a browser's hello).
        session = self.session_store(scope["cookies"].get(settings.SESSION_COOKIE_NAME))
        return await self.inner({**scope, "session": session}, receive, send)


def socket_auth_stack(inner: Any) -> Any:
    """channels.auth.AuthMiddlewareStack, with sessions read once (the module's docstring)."""
    return CookieMiddleware(SocketSessionMiddleware(AuthMiddleware(inner)))
