"""The error codes of PROTOCOL.md as exceptions, so services can refuse without knowing sockets."""


class ProtocolError(Exception):
    code = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(ProtocolError):
    code = "invalid"


class Forbidden(ProtocolError):
    code = "forbidden"


class Conflict(ProtocolError):
    code = "conflict"


class RateLimited(ProtocolError):
    code = "rate_limited"


class Unavailable(ProtocolError):
    code = "unavailable"


class UnknownType(ProtocolError):
    code = "unknown_type"
