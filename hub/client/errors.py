from __future__ import annotations


class ClientError(Exception):
    """Base of everything the terminal client raises on its own account."""


class ProtocolError(ClientError):
    """The hub answered a frame with an `error` that re-sending will not cure."""

    def __init__(self, code: str, message: str, id: str | None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.id = id


class ConnectionRejected(ClientError):
    """The hub closed with 4401 (bad credential) or 4403 (token revoked or rotated): retrying
    with the same credential cannot succeed, so the client stops."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"connection rejected with {code}: {reason or 'no reason given'}")
        self.code = code
        self.reason = reason


class ConnectionLost(ClientError):
    """The connection closed before the reply to a `request()` arrived. `code` is the close
    code when the hub sent one (1009: a frame over 1 MiB)."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"connection lost ({code if code is not None else 'no close frame'})")
        self.code = code
        self.reason = reason


class FrameTooLarge(ClientError):
    """The encoded frame is over the hub's 1 MiB limit; the hub would close the connection."""


class SubscriptionEnded(ClientError):
    """The hub ended the subscription (`subscription.ended`) before its subscribe was acked."""

    def __init__(self, topic: str) -> None:
        super().__init__(f"subscription to {topic} ended")
        self.topic = topic


class ClientClosed(ClientError):
    """The application closed the client while this call was waiting."""
