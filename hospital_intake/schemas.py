from typing import Annotated

from hub.payloads import Payload, boolean, integer, one_of, text, uuid_text


class Beds(Payload):
    red: Annotated[int, integer(0, 10000)]
    yellow: Annotated[int, integer(0, 10000)]
    green: Annotated[int, integer(0, 10000)]


class Capacity(Payload):
    beds: Beds
    diversion: Annotated[bool, boolean]
    note: Annotated[str | None, text(500)] = None


class PrearrivalAck(Payload):
    notice: Annotated[int, integer(1, 2**63 - 1)]
    state: Annotated[str, one_of("received", "acknowledged")]


class Atmist(Payload):
    """The ATMIST handover mnemonic: Age, Time of injury, Mechanism, Injuries, Signs,
    Treatment."""

    age: Annotated[str, text(100)]
    time: Annotated[str, text(100)]
    mechanism: Annotated[str, text(500)]
    injuries: Annotated[str, text(1000)]
    signs: Annotated[str, text(1000)]
    treatment: Annotated[str, text(1000)]


class HandoverGive(Payload):
    atmist: Atmist
    notes: Annotated[str | None, text(2000)] = None


class HandoverAccept(Payload):
    casualty: Annotated[str, uuid_text]
