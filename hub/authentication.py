"""REST authentication with the same terminal tokens as the socket (`Authorization: Bearer`)."""

from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from hub.models import Terminal
from hub.selectors import terminal_for_token, terminal_for_user


class TerminalTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Terminal] | None:
        header = authentication.get_authorization_header(request).decode("latin1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme != self.keyword or not token.strip():
            raise exceptions.AuthenticationFailed("Authorization: expected 'Bearer <token>'")
        terminal = terminal_for_token(token=token.strip())
        if terminal is None:
            raise exceptions.AuthenticationFailed("Authorization: the token is not valid")
        return terminal.user or AnonymousUser(), terminal

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class TerminalTokenScheme(OpenApiAuthenticationExtension):
    target_class = "hub.authentication.TerminalTokenAuthentication"
    name = "terminalToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer"}


def request_terminal(request: Request) -> Terminal | None:
    """The terminal behind a request: its token, or the logged-in user's terminal."""
    if isinstance(request.auth, Terminal):
        return request.auth
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        cached = getattr(request, "_hub_terminal", None)
        if cached is None:
            cached = terminal_for_user(user_id=user.pk)
            request._hub_terminal = cached  # type: ignore[attr-defined]
        return cached
    return None
