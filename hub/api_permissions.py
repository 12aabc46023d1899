from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from hub.authentication import request_terminal


class IsTerminal(BasePermission):
    """Every API call acts as a terminal: by its token or by the logged-in user's terminal."""

    message = "This call needs a terminal token or a user with a terminal."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request_terminal(request) is not None
