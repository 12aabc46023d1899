from typing import Annotated

from hub.payloads import Payload, boolean, integer, text


class Beds(Payload):
    red: Annotated[int, integer(0, 10000)]
    yellow: Annotated[int, integer(0, 10000)]
    green: Annotated[int, integer(0, 10000)]


class Capacity(Payload):
    beds: Beds
    diversion: Annotated[bool, boolean]
    note: Annotated[str | None, text(500)] = None
